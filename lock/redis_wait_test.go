package lock_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// TestRedis_waiterCost bounds what a waiter costs the server in steady
// state: its safety re-checks (made frequent here) and nothing else.
func TestRedis_waiterCost(t *testing.T) {
	const waiters, recheck, window = 20, 100 * time.Millisecond, time.Second
	srv := locktest.StartServer(t, nil)
	admin := redisClient(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	holder := lock.NewRedis(redisClient(t, srv), nil)
	if _, err := holder.Acquire(ctx, lock.Request{Key: "k", TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{}, waiters)
	for range waiters {
		l := lock.NewRedis(redisClient(t, srv), &lock.RedisOptions{Recheck: recheck})
		t.Cleanup(func() { l.Close() })
		first := true
		go l.Acquire(ctx, lock.Request{Key: "k", Wait: lock.WaitForever, OnWait: func([]lock.Holder) {
			if first {
				first = false
				started <- struct{}{}
			}
		}})
	}
	for range waiters {
		<-started
	}
	before, from := commandCalls(t, admin), time.Now()
	time.Sleep(window) // measuring a rate over a window
	n, took := commandCalls(t, admin)-before-1, time.Since(from)
	rechecks := float64(waiters) * took.Seconds() / recheck.Seconds()
	perRecheck := float64(n) / rechecks
	perSec := perRecheck/lock.DefaultRecheck.Seconds() + 1/20.0 // and one pub/sub health-check PING per 20s
	t.Logf("%d commands in %s from %d waiters: %.1f per re-check; at the default %s re-check %.3f commands/s per waiter (health-check PING included)",
		n, took.Round(time.Millisecond), waiters, perRecheck, lock.DefaultRecheck, perSec)
	if perRecheck > 5 || perSec > 0.2 {
		t.Fatalf("%.1f server commands per re-check, %.3f/s per waiter; want <= 5 and <= 0.2/s", perRecheck, perSec)
	}
}

// TestRedis_restartWhileWaiting: the server restarts empty while a request
// waits; the waiter's subscription comes back and it takes the (now free)
// lock without waiting for its slow re-check.
func TestRedis_restartWhileWaiting(t *testing.T) {
	srv := locktest.StartServer(t, nil)
	holder := lock.NewRedis(redisClient(t, srv), nil)
	waiter := lock.NewRedis(redisClient(t, srv), nil)
	t.Cleanup(func() { waiter.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := holder.Acquire(ctx, lock.Request{Key: "r", TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		_, err := waiter.Acquire(ctx, lock.Request{Key: "r", Wait: lock.WaitForever,
			OnWait: func([]lock.Holder) { signalOnce(started) }})
		done <- err
	}()
	<-started
	srv.Restart()
	start := time.Now()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("waiter after a restart: %v", err)
		}
	case <-time.After(5 * time.Second): // the slow re-check is 10s
		t.Fatal("waiter did not notice the restart")
	}
	t.Logf("waiter took the lock %s after the restart", time.Since(start))
}

func signalOnce(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// TestRedis_headKeepsItsPlace: the first waiter gives up, so the second
// becomes first in line; its re-checks must keep its place (an earlier
// design re-queued it behind the third waiter).
func TestRedis_headKeepsItsPlace(t *testing.T) {
	srv := locktest.StartServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	holder := lock.NewRedis(redisClient(t, srv), nil)
	lease, err := holder.Acquire(ctx, lock.Request{Key: "q", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	type waiter struct {
		first  chan struct{} // closed when the waiter learns it is first in line
		done   chan error
		cancel context.CancelFunc
	}
	start := func(recheck time.Duration) *waiter {
		l := lock.NewRedis(redisClient(t, srv), &lock.RedisOptions{Recheck: recheck})
		t.Cleanup(func() { l.Close() })
		wctx, wcancel := context.WithCancel(ctx)
		w := &waiter{first: make(chan struct{}), done: make(chan error, 1), cancel: wcancel}
		queued := make(chan struct{}, 1)
		var once sync.Once
		go func() {
			_, err := l.Acquire(wctx, lock.Request{Key: "q", TTL: time.Minute, Wait: lock.WaitForever,
				OnWait: func([]lock.Holder) { signalOnce(queued) },
				OnQueue: func(q lock.QueueStatus) {
					if q.Position == 1 {
						once.Do(func() { close(w.first) })
					}
				}})
			w.done <- err
		}()
		<-queued
		return w
	}
	a := start(time.Hour)
	b := start(50 * time.Millisecond)
	c := start(time.Hour)
	defer c.cancel()
	a.cancel()
	if err := <-a.done; err == nil {
		t.Fatal("cancelled waiter got the lock")
	}
	select { // b learns it is first in line (told, or by its re-check)
	case <-b.first:
	case <-ctx.Done():
		t.Fatal("second waiter never learnt it is first in line")
	}
	// b re-checks every 50ms (a and c hourly): wait for three re-checks
	// (each runs LPOS) as first in line.
	admin := redisClient(t, srv)
	lpos := func() int64 { return commandCount(t, admin, "lpos") }
	from := lpos()
	eventually(t, 10*time.Second, "three re-checks of the first in line", func() bool { return lpos() >= from+3 })
	if err := holder.Release(ctx, "q", lease.Token); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-b.done:
		if err != nil {
			t.Fatal(err)
		}
	case <-c.done:
		t.Fatal("third waiter got the lock before the second: the second lost its place in line")
	case <-ctx.Done():
		t.Fatal("no waiter got the lock")
	}
}

// TestRedis_newHeadWakesAtExpiry: the holder crashes (its lease runs out)
// and the first waiter gives up; the second, first in line now, must take
// the lock when the lease ends, not at its slow re-check.
func TestRedis_newHeadWakesAtExpiry(t *testing.T) {
	srv := locktest.StartServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	holder := lock.NewRedis(redisClient(t, srv), nil)
	if _, err := holder.Acquire(ctx, lock.Request{Key: "e", TTL: 500 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	waiting := func(l *lock.Redis, wctx context.Context) chan error {
		started, done := make(chan struct{}, 1), make(chan error, 1)
		go func() {
			_, err := l.Acquire(wctx, lock.Request{Key: "e", Wait: lock.WaitForever,
				OnWait: func([]lock.Holder) { signalOnce(started) }})
			done <- err
		}()
		<-started
		return done
	}
	slow := &lock.RedisOptions{Recheck: time.Hour}
	a, b := lock.NewRedis(redisClient(t, srv), slow), lock.NewRedis(redisClient(t, srv), slow)
	t.Cleanup(func() { a.Close(); b.Close() })
	actx, acancel := context.WithCancel(ctx)
	aDone := waiting(a, actx)
	bDone := waiting(b, ctx)
	acancel()
	<-aDone
	select {
	case err := <-bDone:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second): // the lease ends after 0.5s
		t.Fatal("the new head did not take the lock when the crashed holder's lease ended")
	}
}
