package lock

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
)

// LocalOptions tunes NewLocal. Nil options and zero fields mean defaults.
type LocalOptions struct {
	// Logger receives debug messages; default none.
	Logger hclog.Logger
	// PollMax caps the pause between two tries of a waiting Acquire;
	// default 25ms (waits start at 1ms and double).
	PollMax time.Duration
}

// Local is the local backend: lock files in one directory, locked with
// flock(2), coordinating the processes of one host. A lease lives as long as
// the process holding it (the OS drops the flock when the process dies), so
// leases have no TTL and Renew only checks; a detached `lock acquire` needs a
// TTL backend. Tokens stay in the holding process (only their SHA-256 is
// written), so Check, Renew and Release by token work within that process.
// Waiting polls with try-locks (flock is not FIFO): waiters are not served in
// arrival order. See docs/locks.md for the layout.
type Local struct {
	dir     string
	log     hclog.Logger
	pollMax time.Duration
}

var _ Locker = (*Local)(nil)

// heldSlot is an open, flocked slot file of this process.
type heldSlot struct {
	f     *os.File
	slot  int
	lease Lease
}

// held is every slot this process holds, by dir, key and token, shared by
// all Local values of the process.
var held = struct {
	sync.Mutex
	m map[string]*heldSlot
}{m: map[string]*heldSlot{}}

// DefaultLocalDir is the per-user lock directory:
// $XDG_RUNTIME_DIR/lockstep, else <os.TempDir()>/lockstep-<uid>.
func DefaultLocalDir() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "lockstep")
	}
	return filepath.Join(os.TempDir(), "lockstep-"+strconv.Itoa(os.Getuid()))
}

// NewLocal opens (creating with mode 0700) the lock directory dir. When the
// directory exists it must be a directory owned by this user and not
// writable by others. Errors wrap ErrUnavailable.
func NewLocal(dir string, opts *LocalOptions) (*Local, error) {
	if opts == nil {
		opts = &LocalOptions{}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("local lock dir %q: %w: %w", dir, ErrUnavailable, err)
	}
	for _, d := range []string{abs, filepath.Join(abs, "locks"), filepath.Join(abs, "once")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("local lock dir: %w: %w", ErrUnavailable, err)
		}
	}
	if err := checkDir(abs); err != nil {
		return nil, fmt.Errorf("local lock dir %q: %w: %w", abs, ErrUnavailable, err)
	}
	l := &Local{dir: abs, log: opts.Logger, pollMax: opts.PollMax}
	if l.log == nil {
		l.log = hclog.NewNullLogger()
	}
	if l.pollMax <= 0 {
		l.pollMax = 25 * time.Millisecond
	}
	return l, nil
}

func checkDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return errors.New("not a directory")
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("owned by uid %d, not by this user", st.Uid)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("mode %s lets others write", fi.Mode().Perm())
	}
	return nil
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

func (l *Local) slotPath(key string, i int) string {
	return filepath.Join(l.lockDir(key), "slot."+strconv.Itoa(i))
}

func (l *Local) heldID(key, token string) string { return l.dir + "\x00" + key + "\x00" + token }

// localMeta is the holder file beside a slot: the holder, and the SHA-256 of
// the token (a revoked or replaced holder no longer matches).
type localMeta struct {
	Holder
	Key       string `json:"key"`
	Limit     int    `json:"limit"`
	TokenHash string `json:"token_sha256"`
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

// flockNB try-locks f; ok is false when another open file holds the lock.
func flockNB(f *os.File, how int) (bool, error) {
	err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}

// nextFence increments the key's counter file under an exclusive flock.
func (l *Local) nextFence(key string) (int64, error) {
	f, err := os.OpenFile(filepath.Join(l.lockDir(key), "fence"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return 0, err
	}
	var buf [32]byte
	n, _ := f.ReadAt(buf[:], 0)
	cur, _ := strconv.ParseInt(string(trimSpace(buf[:n])), 10, 64)
	next := cur + 1
	if cur == 0 { // a new counter, or one lost with the directory: see fenceBase
		next = fenceBase()
	}
	if _, err := f.WriteAt([]byte(strconv.FormatInt(next, 10)+"\n"), 0); err != nil {
		return 0, err
	}
	return next, nil // closing f drops the flock
}

// fenceBase is where a new fencing counter starts: the time in ms x 1000, as
// the Redis scripts do, so that fences keep growing when the counter is lost
// (a tmpfs directory wiped at reboot) while the clock moves forward.
func fenceBase() int64 {
	return time.Now().UnixMilli() * 1000
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
