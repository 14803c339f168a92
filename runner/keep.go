package runner

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
)

// keeper renews one lease until stopped and reports when it is lost.
type keeper interface {
	Lost() <-chan struct{}
	Err() error
	Stop()
}

// keepLease starts renewing lease every ttl/3 until Stop or ctx ends. A renewal
// that finds the lease gone, or that cannot reach the backend before the lease
// would run out, closes Lost.
//
// Interim renewal loop until lock.Keep lands on main; it is then a one-line
// call to lock.Keep.
func keepLease(ctx context.Context, l lock.Locker, lease *lock.Lease) keeper {
	ctx, cancel := context.WithCancel(ctx)
	k := &simpleKeeper{lost: make(chan struct{}), done: make(chan struct{}), cancel: cancel}
	go k.loop(ctx, l, lease)
	return k
}

type simpleKeeper struct {
	lost, done chan struct{}
	cancel     context.CancelFunc
	mu         sync.Mutex
	err        error
}

func (k *simpleKeeper) Lost() <-chan struct{} { return k.lost }

func (k *simpleKeeper) Err() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.err
}

func (k *simpleKeeper) Stop() {
	k.cancel()
	<-k.done
}

func (k *simpleKeeper) loop(ctx context.Context, l lock.Locker, lease *lock.Lease) {
	defer close(k.done)
	ttl := lease.TTL
	if ttl <= 0 {
		ttl = lock.DefaultTTL
	}
	deadline := time.Now().Add(ttl)
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithDeadline(ctx, deadline)
		start := time.Now()
		err := l.Renew(rctx, lease.Key, lease.Token, ttl)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			deadline = start.Add(ttl)
			continue
		}
		if errors.Is(err, lock.ErrNotHeld) || time.Now().After(deadline) || errors.Is(err, context.DeadlineExceeded) {
			k.mu.Lock()
			k.err = fmt.Errorf("renew %q: %w", lease.Key, err)
			k.mu.Unlock()
			close(k.lost)
			return
		}
	}
}
