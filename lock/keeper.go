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
}

// Keep starts renewing lease on l every opts.Interval (ttl/3). The lease is
// presumed valid until lease.Sent+TTL-Margin (Keep's own start when Sent is
// zero). It is lost when a renewal returns ErrNotHeld, or when no renewal has
// succeeded before the local monotonic deadline (send time of the last
// successful renewal + TTL - Margin): the server may have expired it by
// then. A Renewer that implements LossWatcher reports a loss between
// renewals too. On loss Lost() is closed and Err() says why. Cancelling ctx stops
// renewing like Stop. Keep never releases the lease.
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
	go k.run(ctx, start)
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

func (k *Keeper) run(ctx context.Context, start time.Time) {
	defer close(k.done)
	deadline := start.Add(k.lease.TTL - k.opts.Margin)
	timer := time.NewTimer(k.opts.Interval)
	defer timer.Stop()
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
		err := k.renew(ctx, deadline)
		switch {
		case err == nil:
			deadline = began.Add(k.lease.TTL - k.opts.Margin)
			k.mu.Lock()
			k.renewals++
			k.mu.Unlock()
			timer.Reset(max(k.opts.Interval-time.Since(began), 0)) // a steady cadence, however slow the link
		case errors.Is(err, ErrNotHeld):
			k.lose(err)
			return
		case ctx.Err() != nil:
			return
		case !time.Now().Before(deadline):
			k.lose(fmt.Errorf("lock %q: no renewal succeeded within the lease (%s): %w: %w", k.lease.Key, k.lease.TTL, ErrUnavailable, err))
			return
		default:
			k.opts.Logger.Warn("lock renewal failed; retrying", "key", k.lease.Key, "error", err)
			timer.Reset(min(k.opts.Retry, time.Until(deadline)))
		}
	}
}

// renew runs one renewal bounded by the timeout and the local deadline.
func (k *Keeper) renew(ctx context.Context, deadline time.Time) error {
	limit := min(k.opts.Timeout, time.Until(deadline))
	if limit <= 0 {
		return fmt.Errorf("renew %q: %w", k.lease.Key, context.DeadlineExceeded)
	}
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

func (k *Keeper) lose(err error) {
	k.mu.Lock()
	k.err = err
	k.mu.Unlock()
	k.opts.Logger.Error("lock lost", "key", k.lease.Key, "error", err)
	close(k.lost)
}
