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

	// ErrSuperseded means a waiting request of a Newest queue was replaced
	// by a newer arrival before it got the lock. The error is a
	// *SupersededError naming the newer waiter.
	ErrSuperseded = errors.New("superseded by a newer waiter")

	// ErrDeadlock means the request's run and other runs wait for each
	// other in a cycle, and this request was chosen to give up so that the
	// others can go on. The error is a *DeadlockError naming the cycle. It
	// is not ErrBusy: the lock was not merely held, and nothing retried
	// later would get it while the run keeps what it holds.
	ErrDeadlock = errors.New("deadlock between runs")
)

// Mode is how a lease shares its lock.
type Mode string

// Modes. The zero value means Exclusive.
const (
	// Exclusive admits one holder (Limit holders of a semaphore).
	Exclusive Mode = "exclusive"
	// Shared admits any number of shared holders together and no exclusive
	// one. An exclusive request waits for the shared holders; once it is
	// queued, later shared arrivals queue behind it, so neither side starves.
	Shared Mode = "shared"
)

// Policy is how a lock's waiting line is served.
type Policy string

// Queue policies. The zero value means FIFO.
const (
	// FIFO serves waiters in arrival order.
	FIFO Policy = "fifo"
	// Newest lets a new arrival that must wait replace every older
	// newest-wins waiter of the key: they end with a *SupersededError.
	// Waiters that queued FIFO keep their place. With one policy per key,
	// only the newest waiter is ever served after the current holders.
	Newest Policy = "newest"
)

// SupersededError is returned (wrapping ErrSuperseded) to a waiter of a
// Newest queue that a newer arrival replaced.
type SupersededError struct {
	Key string
	By  Holder // the newer waiter that replaced this one (Since is when it arrived)
}

func (e *SupersededError) Error() string {
	return fmt.Sprintf("lock %q: %v", e.Key, ErrSuperseded)
}

func (e *SupersededError) Unwrap() error { return ErrSuperseded }

// BusyError is returned (wrapping ErrBusy) when a lock could not be acquired.
type BusyError struct {
	Key     string
	Holders []Holder      // who held the lock when we gave up; may be empty if it changed hands
	Waited  time.Duration // how long the request waited
	Timeout bool          // true when a wait ran out, false when the request did not wait
	// QueueFull is true when the request was turned away at once because
	// the queue already held Request.MaxWaiters waiters.
	QueueFull bool
	Waiters   int // waiters queued when the request gave up (0 if unknown)
}

func (e *BusyError) Error() string {
	if e.QueueFull {
		return fmt.Sprintf("lock %q: queue full (%d waiting): %v", e.Key, e.Waiters, ErrBusy)
	}
	if e.Timeout {
		return fmt.Sprintf("lock %q: timed out after %s: %v", e.Key, e.Waited.Round(time.Millisecond), ErrBusy)
	}
	return fmt.Sprintf("lock %q: %v", e.Key, ErrBusy)
}

func (e *BusyError) Unwrap() error { return ErrBusy }

// DeadlockEdge is one run of a wait-for cycle: it holds Holds, which the
// run before it in the cycle waits for, and waits for WaitsFor, which the
// run after it holds.
type DeadlockEdge struct {
	RunID    string `json:"run_id"`
	Step     string `json:"step,omitempty"` // the waiting step, when recorded
	Holds    string `json:"holds"`
	WaitsFor string `json:"waits_for"`
}

// DeadlockError is returned (wrapping ErrDeadlock) to the one waiter of a
// wait-for cycle across runs that gives up (see Request.Holds). Cycle
// starts with the run of the request that returned it.
type DeadlockError struct {
	Key   string // the key the request waited for
	Cycle []DeadlockEdge
}

func (e *DeadlockError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "lock %q: %v: ", e.Key, ErrDeadlock)
	for i, c := range e.Cycle {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString("run " + c.RunID)
		if c.Step != "" {
			b.WriteString(" (" + c.Step + ")")
		}
		fmt.Fprintf(&b, " holds %q and waits for %q", c.Holds, c.WaitsFor)
	}
	return b.String()
}

func (e *DeadlockError) Unwrap() error { return ErrDeadlock }

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
	Mode     Mode          `json:"mode,omitempty"`     // "" or Exclusive, or Shared
}

// Waiter is a request waiting in a lock's queue, as listed.
type Waiter struct {
	Holder          // who waits (Since is when it queued; TTL and Fence are zero)
	Position int    `json:"position"` // 1 = next in line
	Queue    Policy `json:"queue,omitempty"`
}

// QueueStatus is a waiting request's place in its lock's queue.
type QueueStatus struct {
	Position int      // 1 = next in line
	Length   int      // waiters queued, this one included
	Holders  []Holder // current holders, when known (may be nil)
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
	// Mode is Exclusive ("" means Exclusive) or Shared. Shared requires
	// Limit 1: semaphores are exclusive-only.
	Mode Mode
	// Queue is the waiting line's policy: FIFO ("" means FIFO) or Newest.
	Queue Policy
	// MaxWaiters, when above 0, turns the request away at once (a
	// *BusyError with QueueFull) when it would have to wait behind
	// MaxWaiters waiters already queued.
	MaxWaiters int
	// OnWait, if not nil, is called when the request starts waiting and
	// again whenever it wakes to find the lock still busy.
	OnWait func(holders []Holder)
	// OnQueue, if not nil, is called with the request's place in line
	// when it queues and whenever that place is learnt to have changed.
	// Backends keep this cheap: an idle queue costs nothing to watch.
	OnQueue func(QueueStatus)
	// Holds lists the keys (user keys, without prefix) that the run of
	// Holder.RunID holds and keeps holding while this request waits. With
	// Holds and a RunID set, a request that waits records so (a wait
	// record any replica can read) and looks for a wait-for cycle across
	// runs: when it starts waiting, after 0.5 s, 1 s and 2 s, then about
	// every 30 s. The youngest wait of a cycle returns a *DeadlockError;
	// the others keep waiting. The record is removed when the wait ends,
	// however it ends. Empty Holds or RunID: no record, no extra command.
	// List only keys the run keeps until this request is granted or gives
	// up (a key another step may release first is not part of a
	// deadlock); a semaphore (Limit > 1) is never followed.
	Holds []string
}

