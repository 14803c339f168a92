package lock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// KeepOptions tunes Keep. Nil options and zero fields mean defaults.
type KeepOptions struct {
	// Interval between renewals; default lease.TTL/3.
	Interval time.Duration
	// Timeout bounds one renewal call; default TTL/2, so that a slow but
	// working link (round trips up to TTL/2) keeps the lease. It never runs
	// past the local deadline.
	Timeout time.Duration
	// Retry is the pause before retrying a renewal that failed with a
	// transient error; default Interval/10, at least 10ms.
	Retry time.Duration
	// Margin is subtracted from the local deadline to allow for clock drift
	// between hosts and the time the acquire request took; default TTL/10.
	Margin time.Duration
	// Logger receives renewal failures (never the token); default none.
	Logger hclog.Logger
	// OnTrouble, if not nil, is called from the keeper's goroutine after
	// each renewal that failed with a transient error while the lease still
	// has local validity left, and once more, with Recovered set, when a
	// renewal succeeds again. It must not block.
	OnTrouble func(Trouble)
}

// Trouble tells a keeper's owner that renewals are failing while the lease
// is still valid locally: unless a renewal succeeds within Left, the lease
// is lost.
type Trouble struct {
	Key       string
	Since     time.Duration // since the backend last confirmed the lease (the send time of that request)
	Left      time.Duration // local validity left
	Err       error         // the last renewal's error
	Recovered bool          // a renewal succeeded again; Since, Left and Err are zero
}

// Keeper renews a lease in the background until stopped or lost. It never
// re-acquires a lost lease.
type Keeper struct {
	l     Renewer
	lease *Lease
	opts  KeepOptions

	lost     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once

	mu       sync.Mutex
	err      error
	renewals int
	deadline time.Time // local validity: last proof's send time + TTL - Margin
	troubled bool      // OnTrouble was told of a failure not yet recovered
}

// Keep starts renewing lease on l every opts.Interval (ttl/3). The lease is
// presumed valid until lease.Sent+TTL-Margin (Keep's own start when Sent is
// zero); every successful renewal moves that local monotonic deadline to its
// own send time + TTL - Margin. The lease is lost when a renewal returns
// ErrNotHeld, or when no renewal has succeeded before the deadline: the
// server may have expired it by then. A keeper that wakes past its deadline
// (the process was paused) asks the server once before it decides, so that
// a lease taken by another holder meanwhile is reported as such (ErrNotHeld)
// rather than as a slow backend. A Renewer that implements LossWatcher
// reports a loss between renewals too. On loss Lost() is closed and Err()
// says why. Cancelling ctx stops renewing like Stop. Keep never releases
// the lease.
func Keep(ctx context.Context, l Renewer, lease *Lease, opts *KeepOptions) *Keeper {
	k := &Keeper{l: l, lease: lease, lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	if opts != nil {
		k.opts = *opts
	}
	k.defaults()
	start := lease.Sent
	if start.IsZero() {
		start = time.Now()
	}
	k.deadline = start.Add(lease.TTL - k.opts.Margin)
	go k.run(ctx)
	return k
}

func (k *Keeper) defaults() {
	o, ttl := &k.opts, k.lease.TTL
	if o.Interval <= 0 {
		o.Interval = ttl / 3
	}
	if o.Timeout <= 0 {
		o.Timeout = ttl / 2
	}
	if o.Retry <= 0 {
		o.Retry = max(o.Interval/10, 10*time.Millisecond)
	}
	if o.Margin <= 0 {
		o.Margin = ttl / 10
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
}

// LostReleaseTimeout bounds the release of a lease its keeper lost: the
// lease is gone, or the link to the backend failed and the release would
// wait on it; either way it must not hold up the exit.
const LostReleaseTimeout = 500 * time.Millisecond

// ReleaseContext returns a context for releasing the kept lease once the
// work stopped: CleanupContext's (it survives ctx's cancellation, ends after
// CleanupTimeout), or one ending after LostReleaseTimeout when the keeper
// lost the lease. Call cancel when done.
func (k *Keeper) ReleaseContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if k.Err() != nil {
		return context.WithTimeout(context.WithoutCancel(ctx), LostReleaseTimeout)
	}
	return CleanupContext(ctx)
}

// Lost is closed when the lease is lost (never when stopped).
func (k *Keeper) Lost() <-chan struct{} { return k.lost }

// Err says why the lease was lost: it wraps ErrNotHeld, or ErrUnavailable
// when renewals failed past the local deadline. Nil while kept or stopped.
func (k *Keeper) Err() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.err
}

// Renewals is the number of successful renewals so far.
func (k *Keeper) Renewals() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.renewals
}

// Stop stops renewing and waits for an in-flight renewal to end. It does not
// release the lease. Safe to call more than once and after a loss.
func (k *Keeper) Stop() {
	k.stopOnce.Do(func() { close(k.stop) })
	<-k.done
}

