package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/runner"
)

func lockAcquireCommand() *command {
	return &command{
		name:     "lock acquire",
		signals:  true,
		synopsis: "Take KEY and print its token (Redis backends only)",
		usage:    "lock acquire [-ttl D] [-timeout D] [-backend URL] [-config PATH] KEY",
		help: `Takes KEY and prints its token on stdout (the only command that prints a token).
The lease lasts -ttl; keep it with 'lock renew' and give it up with 'lock release'.
Needs a Redis backend: a local-backend lock lives only as long as its process.`,
		args: argLockKey,
		setup: func(fs *flag.FlagSet) runFunc {
			var bf backendFlags
			bf.register(fs)
			ttl := fs.Duration("ttl", lock.DefaultTTL, "lease `duration`")
			var timeout waitFlag
			fs.Var(&timeout, "timeout", "how long to wait for a busy lock (`duration`; default: no limit; 0s: try once)")
			return func(e *env, args []string) error {
				if err := positional(args, 1, 1, "one KEY"); err != nil {
					return err
				}
				return withLocker(e, &bf, func(ctx context.Context, l lock.Locker) error {
					return lockAcquire(e, l, bf.local, lock.Request{Key: args[0], TTL: *ttl, Wait: timeout.wait()})
				})
			}
		},
	}
}

func lockAcquire(e *env, l lock.Locker, local bool, req lock.Request) error {
	if local {
		return usagef("the local backend keeps a lock only while its process lives, so a lock acquired by this command would end when it exits; use exec, or a Redis backend (-backend redis://…)")
	}
	req.Holder = processHolder(e.getenv)
	req.Holder.RunID, req.Holder.Step = newRunID(), "lock acquire"
	wr := newWaitReporter(e, req.Key)
	req.OnWait, req.OnQueue = wr.onWait, wr.onQueue
	lease, err := l.Acquire(e.ctx, req)
	wr.close()
	if err != nil {
		return busyInfo(e.stderr, req.Key, err)
	}
	fmt.Fprintln(e.stdout, lease.Token)
	fmt.Fprintf(e.stderr, "Acquired %q (fencing token %d, ttl %s).\n", lease.Key, lease.Fence, lease.TTL)
	return nil
}

// waitReporter shows a waiting request on stderr: the lock-info block when
// the wait starts and again whenever the holders change, and a waiting line
// with the time waited and the place in line — redrawn in place on a
// terminal, printed again every few seconds in a log (humanUI). Nothing runs
// until the request first waits. Its methods are safe for concurrent use.
type waitReporter struct {
	e      *env
	key    string
	mu     sync.Mutex
	ui     *humanUI // started at the first wait
	start  time.Time
	last   string // identity of the holders last shown
	ev     runner.Event
	closed bool
}

func newWaitReporter(e *env, key string) *waitReporter {
	return &waitReporter{e: e, key: key, last: "\x00"}
}

// onWait is lock.Request.OnWait.
func (r *waitReporter) onWait(holders []lock.Holder) {
	r.onEvent(runner.Event{Type: runner.EventLockWait, Holders: holders})
}

// onQueue is lock.Request.OnQueue.
func (r *waitReporter) onQueue(q lock.QueueStatus) {
	r.onEvent(runner.Event{Type: runner.EventLockWait, Position: q.Position, Length: q.Length, Holders: q.Holders})
}

// onEvent shows a lock_wait: the lock-info block when the holders changed
// (nil holders: not known in this report), and the waiting line with the
// place in line when known.
func (r *waitReporter) onEvent(ev runner.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.begin()
	if ev.Holders != nil {
		r.showHolders(ev.Holders)
		r.ev.Holders = ev.Holders
	}
	if ev.Position > 0 {
		r.ev.Position, r.ev.Length = ev.Position, ev.Length
	}
	r.ev.Time = time.Now()
	r.ui.event(r.ev)
}

