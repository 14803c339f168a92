package lock_test

import (
	"context"
	"errors"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// sections is an independent record of critical sections: who entered and
// left when (monotonic, since the test began).
type sections struct {
	mu    sync.Mutex
	start time.Time
	recs  []section
}

type section struct {
	who         string
	enter, exit time.Duration
}

func (s *sections) enter(who string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, section{who: who, enter: time.Since(s.start), exit: -1})
	return len(s.recs) - 1
}

func (s *sections) exit(i int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs[i].exit = time.Since(s.start)
}

// overlap is the total time two sections were open at once.
func (s *sections) overlap() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	recs := append([]section(nil), s.recs...)
	sort.Slice(recs, func(i, j int) bool { return recs[i].enter < recs[j].enter })
	var total, maxExit time.Duration
	for i, r := range recs {
		if r.exit < 0 {
			r.exit = time.Since(s.start)
		}
		if i > 0 && r.enter < maxExit {
			total += min(maxExit, r.exit) - r.enter
		}
		maxExit = max(maxExit, r.exit)
	}
	return total
}

// hold is a step under a lease: it confirms the lease with its keeper right
// before it starts (a third of the TTL must be left), then works for d or
// until the lease is lost, and releases.
func hold(t *testing.T, l lock.Locker, lease *lock.Lease, rec *sections, who string, d time.Duration) {
	ctx := context.Background()
	k := lock.Keep(ctx, l, lease, nil)
	defer func() {
		k.Stop()
		_ = lock.ReleaseLease(ctx, l, lease)
	}()
	if err := k.Confirm(ctx, lease.TTL/3); err != nil {
		t.Logf("%s: not started: %v", who, err)
		return
	}
	i := rec.enter(who)
	select {
	case <-k.Lost():
		t.Logf("%s: lease lost: %v", who, k.Err())
	case <-time.After(d):
	}
	rec.exit(i)
}

// TestFault_latencyAtAcquire: 1.2s of latency each way between one client
// and Redis, ttl 3s; a second client talks to Redis directly. The slow
// client's lease clock must start when its request left, not when the reply
// (or the pushed grant) arrived: its step may never run past the lease the
// server granted, so the two never overlap. Before Lease.Sent was set and
// honoured, the slow step overlapped the other's by about 0.9s.
func TestFault_latencyAtAcquire(t *testing.T) {
	const ttl, oneWay = 3 * time.Second, 1200 * time.Millisecond
	for _, queued := range []bool{false, true} {
		name := map[bool]string{false: "direct acquire", true: "queued grant"}[queued]
		t.Run(name, func(t *testing.T) {
			srv := locktest.StartServer(t, nil)
			proxy := locktest.StartProxy(t, srv.Addr)
			slow := faultLocker(t, proxy.Addr, func(o *redis.Options) { o.ReadTimeout, o.WriteTimeout = 10*time.Second, 10*time.Second })
			direct := faultLocker(t, srv.Addr, nil)
			warmUp(t, slow, direct) // scripts loaded, connections open, subscribed
			proxy.OneWayLatency(oneWay)
			rec := &sections{start: time.Now()}
			overlap := latencyRun(t, slow, direct, rec, ttl, queued)
			t.Logf("latency-at-acquire (%s, %s each way, ttl %s): sections %+v; overlap %s", name, oneWay, ttl, rec.recs, overlap)
			if overlap > 0 {
				t.Fatalf("the slow holder's step overlapped the next holder's by %s", overlap)
			}
		})
	}
}

// warmUp makes the slow client acquire, wait and release once on the test's
// key, so that the measured run pays no dial, script load or subscription.
func warmUp(t *testing.T, slow, direct *lock.Redis) {
	ctx := context.Background()
	held := acquire(t, direct, "slow-link", time.Minute)
	done := make(chan error, 1)
	queued := make(chan struct{})
	var once sync.Once
	go func() {
		lease, err := slow.Acquire(ctx, lock.Request{Key: "slow-link", TTL: time.Minute, Wait: lock.WaitForever,
			OnWait: func([]lock.Holder) { once.Do(func() { close(queued) }) }})
		if err == nil {
			err = slow.Release(ctx, lease.Key, lease.Token)
		}
		done <- err
	}()
	<-queued
	if err := direct.Release(ctx, held.Key, held.Token); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, op := range []func() error{
		func() error { return slow.Check(ctx, "slow-link", "none") },
		func() error { return slow.Renew(ctx, "slow-link", "none", time.Second) },
	} {
		if err := op(); err != nil && !errors.Is(err, lock.ErrNotHeld) {
			t.Fatal(err)
		}
	}
}

// latencyRun runs the slow client's step (directly or after a queued
// grant) and the direct client's, and returns their overlap.
func latencyRun(t *testing.T, slow, direct *lock.Redis, rec *sections, ttl time.Duration, queued bool) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var first *lock.Lease
	var firstKept *lock.Keeper
	if queued { // held (and kept) until both wait
		first = acquire(t, direct, "slow-link", ttl)
		firstKept = lock.Keep(ctx, direct, first, nil)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		lease, err := slow.Acquire(ctx, lock.Request{Key: "slow-link", TTL: ttl, Wait: lock.WaitForever})
		if err != nil {
			t.Errorf("slow client: %v", err)
			return
		}
		hold(t, slow, lease, rec, "slow", 6*time.Second)
	}()
	// The slow request reaches the server first (it waits, or holds).
	waitUntil(t, 30*time.Second, "the slow client's request to arrive", func() bool {
		info, err := direct.Show(ctx, "slow-link")
		if queued {
			return err == nil && info.Waiters == 1
		}
		return err == nil && len(info.Holders) == 1
	})
	go func() {
		defer wg.Done()
		lease, err := direct.Acquire(ctx, lock.Request{Key: "slow-link", TTL: ttl, Wait: lock.WaitForever})
		if err != nil {
			t.Errorf("direct client: %v", err)
			return
		}
		hold(t, direct, lease, rec, "direct", time.Second)
	}()
	if queued {
		waitUntil(t, 30*time.Second, "both to queue", func() bool {
			info, err := direct.Show(ctx, "slow-link")
			return err == nil && info.Waiters == 2
		})
		firstKept.Stop()
		if err := direct.Release(ctx, first.Key, first.Token); err != nil && !errors.Is(err, lock.ErrNotHeld) {
			t.Fatal(err)
		}
	}
	wg.Wait()
	return rec.overlap()
}
