//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package lock

// The local backend's file primitives on Unix (Linux and macOS are the
// platforms lockstep supports; the BSDs share the calls): flock(2) on whole
// files, FIFOs as doorbells. Raw descriptors keep an acquire to the system
// calls it needs (os.OpenFile adds poller registration on Linux).

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// osFile is an open file of the local backend.
type osFile int

const noFile osFile = -1

// fileID identifies a file: device and inode.
type fileID struct{ dev, ino uint64 }

func openFile(path string, flags int) (osFile, error) {
	for {
		fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0o600)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return noFile, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return osFile(fd), nil
	}
}

// createFile creates path, failing if it exists, for reading and writing.
func createFile(path string) (osFile, error) {
	return openFile(path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL)
}

// openCounter opens (creating) a counter file for reading and writing.
func openCounter(path string) (osFile, error) { return openFile(path, unix.O_RDWR|unix.O_CREAT) }

// openLocked opens an existing file to wait for or probe its lock.
func openLocked(path string) (osFile, error) { return openFile(path, unix.O_RDONLY) }

// openRead opens an existing file to read it.
func openRead(path string) (osFile, error) { return openFile(path, unix.O_RDONLY) }

func (f osFile) close() { unix.Close(int(f)) }

func flock(f osFile, how int) error {
	for {
		err := unix.Flock(int(f), how)
		if err != unix.EINTR {
			return err
		}
	}
}

// lockExclusive takes f's exclusive lock, waiting for it.
func (f osFile) lockExclusive() error { return flock(f, unix.LOCK_EX) }

// tryShared takes f's shared lock if nobody holds it exclusively.
func (f osFile) tryShared() (bool, error) {
	err := flock(f, unix.LOCK_SH|unix.LOCK_NB)
	if err == unix.EWOULDBLOCK {
		return false, nil
	}
	return err == nil, err
}

// tryExclusive takes f's exclusive lock if nobody holds a lock on it.
func (f osFile) tryExclusive() (bool, error) {
	err := flock(f, unix.LOCK_EX|unix.LOCK_NB)
	if err == unix.EWOULDBLOCK {
		return false, nil
	}
	return err == nil, err
}

// waitShared blocks in the kernel until f's shared lock is granted, which
// is when its owner has released it or died. flock(2) cannot be interrupted
// (Go restarts it after signals), so cancel is not watched here: a caller
// that gives up abandons the call, which ends when the owner goes.
func (f osFile) waitShared(cancel <-chan struct{}) error { return flock(f, unix.LOCK_SH) }

func (f osFile) readAt(b []byte, off int64) (int, error) {
	n, err := unix.Pread(int(f), b, off)
	return max(n, 0), err
}

func (f osFile) writeAt(b []byte, off int64) error {
	n, err := unix.Pwrite(int(f), b, off)
	if err == nil && n != len(b) {
		err = errors.New("short write")
	}
	return err
}

func (f osFile) id() (fileID, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f), &st); err != nil {
		return fileID{}, err
	}
	return fileID{uint64(st.Dev), uint64(st.Ino)}, nil
}

// pathID identifies the file at path, following no final symlink.
func pathID(path string) (fileID, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return fileID{}, err
	}
	return fileID{uint64(st.Dev), uint64(st.Ino)}, nil
}

// removeFile unlinks path.
func removeFile(path string) error { return unix.Unlink(path) }

// retireFile removes path, a file this process holds open and locked.
func retireFile(path string) error { return unix.Unlink(path) }

// readNames lists the names in dir.
func readNames(dir string) ([]string, error) {
	fd, err := openFile(dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	d := os.NewFile(uintptr(fd), dir)
	defer d.Close()
	return d.Readdirnames(-1)
}

// checkOwner refuses a directory that another user owns or others may write.
func checkOwner(fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("owned by uid %d, not by this user", st.Uid)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("mode %s lets others write", fi.Mode().Perm())
	}
	return nil
}

// heldDirs are the directories holdDir holds, by identity (fileID).
var heldDirs sync.Map

