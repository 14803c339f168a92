//go:build windows

package lock

// The local backend's file primitives on Windows: LockFileEx/UnlockFileEx
// byte-range locks on one byte far past the end of each file (so that the
// lock never hides the file's contents from readers), overlapped waits that
// CancelIoEx interrupts, the volume serial number and file index as a file's
// identity, and named events as doorbells.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/windows"
)

// osFile is an open file of the local backend.
type osFile windows.Handle

const noFile = osFile(windows.InvalidHandle)

// fileID identifies a file: volume serial number and file index.
type fileID struct{ dev, ino uint64 }

// The locked byte: far beyond any content.
const lockOffLow, lockOffHigh = 0xFFFFFFFE, 0x7FFFFFFF

const shareAll = windows.FILE_SHARE_READ | windows.FILE_SHARE_WRITE | windows.FILE_SHARE_DELETE

func openFile(path string, access, disposition, flags uint32) (osFile, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return noFile, err
	}
	h, err := windows.CreateFile(p, access, shareAll, nil, disposition, windows.FILE_ATTRIBUTE_NORMAL|flags, 0)
	if errors.Is(err, windows.ERROR_ACCESS_DENIED) && disposition == windows.OPEN_EXISTING {
		// A file deleted while others still had it open lingers, and
		// refuses to open, until they close it: it is gone for the queue.
		err = windows.ERROR_FILE_NOT_FOUND
	}
	if err != nil {
		return noFile, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return osFile(h), nil
}

// createFile creates path, failing if it exists, for reading and writing.
func createFile(path string) (osFile, error) {
	return openFile(path, windows.GENERIC_READ|windows.GENERIC_WRITE, windows.CREATE_NEW, 0)
}

// openCounter opens (creating) a counter file for reading and writing.
func openCounter(path string) (osFile, error) {
	return openFile(path, windows.GENERIC_READ|windows.GENERIC_WRITE, windows.OPEN_ALWAYS, 0)
}

// openLocked opens an existing file to wait for or probe its lock; the
// handle is overlapped so that a wait can be cancelled.
func openLocked(path string) (osFile, error) {
	return openFile(path, windows.GENERIC_READ, windows.OPEN_EXISTING, windows.FILE_FLAG_OVERLAPPED)
}

// openRead opens an existing file to read it.
func openRead(path string) (osFile, error) {
	return openFile(path, windows.GENERIC_READ, windows.OPEN_EXISTING, 0)
}

func (f osFile) close() { windows.CloseHandle(windows.Handle(f)) }

func (f osFile) lock(flags uint32) error {
	ov := windows.Overlapped{Offset: lockOffLow, OffsetHigh: lockOffHigh}
	return windows.LockFileEx(windows.Handle(f), flags, 0, 1, 0, &ov)
}

// lockExclusive takes f's exclusive lock, waiting for it.
func (f osFile) lockExclusive() error { return f.lock(windows.LOCKFILE_EXCLUSIVE_LOCK) }

// tryShared takes f's shared lock if nobody holds it exclusively.
func (f osFile) tryShared() (bool, error) {
	err := f.lock(windows.LOCKFILE_FAIL_IMMEDIATELY)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) || errors.Is(err, windows.ERROR_IO_PENDING) {
		return false, nil
	}
	return err == nil, err
}

// tryExclusive takes f's exclusive lock if nobody holds a lock on it.
func (f osFile) tryExclusive() (bool, error) {
	err := f.lock(windows.LOCKFILE_EXCLUSIVE_LOCK | windows.LOCKFILE_FAIL_IMMEDIATELY)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) || errors.Is(err, windows.ERROR_IO_PENDING) {
		return false, nil
	}
	return err == nil, err
}

// waitShared waits until f's shared lock is granted (its owner released it
// or died) or cancel is closed (the pending lock request is cancelled).
// f must have been opened by openLocked.
func (f osFile) waitShared(cancel <-chan struct{}) error {
	ev, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		return err
	}
	defer windows.CloseHandle(ev)
	ov := windows.Overlapped{Offset: lockOffLow, OffsetHigh: lockOffHigh, HEvent: ev}
	err = windows.LockFileEx(windows.Handle(f), 0, 0, 1, 0, &ov)
	if err == nil || !errors.Is(err, windows.ERROR_IO_PENDING) {
		return err
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-cancel:
			windows.CancelIoEx(windows.Handle(f), &ov)
		case <-done:
		}
	}()
	var n uint32
	return windows.GetOverlappedResult(windows.Handle(f), &ov, &n, true)
}

// readAt reads at off, on a synchronous or an overlapped handle.
func (f osFile) readAt(b []byte, off int64) (int, error) {
	var n uint32
	ov := windows.Overlapped{Offset: uint32(off), OffsetHigh: uint32(off >> 32)}
	err := windows.ReadFile(windows.Handle(f), b, &n, &ov)
	if errors.Is(err, windows.ERROR_IO_PENDING) {
		err = windows.GetOverlappedResult(windows.Handle(f), &ov, &n, true)
	}
	if errors.Is(err, windows.ERROR_HANDLE_EOF) {
		err = nil
	}
	return int(n), err
}

