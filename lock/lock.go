package lock

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors. Backends wrap them with context; match with errors.Is.
var (
	// ErrBusy means the lock could not be acquired: it is held (every slot of
	// a semaphore is taken) and the request did not wait, or its wait ran out.
	// The error is a *BusyError carrying the current holders.
	ErrBusy = errors.New("lock is busy")

	// ErrNotHeld means the token does not hold the key: it expired, was
	// released, was force-released or was taken by another holder. A renewal
	// that returns ErrNotHeld means the lease is lost.
	ErrNotHeld = errors.New("lock is not held by this token")

	// ErrUnavailable means the backend could not be reached or refused us
	// (connection, authentication, ACL, TLS). It is never returned for
	// contention.
	ErrUnavailable = errors.New("lock backend unavailable")
)

// BusyError is returned (wrapping ErrBusy) when a lock could not be acquired.
type BusyError struct {
	Key     string
	Holders []Holder      // who held the lock when we gave up; may be empty if it changed hands
	Waited  time.Duration // how long the request waited
	Timeout bool          // true when a wait ran out, false when the request did not wait
}

func (e *BusyError) Error() string {
	if e.Timeout {
		return fmt.Sprintf("lock %q: timed out after %s: %v", e.Key, e.Waited.Round(time.Millisecond), ErrBusy)
	}
	return fmt.Sprintf("lock %q: %v", e.Key, ErrBusy)
}

func (e *BusyError) Unwrap() error { return ErrBusy }

// WaitForever as Request.Wait waits without limit (until the context ends).
const WaitForever time.Duration = -1

// DefaultTTL is the lease length used when a Request has no TTL.
const DefaultTTL = 30 * time.Second

// Holder describes who holds a lock. It never carries the token.
type Holder struct {
	Owner    string        `json:"owner,omitempty"`    // user@host
	PID      int           `json:"pid,omitempty"`      // process id on Owner's host
	RunID    string        `json:"run_id,omitempty"`   // the lockstep run
	Step     string        `json:"step,omitempty"`     // step address, e.g. step.migrate
	Workflow string        `json:"workflow,omitempty"` // workflow path or name
	Info     string        `json:"info,omitempty"`     // LOCKSTEP_HOLDER_INFO, e.g. a CI job URL
	Since    time.Time     `json:"since"`              // when the lock was acquired (backend clock)
	TTL      time.Duration `json:"ttl"`                // lease time left when read; 0 if the backend has none
	Fence    int64         `json:"fence"`              // fencing token of this acquisition
}

// Request asks for a lock.
type Request struct {
	Key   string        // user key, without prefix; any text
	TTL   time.Duration // lease length; 0 means DefaultTTL
	Limit int           // holders allowed at once; 0 means 1
	// Wait is how long to wait for a busy lock: 0 tries once, WaitForever
	// waits until ctx ends.
	Wait time.Duration
	// Token makes the request idempotent: an acquire retried with the token of
	// a lease it already holds returns that lease. Empty means NewToken().
	Token string
	// Holder is the metadata stored with the lock (Since, TTL and Fence are
	// set by the backend).
	Holder Holder
	// OnWait, if not nil, is called when the request starts waiting and
	// again whenever it wakes to find the lock still busy.
	OnWait func(holders []Holder)
}

// Lease is a held lock. The holder renews it before TTL runs out and releases
// it when done.
type Lease struct {
	Key   string
	Token string // secret: never print or log it
	Fence int64  // strictly greater than every earlier fence of Key
	TTL   time.Duration
	Limit int
}

// LockInfo is a lock as listed.
type LockInfo struct {
	Key     string   `json:"key"`
	Limit   int      `json:"limit"`
	Holders []Holder `json:"holders"`
	Waiters int      `json:"waiters"`
}

// OnceRecord is a done-marker written after a step succeeded.
type OnceRecord struct {
	Key      string        `json:"key"`
	Owner    string        `json:"owner,omitempty"`
	PID      int           `json:"pid,omitempty"`
	RunID    string        `json:"run_id,omitempty"`
	Step     string        `json:"step,omitempty"`
	Workflow string        `json:"workflow,omitempty"`
	Info     string        `json:"info,omitempty"`
	At       time.Time     `json:"at"`  // when it was written (set by the backend)
	TTL      time.Duration `json:"ttl"` // time left when read; 0 means kept forever
}

// Locker is a lock backend. All methods are safe for concurrent use. Every
// method returns an error wrapping ErrUnavailable when the backend cannot be
// reached, and ctx.Err() when ctx ends first.
type Locker interface {
	// Acquire takes the lock, waiting as req says. Waiters are served in
	// arrival order without polling. On contention it returns a *BusyError.
	// Cancelling ctx while waiting leaves nothing behind.
	Acquire(ctx context.Context, req Request) (*Lease, error)

	// Check returns nil if token holds key, ErrNotHeld otherwise.
	Check(ctx context.Context, key, token string) error

	// Renew extends the lease of token on key to ttl from now. It never
	// re-creates an expired or released lock: it returns ErrNotHeld instead.
	Renew(ctx context.Context, key, token string, ttl time.Duration) error

	// Release gives up the lease and wakes the next waiter. It returns
	// ErrNotHeld, and deletes nothing, when token does not hold key.
	Release(ctx context.Context, key, token string) error

	// Holders returns the current holders of key (empty when it is free).
	Holders(ctx context.Context, key string) ([]Holder, error)

	// List returns every held lock whose key starts with prefix, by key.
	List(ctx context.Context, prefix string) ([]LockInfo, error)

	// ForceRelease removes every holder of key and wakes its waiters. It
	// returns ErrNotHeld when the key was not held.
	ForceRelease(ctx context.Context, key string) error

	// MarkOnce writes the done-marker rec.Key, kept for ttl (0: forever).
	MarkOnce(ctx context.Context, rec OnceRecord, ttl time.Duration) error

	// Once returns the done-marker for key, or nil and no error when unset.
	Once(ctx context.Context, key string) (*OnceRecord, error)

	// ListOnce returns every done-marker whose key starts with prefix, by key.
	ListOnce(ctx context.Context, prefix string) ([]OnceRecord, error)

	// ForgetOnce deletes the done-marker for key. It returns ErrNotHeld when
	// there was none.
	ForgetOnce(ctx context.Context, key string) error

	// Close releases the backend's resources (not the locks).
	Close() error
}

// NewToken returns a random 128-bit token from crypto/rand, hex encoded.
func NewToken() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never happens on Linux
	}
	return hex.EncodeToString(b[:])
}

// Normalize fills a request's defaults and reports invalid values.
func (r *Request) Normalize() error {
	if r.Key == "" {
		return errors.New("lock key is empty")
	}
	if strings.ContainsRune(r.Key, 0) {
		return errors.New("lock key contains a NUL byte")
	}
	if r.TTL == 0 {
		r.TTL = DefaultTTL
	}
	if r.TTL < time.Millisecond {
		return fmt.Errorf("lock ttl %s is too short", r.TTL)
	}
	if r.Limit == 0 {
		r.Limit = 1
	}
	if r.Limit < 0 {
		return fmt.Errorf("lock limit %d is below 1", r.Limit)
	}
	if r.Wait < 0 && r.Wait != WaitForever {
		return fmt.Errorf("lock wait %s is negative", r.Wait)
	}
	if r.Token == "" {
		r.Token = NewToken()
	}
	return nil
}
