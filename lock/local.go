package lock

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// LocalOptions tunes NewLocal. Nil options and zero fields mean defaults.
type LocalOptions struct {
	// Logger receives debug messages; default none.
	Logger hclog.Logger
}

// Local is the local backend: a queue of ticket files per key in one
// directory, each ticket locked by its process (flock(2) on Unix, LockFileEx
// on Windows), coordinating the processes of one host. A lease lives as long
// as the process holding it (the OS drops the lock when the process dies),
// so leases have no TTL and Renew only checks; a detached `lock acquire`
// needs a TTL backend. Tokens stay in the holding process (only their
// SHA-256 is written), so Check, Renew and Release by token work within that
// process. Waiters block in the kernel on the ticket ahead of them and are
// served in arrival order; see docs/locks.md for the layout and the order.
type Local struct {
	dir string
	log hclog.Logger

	holdDir sync.Once // see holdDir
	gc      localGC   // collection of idle keys (local_gc.go)

	mu      sync.Mutex
	killed  bool                 // test hook: the "process" died
	tickets map[*ticketFile]bool // every open ticket, for the test hook
	waits   map[string]osFile    // open wait record files, by wait id
}

var _ Locker = (*Local)(nil)

// DefaultLocalDir is the per-user lock directory, chosen so that no cleaner
// removes it while it is used: $XDG_STATE_HOME/lockstep, else
// ~/.local/state/lockstep (Linux and other Unix), ~/Library/Application
// Support/lockstep (macOS), %LOCALAPPDATA%\lockstep (Windows). Without a
// usable home directory it is <os.TempDir()>/lockstep-<uid> (lockstep on
// Windows). docs/locks.md says why.
func DefaultLocalDir() string {
	if d := stateDir(); d != "" {
		return d
	}
	return tempLockDir()
}

// NewLocal opens the lock directory dir, creating it (mode 0700) and its
// subdirectories after checking what exists: dir and its subdirectories
// must be real directories (not symlinks) owned by this user and not
// writable by others, and nothing is created in a directory that fails the
// check. Missing parents of dir are created. Errors wrap ErrUnavailable.
func NewLocal(dir string, opts *LocalOptions) (*Local, error) {
	if opts == nil {
		opts = &LocalOptions{}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("local lock dir %q: %w: %w", dir, ErrUnavailable, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("local lock dir %q: %w: %w", abs, ErrUnavailable, err)
	}
	for _, d := range []string{abs, filepath.Join(abs, "locks"), filepath.Join(abs, "once")} {
		if err := ensureDir(d); err != nil {
			return nil, fmt.Errorf("local lock dir %q: %w: %w", d, ErrUnavailable, err)
		}
	}
	l := &Local{dir: abs, log: opts.Logger, tickets: map[*ticketFile]bool{}, waits: map[string]osFile{}}
	l.gc.keepIdle = localKeepIdle
	if l.log == nil {
		l.log = hclog.NewNullLogger()
	}
	return l, nil
}

// ensureDir checks path and creates it (mode 0700) when it does not exist.
func ensureDir(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(path, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		fi, err = os.Lstat(path)
	}
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return errors.New("is a symbolic link")
	}
	if !fi.IsDir() {
		return errors.New("not a directory")
	}
	return checkOwner(fi)
}

// underTemp says whether dir lies in a temporary directory, which cleaners
// age (holdDir keeps systemd-tmpfiles away from it).
func underTemp(dir string) bool {
	for _, t := range []string{os.TempDir(), "/tmp", "/var/tmp", "/private/tmp"} {
		if t = filepath.Clean(t); dir == t || strings.HasPrefix(dir, t+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// Close does nothing: leases belong to the process, not to the Local value.
func (l *Local) Close() error { return nil }

func hashName(key string) string {
	s := sha256.Sum256([]byte(key))
	return hex.EncodeToString(s[:16])
}

func tokenHash(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}

func (l *Local) lockDir(key string) string { return filepath.Join(l.dir, "locks", hashName(key)) }

// nextFence reads the key's counter under its exclusive lock, runs create
// with the next value while still holding it (so tickets appear in the
// order of their numbers), and stores the value. With a nil create it only
// waits for the lock (every ticket being created is then complete).
func (l *Local) nextFence(key string, create func(seq int64) error) (int64, error) {
	f, err := l.lockCounter(filepath.Join(l.lockDir(key), fenceName))
	if err != nil {
		return 0, err
	}
	defer f.close()
	if create == nil {
		return 0, nil
	}
	var buf [32]byte
	n, _ := f.readAt(buf[:], 0)
	cur, _ := strconv.ParseInt(string(trimSpace(buf[:n])), 10, 64)
	// Never below the clock (see fenceBase): a counter that is lost or
	// collected restarts above every number it gave out.
	next := max(cur+1, fenceBase())
	l.stage("chosen")
	if err := create(next); err != nil {
		return 0, err
	}
	if err := f.writeAt([]byte(strconv.FormatInt(next, 10)+"\n"), 0); err != nil {
		return 0, err
	}
	return next, nil // closing f drops the lock
}

// fenceBase is the floor of every fence: the time in µs, as in the Redis
// scripts, so that fences keep growing when the counter is lost (a
// directory wiped) or collected while the clock moves forward.
func fenceBase() int64 {
	return time.Now().UnixMicro()
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ' || b[len(b)-1] == 0) {
		b = b[:len(b)-1]
	}
	return b
}

func unavailable(op string, err error) error {
	return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
}

// writeFile replaces path atomically with data, mode 0600.
func writeFile(path string, data []byte) error {
	tmp := path + ".tmp" + strconv.Itoa(os.Getpid()) + NewToken()[:8]
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