// holdDir takes a shared flock on dir for the life of the process:
// systemd-tmpfiles skips a directory somebody holds a BSD lock on, so a
// lock directory under /tmp is not aged away while lockstep uses it. One
// descriptor per directory and process, however many Locals use it or
// however its path is spelled; a directory removed and made again is a new
// one, and is held again.
func holdDir(dir string) {
	fd, err := openFile(dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return
	}
	id, err := fd.id()
	if err != nil {
		fd.close()
		return
	}
	if _, held := heldDirs.Load(id); held {
		fd.close()
		return
	}
	if flock(fd, unix.LOCK_SH|unix.LOCK_NB) != nil {
		fd.close()
		return
	}
	if _, held := heldDirs.LoadOrStore(id, true); held {
		fd.close() // another Local took it meanwhile
	}
}

// stateDir is where the per-user default lock directory lives: not a
// temporary directory, so that no tmp cleaner or logout removes it.
func stateDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) && isDir(d) {
		return filepath.Join(d, "lockstep")
	}
	home := os.Getenv("HOME")
	if home == "" || home == "/" || !filepath.IsAbs(home) || !isDir(home) {
		return ""
	}
	if isDarwin {
		return filepath.Join(home, "Library", "Application Support", "lockstep")
	}
	return filepath.Join(home, ".local", "state", "lockstep")
}

// tempLockDir is the fallback default: per user in the temp directory.
func tempLockDir() string {
	return filepath.Join(os.TempDir(), "lockstep-"+strconv.Itoa(os.Getuid()))
}

// doorbell is a waiter's FIFO: a newer arrival writes a byte to wake it.
type doorbell struct {
	path     string
	f        *os.File
	blocking bool // read in a blocking read (macOS), not through the poller
	rang     chan struct{}
	closing  atomic.Bool
	read     chan struct{} // closed when the listener's read returned
}

const isDarwin = runtime.GOOS == "darwin"

// bellsReachEveryone: every process that can write the lock directory can
// ring a doorbell (a FIFO in it).
const bellsReachEveryone = true

// blockingBells makes doorbells wait in a blocking read, as on macOS
// (tests run Linux that way; see newDoorbell).
var blockingBells = false

// newDoorbell makes the FIFO at path and starts listening on it: through
// the Go poller, so that no thread waits, except on macOS, where Go keeps
// FIFOs out of kqueue and a non-blocking read fails at once with EAGAIN (it
// was taken for silence: newest-wins waiters on macOS were never superseded,
// and the oldest got the lock); there it waits in a blocking read, which
// close ends by ringing the bell itself. Opened for reading and writing, the
// FIFO never reads end-of-file while open, and the open never blocks.
func newDoorbell(path string) (*doorbell, error) {
	if err := unix.Mkfifo(path, 0o600); err != nil {
		return nil, &fs.PathError{Op: "mkfifo", Path: path, Err: err}
	}
	blocking := isDarwin || blockingBells
	flags := os.O_RDWR | syscall.O_NONBLOCK
	if blocking {
		// Not O_NONBLOCK: os keeps a descriptor in the mode it was opened
		// in unless it made it non-blocking itself (for its poller, as on
		// Linux), and only then does Fd put it back in blocking mode.
		flags = os.O_RDWR
	}
	f, err := os.OpenFile(path, flags, 0)
	if err != nil {
		removeFile(path)
		return nil, err
	}
	if blocking {
		f.Fd() // leaves the poller where os put it there (Linux, under blockingBells)
	}
	b := &doorbell{path: path, f: f, blocking: blocking, rang: make(chan struct{}), read: make(chan struct{})}
	go func() {
		defer close(b.read)
		var buf [1]byte
		if n, _ := f.Read(buf[:]); n == 1 && !b.closing.Load() {
			close(b.rang)
		}
	}()
	return b, nil
}

// close stops listening and removes the FIFO. A read through the poller
// ends with Close; a blocking one does not, and is ended by a byte written
// through the descriptor the doorbell holds (the path may be gone: a lock
// directory removed under it), in non-blocking mode so that a full FIFO
// cannot hold close up.
func (b *doorbell) close() {
	b.closing.Store(true)
	if b.blocking {
		fd := int(b.f.Fd())
		unix.SetNonblock(fd, true)
		unix.Write(fd, []byte{1})
	}
	b.f.Close()
	removeFile(b.path)
}

// ring wakes the waiter listening at path, if any; it never blocks.
func ring(path string) {
	fd, err := openFile(path, unix.O_WRONLY|unix.O_NONBLOCK)
	if err != nil {
		return
	}
	unix.Write(int(fd), []byte{1})
	fd.close()
}