// writeAt writes at off, on a synchronous or an overlapped handle.
func (f osFile) writeAt(b []byte, off int64) error {
	var n uint32
	ov := windows.Overlapped{Offset: uint32(off), OffsetHigh: uint32(off >> 32)}
	err := windows.WriteFile(windows.Handle(f), b, &n, &ov)
	if errors.Is(err, windows.ERROR_IO_PENDING) {
		err = windows.GetOverlappedResult(windows.Handle(f), &ov, &n, true)
	}
	if err == nil && int(n) != len(b) {
		err = errors.New("short write")
	}
	return err
}

func (f osFile) id() (fileID, error) {
	var fi windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(windows.Handle(f), &fi); err != nil {
		return fileID{}, err
	}
	return fileID{uint64(fi.VolumeSerialNumber), uint64(fi.FileIndexHigh)<<32 | uint64(fi.FileIndexLow)}, nil
}

// pathID identifies the file at path, following no final reparse point.
func pathID(path string) (fileID, error) {
	f, err := openFile(path, 0, windows.OPEN_EXISTING, windows.FILE_FLAG_BACKUP_SEMANTICS|windows.FILE_FLAG_OPEN_REPARSE_POINT)
	if err != nil {
		return fileID{}, err
	}
	defer f.close()
	return f.id()
}

// removeFile deletes path. Every handle shares deletion, so the file goes
// even while others have it open (its name may linger until they close it;
// the queue treats such a file as gone once its lock is free).
func removeFile(path string) error {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return err
	}
	return windows.DeleteFile(p)
}

// retireFile removes path, a file this process holds open and locked. It
// is renamed first: a deleted file's name lingers until every handle on it
// closes (an acquirer may have opened it and wait for its lock), and no
// new file could be created under that name meanwhile.
func retireFile(path string) error {
	gone := path + retiredSuffix + NewToken()[:8]
	if err := os.Rename(path, gone); err != nil {
		return err
	}
	return removeFile(gone)
}

// readNames lists the names in dir.
func readNames(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}

// checkOwner accepts any directory: on Windows the per-user default lies in
// %LOCALAPPDATA%, which the user's profile ACL already protects.
func checkOwner(fi fs.FileInfo) error { return nil }

// holdDir does nothing on Windows: no cleaner ages %LOCALAPPDATA%.
func holdDir(dir string) {}

// stateDir is %LOCALAPPDATA%\lockstep: not touched by Storage Sense or Disk
// Cleanup, which clean %LOCALAPPDATA%\Temp, the recycle bin and downloads.
func stateDir() string {
	if d := os.Getenv("LOCALAPPDATA"); filepath.IsAbs(d) && isDir(d) {
		return filepath.Join(d, "lockstep")
	}
	return ""
}

// tempLockDir is the fallback default: the user's temp directory.
func tempLockDir() string { return filepath.Join(os.TempDir(), "lockstep") }

// doorbell is a waiter's named event: a newer arrival sets it to wake it.
type doorbell struct {
	stop windows.Handle // set by close
	rang chan struct{}
}

// bellsReachEveryone is false on Windows: a doorbell is a named event in
// the Local\ namespace, which is per logon session, so a newer arrival in
// another session (a service in session 0, a user's shell) cannot ring it.
// Newest-wins waiters therefore also look at the queue every bellPoll.
const bellsReachEveryone = false

// eventName maps a doorbell path to a per-session event name. The name is
// made of the key directory's identity (volume serial and file index, the
// directory a junction or another spelling of the path leads to) and the
// doorbell's file name, so that every spelling of one lock directory rings
// the same event; the path's hash is the fallback when the directory cannot
// be opened.
func eventName(path string) (*uint16, error) {
	name := hashName(path)
	if f, err := openFile(filepath.Dir(path), 0, windows.OPEN_EXISTING, windows.FILE_FLAG_BACKUP_SEMANTICS); err == nil {
		id, err := f.id()
		f.close()
		if err == nil {
			name = fmt.Sprintf("%x-%x-%s", id.dev, id.ino, filepath.Base(path))
		}
	}
	return windows.UTF16PtrFromString(`Local\lockstep-` + name)
}

// newDoorbell creates the named event for path and waits on it in a
// goroutine until it is set (rang closes) or the doorbell is closed.
func newDoorbell(path string) (*doorbell, error) {
	name, err := eventName(path)
	if err != nil {
		return nil, err
	}
	ev, err := windows.CreateEvent(nil, 1, 0, name)
	if err != nil {
		return nil, err
	}
	stop, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		windows.CloseHandle(ev)
		return nil, err
	}
	b := &doorbell{stop: stop, rang: make(chan struct{})}
	go func() {
		defer windows.CloseHandle(ev)
		defer windows.CloseHandle(stop)
		if i, err := windows.WaitForMultipleObjects([]windows.Handle{ev, stop}, false, windows.INFINITE); err == nil && i == windows.WAIT_OBJECT_0 {
			close(b.rang)
		}
	}()
	return b, nil
}

// close stops listening; the event goes with its last handle.
func (b *doorbell) close() { windows.SetEvent(b.stop) }

// ring wakes the waiter listening at path, if any.
func ring(path string) {
	name, err := eventName(path)
	if err != nil {
		return
	}
	ev, err := windows.OpenEvent(windows.EVENT_MODIFY_STATE, false, name)
	if err != nil {
		return
	}
	windows.SetEvent(ev)
	windows.CloseHandle(ev)
}