func (k *Keeper) run(ctx context.Context) {
	defer close(k.done)
	next := k.nextRenewal(k.opts.Interval)
	timer := time.NewTimer(next)
	defer timer.Stop()
	// The first renewal asks the server even when the lease arrived past its
	// local deadline (a pause, a slow link): only the server knows.
	var due time.Time
	lost := lossSignal(k.l, k.lease) // keeper_watch.go
	for {
		select {
		case <-timer.C:
		case err := <-lost:
			k.lose(err)
			return
		case <-k.stop:
			return
		case <-ctx.Done():
			return
		}
		began := time.Now()
		err := k.renewDue(ctx, began, due)
		switch {
		case err == nil:
			k.renewed(began)
			k.recovered()
			next = k.nextRenewal(k.opts.Interval - time.Since(began)) // a steady cadence, however slow the link
		case errors.Is(err, ErrNotHeld):
			k.lose(err)
			return
		case ctx.Err() != nil:
			return
		case !time.Now().Before(k.Deadline()):
			k.lose(fmt.Errorf("lock %q: no renewal succeeded within the lease (%s): %w: %w", k.lease.Key, k.lease.TTL, ErrUnavailable, err))
			return
		default:
			k.opts.Logger.Warn("lock renewal failed; retrying", "key", k.lease.Key, "error", err)
			k.trouble(err)
			next = min(k.opts.Retry, time.Until(k.Deadline()))
		}
		timer.Reset(next)
		due = time.Now().Add(next)
	}
}

// nextRenewal is when to renew next: after d, but no later than half way
// to the local deadline (a lease that arrived with little validity left,
// over a slow link, is renewed early).
func (k *Keeper) nextRenewal(d time.Duration) time.Duration {
	return max(min(d, time.Until(k.Deadline())/2), 0)
}

// renewDue runs the renewal that was due at due. Past the local deadline it
// does not renew when the renewal was scheduled there (no renewal succeeded
// in time), but asks the server once when it was due before the deadline:
// the process was paused, and the server knows whether the lease survived.
func (k *Keeper) renewDue(ctx context.Context, began, due time.Time) error {
	left := k.Deadline().Sub(began)
	switch {
	case left > 0:
		return k.renew(ctx, min(k.opts.Timeout, left))
	case due.Before(k.Deadline()):
		return k.renew(ctx, k.opts.Timeout)
	}
	return fmt.Errorf("renew %q: %w", k.lease.Key, context.DeadlineExceeded)
}

// renewed records a successful renewal sent at began.
func (k *Keeper) renewed(began time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if d := began.Add(k.lease.TTL - k.opts.Margin); d.After(k.deadline) {
		k.deadline = d
	}
	k.renewals++
}

// Deadline is the lease's local validity: the send time of the request
// that last proved it (the acquire, a renewal, a Confirm) + TTL - Margin,
// on the monotonic clock.
func (k *Keeper) Deadline() time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.deadline
}

// Confirm makes sure the lease is held with at least floor of local
// validity left, right before work that needs it starts: it returns nil at
// once when Deadline() is floor or more away; otherwise it renews once,
// timed from its send time, and returns nil if that leaves floor or more.
// It returns an error wrapping ErrNotHeld when the lease is gone (and the
// keeper reports the loss), Err() when the keeper lost the lease already,
// and an error wrapping ErrUnavailable when the renewal failed or left less
// than floor (the link is too slow for the TTL). Confirm never re-acquires.
func (k *Keeper) Confirm(ctx context.Context, floor time.Duration) error {
	if err := k.Err(); err != nil {
		return err
	}
	if time.Until(k.Deadline()) >= floor {
		return nil
	}
	began := time.Now()
	err := k.renew(ctx, k.opts.Timeout)
	switch {
	case errors.Is(err, ErrNotHeld):
		k.loseOnce(err)
		return err
	case err != nil:
		return fmt.Errorf("confirm lock %q: %w: %w", k.lease.Key, ErrUnavailable, err)
	}
	k.renewed(began)
	if left := time.Until(k.Deadline()); left < floor {
		return fmt.Errorf("confirm lock %q: only %s of the lease left after a renewal (ttl %s): the link is too slow to keep it: %w",
			k.lease.Key, left.Round(time.Millisecond), k.lease.TTL, ErrUnavailable)
	}
	return nil
}

// renew runs one renewal bounded by limit.
func (k *Keeper) renew(ctx context.Context, limit time.Duration) error {
	rctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	// The call runs apart so that a client that does not bound network
	// waits by the context (go-redis without ContextTimeoutEnabled) cannot
	// hold the keeper past its deadline; a late reply is ignored.
	done := make(chan error, 1)
	go func() { done <- k.l.Renew(rctx, k.lease.Key, k.lease.Token, k.lease.TTL) }()
	select {
	case err := <-done:
		return err
	case <-rctx.Done():
		return fmt.Errorf("renew %q: %w", k.lease.Key, rctx.Err())
	}
}

func (k *Keeper) lose(err error) { k.loseOnce(err) }

// trouble tells OnTrouble that a renewal failed with err.
func (k *Keeper) trouble(err error) {
	if k.opts.OnTrouble == nil {
		return
	}
	now, deadline := time.Now(), k.Deadline()
	proven := deadline.Add(-(k.lease.TTL - k.opts.Margin))
	k.troubled = true
	k.opts.OnTrouble(Trouble{Key: k.lease.Key, Since: now.Sub(proven), Left: max(deadline.Sub(now), 0), Err: err})
}

// recovered tells OnTrouble that renewals work again after trouble.
func (k *Keeper) recovered() {
	if k.troubled {
		k.troubled = false
		k.opts.OnTrouble(Trouble{Key: k.lease.Key, Recovered: true})
	}
}

// loseOnce records the first loss and closes Lost().
func (k *Keeper) loseOnce(err error) {
	k.mu.Lock()
	if k.err != nil {
		k.mu.Unlock()
		return
	}
	k.err = err
	k.mu.Unlock()
	k.opts.Logger.Error("lock lost", "key", k.lease.Key, "error", err)
	close(k.lost)
}