// Lease is a held lock. The holder renews it before TTL runs out and releases
// it when done.
type Lease struct {
	Key   string
	Token string // secret: never print or log it
	Fence int64  // strictly greater than every earlier fence of Key
	TTL   time.Duration
	Limit int
	Mode  Mode
	// Sent is when the request that created or last confirmed the lease
	// left this process (with a monotonic clock reading). The backend holds
	// the lease at least until Sent+TTL by its own clock, so Keep anchors
	// the lease's local validity there, never at the time a reply or a
	// pushed grant arrived. Zero means unknown (Keep then uses the time it
	// was called).
	Sent time.Time
}

// LockInfo is a lock as listed.
type LockInfo struct {
	Key     string   `json:"key"`
	Limit   int      `json:"limit"`
	Mode    Mode     `json:"mode,omitempty"` // mode of the current holders
	Holders []Holder `json:"holders"`
	Waiters int      `json:"waiters"`
	// Queue lists the waiters in order (Show fills it; List may leave it
	// empty and only count them in Waiters).
	Queue []Waiter `json:"queue,omitempty"`
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

// Leaser takes, checks, renews and releases leases. All methods are safe for
// concurrent use. Every method returns an error wrapping ErrUnavailable when
// the backend cannot be reached, and ctx.Err() when ctx ends first.
type Leaser interface {
	// Acquire takes the lock, waiting as req says. Waiters are served as
	// req.Queue says without polling. On contention it returns a
	// *BusyError; a superseded waiter gets a *SupersededError; the waiter
	// chosen to break a wait-for cycle across runs (req.Holds) gets a
	// *DeadlockError. Cancelling ctx while waiting leaves nothing behind.
	Acquire(ctx context.Context, req Request) (*Lease, error)

	// Check returns nil if token holds key, ErrNotHeld otherwise.
	Check(ctx context.Context, key, token string) error

	Renewer

	// Release gives up the lease and wakes the next waiter. It returns
	// ErrNotHeld, and deletes nothing, when token does not hold key.
	Release(ctx context.Context, key, token string) error
}

// Renewer extends leases; it is all a Keeper needs.
type Renewer interface {
	// Renew extends the lease of token on key to ttl from now. It never
	// re-creates an expired or released lock: it returns ErrNotHeld instead.
	Renew(ctx context.Context, key, token string, ttl time.Duration) error
}

// Inspector shows and overrides locks, for operators.
type Inspector interface {
	// Show returns key's holders and its queue in order (a free lock has
	// neither; Key is set either way).
	Show(ctx context.Context, key string) (LockInfo, error)

	// List returns every held lock whose key starts with prefix, by key.
	List(ctx context.Context, prefix string) ([]LockInfo, error)

	// ForceRelease removes every holder of key and wakes its waiters. It
	// returns ErrNotHeld when the key was not held.
	ForceRelease(ctx context.Context, key string) error
}

// OnceStore keeps done-markers.
type OnceStore interface {
	// MarkOnce writes the done-marker rec.Key, kept for ttl (0: forever).
	MarkOnce(ctx context.Context, rec OnceRecord, ttl time.Duration) error

	// Once returns the done-marker for key, or nil and no error when unset.
	Once(ctx context.Context, key string) (*OnceRecord, error)

	// ListOnce returns every done-marker whose key starts with prefix, by key.
	ListOnce(ctx context.Context, prefix string) ([]OnceRecord, error)

	// ForgetOnce deletes the done-marker for key. It returns ErrNotHeld when
	// there was none.
	ForgetOnce(ctx context.Context, key string) error
}

// Locker is a whole lock backend: leases, inspection and once markers.
type Locker interface {
	Leaser
	Inspector
	OnceStore

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
	switch r.Mode {
	case "":
		r.Mode = Exclusive
	case Exclusive:
	case Shared:
		if r.Limit != 1 {
			return fmt.Errorf("lock limit %d with shared mode: semaphores are exclusive", r.Limit)
		}
	default:
		return fmt.Errorf("lock mode %q: want exclusive or shared", r.Mode)
	}
	switch r.Queue {
	case "":
		r.Queue = FIFO
	case FIFO, Newest:
	default:
		return fmt.Errorf("lock queue %q: want fifo or newest", r.Queue)
	}
	if r.MaxWaiters < 0 {
		return fmt.Errorf("lock max_waiters %d is negative", r.MaxWaiters)
	}
	if r.Token == "" {
		r.Token = NewToken()
	}
	return nil
}

// HoldersOf returns key's current holders through in.Show.
func HoldersOf(ctx context.Context, in Inspector, key string) ([]Holder, error) {
	li, err := in.Show(ctx, key)
	return li.Holders, err
}