// showHolders prints the lock-info block when the holders differ from the
// ones shown last. Callers hold mu.
func (r *waitReporter) showHolders(holders []lock.Holder) {
	var id strings.Builder
	for _, h := range holders {
		fmt.Fprintf(&id, "%s/%d/%d;", h.Owner, h.PID, h.Fence)
	}
	if id.String() == r.last {
		return
	}
	r.last = id.String()
	var b strings.Builder
	writeLockInfo(&b, r.key, holders)
	r.ui.message(strings.TrimSuffix(b.String(), "\n"))
}

// begin starts the UI at the first report. Callers hold mu.
func (r *waitReporter) begin() {
	if r.ui == nil {
		r.start = time.Now()
		r.ui = newHumanUI(r.e)
		r.ev = runner.Event{Type: runner.EventLockWait, Lock: r.key, WaitStart: r.start}
	}
}

// close ends the waiting line (the wait is over). It may be called again.
func (r *waitReporter) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ui != nil && !r.closed {
		r.ui.close()
	}
	r.closed = true
}

// waiting reports whether the request waits now.
func (r *waitReporter) waiting() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.closed
}

// message prints a line above the waiting line, if there is one.
func (r *waitReporter) message(s string) {
	r.mu.Lock()
	ui, closed := r.ui, r.closed
	r.mu.Unlock()
	if ui != nil && !closed {
		ui.message(s)
		return
	}
	fmt.Fprintln(r.e.stderr, s)
}

// busyInfo prints the lock-info block of a BusyError to w and returns err
// unchanged.
func busyInfo(w io.Writer, key string, err error) error {
	var be *lock.BusyError
	if errors.As(err, &be) {
		writeLockInfo(w, key, be.Holders)
	}
	return err
}

// lockTokenCommand builds check, renew and release: KEY TOKEN, -ttl for renew.
func lockTokenCommand(name, synopsis, help string, withTTL bool,
	fn func(ctx context.Context, l lock.Locker, key, token string, ttl time.Duration) error) *command {
	usage := name + " [-backend URL] [-config PATH] KEY TOKEN"
	if withTTL {
		usage = name + " [-ttl D] [-backend URL] [-config PATH] KEY TOKEN"
	}
	return &command{name: name, synopsis: synopsis, usage: usage, help: help, args: argLockKey, signals: true,
		setup: func(fs *flag.FlagSet) runFunc {
			var bf backendFlags
			bf.register(fs)
			ttl := lock.DefaultTTL
			if withTTL {
				fs.DurationVar(&ttl, "ttl", lock.DefaultTTL, "new lease `duration` from now")
			}
			return func(e *env, args []string) error {
				if err := positional(args, 2, 2, "KEY and TOKEN"); err != nil {
					return err
				}
				return withLocker(e, &bf, func(ctx context.Context, l lock.Locker) error {
					return fn(ctx, l, args[0], args[1], ttl)
				})
			}
		}}
}

func lockCheckCommand() *command {
	return lockTokenCommand("lock check", "Exit 0 if TOKEN holds KEY, 4 if not",
		"Exits 0 if TOKEN holds KEY, 4 if it does not (expired, released or taken).", false,
		func(ctx context.Context, l lock.Locker, key, token string, _ time.Duration) error {
			return l.Check(ctx, key, token)
		})
}

func lockRenewCommand() *command {
	return lockTokenCommand("lock renew", "Extend TOKEN's lease on KEY",
		"Extends TOKEN's lease on KEY to -ttl from now. Never re-creates a lock that\nexpired or was released: exits 4 instead.", true,
		func(ctx context.Context, l lock.Locker, key, token string, ttl time.Duration) error {
			return l.Renew(ctx, key, token, ttl)
		})
}

func lockReleaseCommand() *command {
	return lockTokenCommand("lock release", "Release TOKEN's lease on KEY",
		"Releases TOKEN's lease on KEY and wakes the next waiter. Exits 4, deleting\nnothing, when TOKEN does not hold KEY.", false,
		func(ctx context.Context, l lock.Locker, key, token string, _ time.Duration) error {
			return l.Release(ctx, key, token)
		})
}
