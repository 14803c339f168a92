package locktest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
)

func (s *suite) renewNeverRecreates(t *testing.T) {
	l, ctx := s.locker(t), ctxFor(t)
	lease := mustAcquire(t, l, lock.Request{Key: "renew-released"})
	if err := l.Release(ctx, lease.Key, lease.Token); err != nil {
		t.Fatal(err)
	}
	if err := l.Renew(ctx, lease.Key, lease.Token, time.Minute); !errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("renew after release: got %v, want ErrNotHeld", err)
	}
	if hs, err := lock.HoldersOf(ctx, l, lease.Key); err != nil || len(hs) != 0 {
		t.Fatalf("renew re-created the lock: holders %+v, %v", hs, err)
	}
	s.needTTL(t)
	lease = mustAcquire(t, l, lock.Request{Key: "renew-expired", TTL: 100 * time.Millisecond})
	eventually(t, 2*time.Second, "lease expires", func() bool {
		return errors.Is(l.Check(ctx, lease.Key, lease.Token), lock.ErrNotHeld)
	})
	if err := l.Renew(ctx, lease.Key, lease.Token, time.Minute); !errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("renew after expiry: got %v, want ErrNotHeld", err)
	}
	if hs, err := lock.HoldersOf(ctx, l, lease.Key); err != nil || len(hs) != 0 {
		t.Fatalf("renew re-created an expired lock: holders %+v, %v", hs, err)
	}
}

func (s *suite) releaseNotOwner(t *testing.T) {
	s.needTTL(t)
	a, b, ctx := s.locker(t), s.locker(t), ctxFor(t)
	old := mustAcquire(t, a, lock.Request{Key: "not-owner", TTL: 100 * time.Millisecond})
	var cur *lock.Lease
	eventually(t, 2*time.Second, "the second holder acquires after expiry", func() bool {
		l, err := b.Acquire(ctx, lock.Request{Key: "not-owner", TTL: time.Minute})
		cur = l
		return err == nil
	})
	if err := a.Release(ctx, old.Key, old.Token); !errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("stale release: got %v, want ErrNotHeld", err)
	}
	if err := b.Check(ctx, cur.Key, cur.Token); err != nil {
		t.Fatalf("stale release removed the new holder: %v", err)
	}
}

func (s *suite) fencingIncreases(t *testing.T) {
	a, b, ctx := s.locker(t), s.locker(t), ctxFor(t)
	var last int64
	for i := range 6 {
		l := []lock.Locker{a, b}[i%2]
		lease := mustAcquire(t, l, lock.Request{Key: "fence"})
		if lease.Fence <= last {
			t.Fatalf("fence %d after %d", lease.Fence, last)
		}
		last = lease.Fence
		if err := l.Release(ctx, lease.Key, lease.Token); err != nil {
			t.Fatal(err)
		}
	}
}

func (s *suite) idempotentAcquire(t *testing.T) {
	l, ctx := s.locker(t), ctxFor(t)
	token := lock.NewToken()
	first := mustAcquire(t, l, lock.Request{Key: "idem", Token: token})
	again := mustAcquire(t, l, lock.Request{Key: "idem", Token: token})
	if again.Fence != first.Fence {
		t.Fatalf("retried acquire got fence %d, first %d: a second lease", again.Fence, first.Fence)
	}
	if hs, _ := lock.HoldersOf(ctx, l, "idem"); len(hs) != 1 {
		t.Fatalf("holders after a retried acquire: %d, want 1", len(hs))
	}
	if err := l.Release(ctx, "idem", token); err != nil {
		t.Fatal(err)
	}
	if hs, _ := lock.HoldersOf(ctx, l, "idem"); len(hs) != 0 {
		t.Fatalf("orphaned holders after release: %+v", hs)
	}
}

func (s *suite) semaphore(t *testing.T) {
	ls := []lock.Locker{s.locker(t), s.locker(t), s.locker(t), s.locker(t)}
	ctx := s.semaphoreFill(t, ls)
	var inside, peak atomic.Int32
	var wg sync.WaitGroup
	for i := range 6 {
		l := ls[i%len(ls)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				lease, err := l.Acquire(ctx, lock.Request{Key: "sem-run", Limit: 2, Wait: lock.WaitForever})
				if err != nil {
					t.Error(err)
					return
				}
				n := inside.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				time.Sleep(time.Millisecond) // hold the slot briefly so holders overlap
				inside.Add(-1)
				if err := l.Release(ctx, lease.Key, lease.Token); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if p := peak.Load(); p > 2 {
		t.Fatalf("semaphore of 2 had %d holders at once", p)
	}
}

func (s *suite) semaphoreFill(t *testing.T, ls []lock.Locker) context.Context {
	ctx := ctxFor(t)
	var leases []*lock.Lease
	for i := range 3 {
		leases = append(leases, mustAcquire(t, ls[i], lock.Request{Key: "sem", Limit: 3, Holder: holder("h")}))
		if i > 0 && leases[i].Fence <= leases[i-1].Fence {
			t.Fatalf("semaphore fences not increasing: %d then %d", leases[i-1].Fence, leases[i].Fence)
		}
	}
	_, err := ls[3].Acquire(ctx, lock.Request{Key: "sem", Limit: 3})
	var be *lock.BusyError
	if !errors.As(err, &be) || len(be.Holders) != 3 {
		t.Fatalf("fourth acquire of a full semaphore: %v (holders %d), want busy with 3", err, len(be.Holders))
	}
	if err := ls[1].Release(ctx, "sem", leases[1].Token); err != nil {
		t.Fatal(err)
	}
	fourth := mustAcquire(t, ls[3], lock.Request{Key: "sem", Limit: 3})
	for _, l := range []*lock.Lease{leases[0], leases[2], fourth} {
		if err := ls[0].Check(ctx, "sem", l.Token); err != nil {
			t.Fatalf("semaphore holder lost: %v", err)
		}
	}
	return ctx
}

// waitingAcquire starts an acquire in the background and returns once the
// request is waiting (its OnWait ran).
func waitingAcquire(ctx context.Context, t *testing.T, l lock.Locker, req lock.Request) <-chan acquired {
	t.Helper()
	started := make(chan struct{})
	var once sync.Once
	req.OnWait = func([]lock.Holder) { once.Do(func() { close(started) }) }
	if req.Wait == 0 {
		req.Wait = lock.WaitForever
	}
	out := make(chan acquired, 1)
	go func() {
		lease, err := l.Acquire(ctx, req)
		out <- acquired{lease, err}
	}()
	select {
	case <-started:
	case r := <-out:
		t.Fatalf("acquire %q did not wait: %v", req.Key, r.err)
	case <-time.After(10 * time.Second):
		t.Fatalf("acquire %q did not start waiting", req.Key)
	}
	return out
}

type acquired struct {
	lease *lock.Lease
	err   error
}
