package lock_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// renewLatencies renews lease n times, every 300ms (the cadence of a 900ms
// TTL), and returns how long each call took, sorted.
func renewLatencies(t *testing.T, l lock.Locker, lease *lock.Lease, n int) []time.Duration {
	t.Helper()
	var out []time.Duration
	for i := 0; i < n; i++ {
		time.Sleep(300 * time.Millisecond) // the renewal cadence itself, not synchronisation
		start := time.Now()
		if err := l.Renew(context.Background(), lease.Key, lease.Token, lease.TTL); err != nil {
			t.Fatalf("renewal %d: %v", i, err)
		}
		out = append(out, time.Since(start))
	}
	slices.Sort(out)
	return out
}

func TestFault_waiterPressure(t *testing.T) {
	const waiters = 200
	// A long lease: the test renews it at its own cadence to time renewals,
	// and 200 waiters may take a while to queue under -race.
	const ttl = 30 * time.Second
	srv := locktest.StartServer(t, &locktest.ServerOptions{Args: []string{"--maxclients", "2000"}})
	a := admin(t, srv.Addr)
	holder := faultLocker(t, srv.Addr, nil)
	lease := acquire(t, holder, "deploy/staging", ttl)
	base := renewLatencies(t, holder, lease, 3)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	leave := startWaiters(t, ctx, srv.Addr, "deploy/staging", waiters)

	before := commandCalls(t, a)
	start := time.Now()
	loaded := renewLatencies(t, holder, lease, 6)
	window := time.Since(start)
	after := commandCalls(t, a)
	// Our own commands in the window: the renewals and one INFO.
	theirs := after - before - int64(len(loaded)) - 1
	perWaiter := float64(theirs) / window.Seconds() / waiters
	t.Logf("waiter-pressure: renewal latency without waiters p50 %s max %s; with %d waiters p50 %s max %s",
		base[len(base)/2], base[len(base)-1], waiters, loaded[len(loaded)/2], loaded[len(loaded)-1])
	t.Logf("waiter-pressure: %d server commands from %d waiters in %s = %.3f commands/s per waiter",
		theirs, waiters, window.Round(time.Millisecond), perWaiter)
	if perWaiter > 0.5 {
		t.Errorf("waiters cost %.3f commands/s each, want about 0 (no polling)", perWaiter)
	}
	if max := loaded[len(loaded)-1]; max > 100*time.Millisecond && max > 5*base[len(base)-1] {
		t.Errorf("renewal latency under waiter pressure %s, baseline max %s", max, base[len(base)-1])
	}

	cancel()
	leave()
	if err := holder.Release(context.Background(), lease.Key, lease.Token); err != nil {
		t.Fatal(err)
	}
	// Cancelled waiters left nothing behind: the lock is free at once.
	if _, err := holder.Acquire(context.Background(), lock.Request{Key: "deploy/staging", TTL: ttl}); err != nil {
		t.Fatalf("acquire after every waiter left: %v", err)
	}
}

// startWaiters starts n waiters on key, each with its own backend and client
// as separate processes would have, and returns once all are queued. The
// returned function waits for them to end after ctx is cancelled and checks
// that each returned context.Canceled.
func startWaiters(t *testing.T, ctx context.Context, addr, key string, n int) func() {
	t.Helper()
	var queued atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		l := faultLocker(t, addr, nil)
		var once sync.Once
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := l.Acquire(ctx, lock.Request{Key: key, TTL: time.Minute, Wait: lock.WaitForever,
				OnWait: func([]lock.Holder) { once.Do(func() { queued.Add(1) }) }})
			errs <- err
		}()
	}
	waitUntil(t, 30*time.Second, "every waiter to queue", func() bool { return queued.Load() == int64(n) })
	return func() {
		t.Helper()
		wg.Wait()
		close(errs)
		for err := range errs {
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("a cancelled waiter returned %v, want context.Canceled", err)
			}
		}
	}
}
