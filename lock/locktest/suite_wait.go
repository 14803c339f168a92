package locktest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
)

func recv(t *testing.T, ch <-chan acquired, within time.Duration, what string) acquired {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(within):
		t.Fatalf("%s: nothing within %s", what, within)
		return acquired{}
	}
}

func (s *suite) fifo(t *testing.T) {
	if !s.caps.FIFO {
		t.Skip("backend does not serve waiters in arrival order (Capabilities.FIFO is false)")
	}
	l, ctx := s.locker(t), ctxFor(t)
	lease := mustAcquire(t, l, lock.Request{Key: "fifo"})
	const n = 5
	var waiters []<-chan acquired
	for range n {
		waiters = append(waiters, waitingAcquire(ctx, t, s.locker(t), lock.Request{Key: "fifo"}))
	}
	if err := l.Release(ctx, lease.Key, lease.Token); err != nil {
		t.Fatal(err)
	}
	last := lease.Fence
	for i, w := range waiters {
		r := recv(t, w, 5*time.Second, "waiter in arrival order")
		if r.err != nil {
			t.Fatalf("waiter %d: %v", i, r.err)
		}
		if r.lease.Fence <= last {
			t.Fatalf("waiter %d got fence %d after %d", i, r.lease.Fence, last)
		}
		last = r.lease.Fence
		for j, other := range waiters[i+1:] {
			select {
			case r := <-other:
				t.Fatalf("waiter %d acquired (%v) while waiter %d held the lock", i+1+j, r.err, i)
			default:
			}
		}
		if err := l.Release(ctx, r.lease.Key, r.lease.Token); err != nil {
			t.Fatal(err)
		}
	}
}

func (s *suite) deadWaiter(t *testing.T) {
	if s.caps.Kill == nil {
		t.Skip("backend cannot kill a locker's connections (Capabilities.Kill is nil)")
	}
	l, ctx := s.locker(t), ctxFor(t)
	lease := mustAcquire(t, l, lock.Request{Key: "dead"})
	doomed := s.newLocker(t)
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dead := waitingAcquire(dctx, t, doomed, lock.Request{Key: "dead"})
	alive := waitingAcquire(ctx, t, s.locker(t), lock.Request{Key: "dead"})
	s.caps.Kill(t, doomed)
	start := time.Now()
	if err := l.Release(ctx, lease.Key, lease.Token); err != nil {
		t.Fatal(err)
	}
	r := recv(t, alive, 3*time.Second, "the live waiter behind a dead one acquires")
	if r.err != nil {
		t.Fatalf("live waiter: %v", r.err)
	}
	t.Logf("live waiter acquired %s after the release, past a dead waiter", time.Since(start))
	cancel()
	if d := recv(t, dead, 10*time.Second, "dead waiter returns"); d.err == nil {
		t.Fatalf("the dead waiter acquired too: fence %d", d.lease.Fence)
	}
	if err := l.Release(ctx, r.lease.Key, r.lease.Token); err != nil {
		t.Fatal(err)
	}
}

func (s *suite) cancelLeavesNothing(t *testing.T) {
	l, ctx := s.locker(t), ctxFor(t)
	lease := mustAcquire(t, l, lock.Request{Key: "cancel"})
	wctx, cancel := context.WithCancel(ctx)
	w := waitingAcquire(wctx, t, s.locker(t), lock.Request{Key: "cancel"})
	cancel()
	if r := recv(t, w, 5*time.Second, "cancelled waiter returns"); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("cancelled waiter: got %v, want context.Canceled", r.err)
	}
	timed := s.locker(t)
	if _, err := timed.Acquire(ctx, lock.Request{Key: "cancel", Wait: 50 * time.Millisecond}); !errors.Is(err, lock.ErrBusy) {
		t.Fatalf("timed-out waiter: got %v, want ErrBusy", err)
	}
	if err := l.Release(ctx, lease.Key, lease.Token); err != nil {
		t.Fatal(err)
	}
	if hs, err := lock.HoldersOf(ctx, l, "cancel"); err != nil || len(hs) != 0 {
		t.Fatalf("a gone waiter was handed the lock: holders %+v, %v", hs, err)
	}
	infos, err := l.List(ctx, "cancel")
	if err != nil || len(infos) != 0 {
		t.Fatalf("list after everyone left: %+v, %v", infos, err)
	}
	mustAcquire(t, l, lock.Request{Key: "cancel"})
}

func (s *suite) onceMarkers(t *testing.T) {
	l, ctx := s.locker(t), ctxFor(t)
	if rec, err := l.Once(ctx, "once/a"); rec != nil || err != nil {
		t.Fatalf("unset marker: %+v, %v", rec, err)
	}
	before := time.Now().Add(-time.Second)
	for _, k := range []string{"once/a", "once/b", "other"} {
		if err := l.MarkOnce(ctx, lock.OnceRecord{Key: k, Owner: "me@host", RunID: "r1", Step: "step.x"}, 0); err != nil {
			t.Fatal(err)
		}
	}
	rec, err := l.Once(ctx, "once/a")
	if err != nil || rec == nil || rec.Owner != "me@host" || rec.RunID != "r1" || rec.Key != "once/a" || rec.At.Before(before) || rec.TTL != 0 {
		t.Fatalf("marker = %+v, %v", rec, err)
	}
	recs, err := l.ListOnce(ctx, "once/")
	if err != nil || len(recs) != 2 || recs[0].Key != "once/a" || recs[1].Key != "once/b" {
		t.Fatalf("list once/: %+v, %v", recs, err)
	}
	if err := l.ForgetOnce(ctx, "once/a"); err != nil {
		t.Fatal(err)
	}
	if err := l.ForgetOnce(ctx, "once/a"); !errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("forget twice: got %v, want ErrNotHeld", err)
	}
	if err := l.MarkOnce(ctx, lock.OnceRecord{Key: "once/short"}, 150*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if rec, err := l.Once(ctx, "once/short"); err != nil || rec == nil || rec.TTL <= 0 || rec.TTL > 150*time.Millisecond {
		t.Fatalf("marker with ttl: %+v, %v", rec, err)
	}
	eventually(t, 3*time.Second, "marker with a ttl expires", func() bool {
		rec, err := l.Once(ctx, "once/short")
		return err == nil && rec == nil
	})
	if err := l.MarkOnce(ctx, lock.OnceRecord{Key: "once/tiny"}, 500*time.Microsecond); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "marker with a sub-millisecond ttl expires", func() bool {
		rec, err := l.Once(ctx, "once/tiny")
		return err == nil && rec == nil
	})
}

// crashedHolders: holders that never release are followed by the waiters
// queued behind them within about a TTL each, without any release call.
func (s *suite) crashedHolders(t *testing.T) {
	s.needTTL(t)
	const ttl = 300 * time.Millisecond
	l, ctx := s.locker(t), ctxFor(t)
	mustAcquire(t, l, lock.Request{Key: "crash", TTL: ttl})
	start := time.Now()
	a := waitingAcquire(ctx, t, s.locker(t), lock.Request{Key: "crash", TTL: ttl})
	b := waitingAcquire(ctx, t, s.locker(t), lock.Request{Key: "crash", TTL: ttl})
	if r := recv(t, a, 3*ttl, "first waiter after a crashed holder"); r.err != nil {
		t.Fatal(r.err)
	}
	first := time.Since(start)
	if r := recv(t, b, 3*ttl, "second waiter after a crashed first waiter"); r.err != nil {
		t.Fatal(r.err)
	}
	t.Logf("crashed holders (ttl %s) followed after %s and %s", ttl, first, time.Since(start))
}
