package lock_test

import (
	"context"
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
	n, took := commandCalls(t, admin)-before, time.Since(from)
	rechecks := float64(waiters) * took.Seconds() / recheck.Seconds()
	perRecheck := float64(n) / rechecks
	t.Logf("%d commands in %s from %d waiters: %.1f per re-check; at the default 10s re-check %.2f commands/s per waiter",
		n, took.Round(time.Millisecond), waiters, perRecheck, perRecheck/10)
	if perRecheck > 8 {
		t.Fatalf("%.1f server commands per re-check, want <= 8 (a waiter must cost < 1 command/s)", perRecheck)
	}
}
