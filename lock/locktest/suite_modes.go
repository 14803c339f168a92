package locktest

// Conformance cases for lock modes and queue policies (issue 10): shared and
// exclusive holders, newest-wins queues, max_waiters, positions in line and
// the queue as shown. They are backend-neutral: every backend that claims the
// matching Capabilities flag runs them. They wait on state with generous
// deadlines, never on sleeps, so that they hold on a loaded machine.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
)

// modesWithin is the deadline for anything the suite waits for: long enough for
// a busy 2-core machine, short enough that a hang fails the test.
const modesWithin = 15 * time.Second

func (s *suite) needModes(t *testing.T) {
	if !s.caps.Modes {
		t.Skip("backend does not implement shared mode (Capabilities.Modes is false)")
	}
}

// modesHolders returns key's holders, failing the test on error.
func modesHolders(t *testing.T, l lock.Locker, key string) []lock.Holder {
	t.Helper()
	hs, err := lock.HoldersOf(ctxFor(t), l, key)
	if err != nil {
		t.Fatalf("holders of %q: %v", key, err)
	}
	return hs
}

// stillWaiting fails when w already returned: it must still be waiting.
func stillWaiting(t *testing.T, w <-chan acquired, what string) {
	t.Helper()
	select {
	case r := <-w:
		t.Fatalf("%s returned while it must still wait: lease %v, error %v", what, r.lease, r.err)
	default:
	}
}

func modesRelease(t *testing.T, l lock.Locker, lease *lock.Lease) {
	t.Helper()
	if err := l.Release(ctxFor(t), lease.Key, lease.Token); err != nil {
		t.Fatalf("release %q: %v", lease.Key, err)
	}
}

// modesGot receives w's result within the suite deadline and fails on an error.
func modesGot(t *testing.T, w <-chan acquired, what string) *lock.Lease {
	t.Helper()
	r := recv(t, w, modesWithin, what)
	if r.err != nil {
		t.Fatalf("%s: %v", what, r.err)
	}
	return r.lease
}

// sharedExclusive: shared holders together; an exclusive request waits for
// them; a shared arrival after it waits behind it; then the other way round.
func (s *suite) sharedExclusive(t *testing.T) {
	s.needModes(t)
	const key = "modes"
	l, ctx := s.locker(t), ctxFor(t)
	var shared []*lock.Lease
	for i := range 3 {
		lease := mustAcquire(t, s.locker(t), lock.Request{Key: key, Mode: lock.Shared, Holder: holder(fmt.Sprint("s", i))})
		if lease.Mode != lock.Shared {
			t.Fatalf("shared lease has mode %q", lease.Mode)
		}
		shared = append(shared, lease)
	}
	if li, err := l.Show(ctx, key); err != nil || len(li.Holders) != 3 || li.Mode != lock.Shared {
		t.Fatalf("show with 3 shared holders: %+v, %v", li, err)
	}
	if _, err := l.Acquire(ctx, lock.Request{Key: key}); !errors.Is(err, lock.ErrBusy) {
		t.Fatalf("exclusive try while shared are held: got %v, want ErrBusy", err)
	}
	x := waitingAcquire(ctx, t, s.locker(t), lock.Request{Key: key, Holder: holder("x")})
	late := waitingAcquire(ctx, t, s.locker(t), lock.Request{Key: key, Mode: lock.Shared, Holder: holder("late")})
	if _, err := l.Acquire(ctx, lock.Request{Key: key, Mode: lock.Shared}); !errors.Is(err, lock.ErrBusy) {
		t.Fatalf("a shared try behind a queued exclusive request: got %v, want ErrBusy", err)
	}
	for _, lease := range shared {
		stillWaiting(t, x, "the exclusive waiter (shared holders remain)")
		modesRelease(t, l, lease)
	}
	xl := modesGot(t, x, "exclusive waiter after the shared holders left")
	if hs := modesHolders(t, l, key); len(hs) != 1 || hs[0].RunID != "run-x" {
		t.Fatalf("holders while the exclusive one holds: %+v, want x alone", hs)
	}
	stillWaiting(t, late, "the shared arrival behind the exclusive one")
	for _, lease := range shared {
		if xl.Fence <= lease.Fence {
			t.Fatalf("exclusive fence %d not above shared fence %d", xl.Fence, lease.Fence)
		}
	}
	modesRelease(t, l, xl)
	s.exclusiveThenShared(t, l, modesGot(t, late, "shared arrival after the exclusive one left"))
}

// exclusiveThenShared: with a shared holder, an exclusive waiter and a later
// shared arrival alternate: neither side starves.
func (s *suite) exclusiveThenShared(t *testing.T, l lock.Locker, sh *lock.Lease) {
	ctx := ctxFor(t)
	x := waitingAcquire(ctx, t, s.locker(t), lock.Request{Key: sh.Key, Holder: holder("x2")})
	late := waitingAcquire(ctx, t, s.locker(t), lock.Request{Key: sh.Key, Mode: lock.Shared, Holder: holder("late2")})
	stillWaiting(t, x, "the exclusive waiter behind a shared holder")
	modesRelease(t, l, sh)
	xl := modesGot(t, x, "second exclusive waiter")
	stillWaiting(t, late, "the second shared arrival")
	modesRelease(t, l, xl)
	sl := modesGot(t, late, "second shared arrival")
	if sl.Fence <= xl.Fence {
		t.Fatalf("fence %d after the exclusive holder's %d", sl.Fence, xl.Fence)
	}
	modesRelease(t, l, sl)
	if _, err := l.Acquire(ctx, lock.Request{Key: sh.Key, Mode: lock.Shared, Limit: 2}); err == nil || errors.Is(err, lock.ErrBusy) {
		t.Fatalf("shared with limit 2: got %v, want a request error (semaphores are exclusive)", err)
	}
}

// newestWins: five arrivals with Queue Newest while the lock is held: each
// replaces the older waiters, which end superseded promptly, naming a newer
// arrival; only the newest gets the lock.
func (s *suite) newestWins(t *testing.T) {
	if !s.caps.Newest {
		t.Skip("backend does not implement newest-wins queues (Capabilities.Newest is false)")
	}
	const key, n = "newest", 5
	l, ctx := s.locker(t), ctxFor(t)
	lease := mustAcquire(t, l, lock.Request{Key: key, Holder: holder("h")})
	var ws []<-chan acquired
	for i := range n {
		ws = append(ws, waitingAcquire(ctx, t, s.locker(t), lock.Request{Key: key, Queue: lock.Newest, Holder: holder(fmt.Sprint("n", i))}))
	}
	for i, w := range ws[:n-1] {
		r := recv(t, w, modesWithin, fmt.Sprintf("waiter %d superseded while the holder still holds", i))
		var se *lock.SupersededError
		if !errors.As(r.err, &se) || !errors.Is(r.err, lock.ErrSuperseded) || se.Key != key {
			t.Fatalf("older waiter %d: got lease %v, error %v; want a *SupersededError", i, r.lease, r.err)
		}
		if !modesNamesNewer(se.By, i, n) {
			t.Fatalf("waiter %d superseded by %+v, want one of the newer arrivals", i, se.By)
		}
	}
	stillWaiting(t, ws[n-1], "the newest waiter (the lock is held)")
	modesRelease(t, l, lease)
	last := modesGot(t, ws[n-1], "the newest waiter after the release")
	if hs := modesHolders(t, l, key); len(hs) != 1 || hs[0].RunID != fmt.Sprint("run-n", n-1) {
		t.Fatalf("holders: %+v, want the newest arrival alone", hs)
	}
	modesRelease(t, l, last)
}

func modesNamesNewer(by lock.Holder, i, n int) bool {
	for j := i + 1; j < n; j++ {
		if by.RunID == fmt.Sprint("run-n", j) {
			return true
		}
	}
	return false
}

// queueFull: with max_waiters 2 and two waiters queued, a third arrival is
// turned away at once and leaves no trace in the queue.
func (s *suite) queueFull(t *testing.T) {
	if !s.caps.QueueLimit {
		t.Skip("backend does not implement max_waiters (Capabilities.QueueLimit is false)")
	}
	const key = "maxw"
	l, ctx := s.locker(t), ctxFor(t)
	lease := mustAcquire(t, l, lock.Request{Key: key, Holder: holder("h")})
	req := func(name string) lock.Request {
		return lock.Request{Key: key, MaxWaiters: 2, Wait: lock.WaitForever, Holder: holder(name)}
	}
	w1 := waitingAcquire(ctx, t, s.locker(t), req("w1"))
	w2 := waitingAcquire(ctx, t, s.locker(t), req("w2"))
	third := req("w3")
	var waited atomic.Bool
	third.OnWait = func([]lock.Holder) { waited.Store(true) }
	_, err := s.locker(t).Acquire(ctx, third)
	var be *lock.BusyError
	if !errors.As(err, &be) || !be.QueueFull || be.Timeout || be.Waiters != 2 || waited.Load() {
		t.Fatalf("third waiter: got %v (%+v), waited %v; want an immediate queue-full *BusyError with 2 waiters", err, be, waited.Load())
	}
	if li, err := l.Show(ctx, key); err != nil || li.Waiters != 2 {
		t.Fatalf("show after the refusal: %+v, %v; want 2 waiters", li, err)
	}
	modesRelease(t, l, lease)
	modesRelease(t, l, modesGot(t, w1, "first waiter"))
	modesRelease(t, l, modesGot(t, w2, "second waiter"))
}

// queueFullSupersedesNobody: a newest-wins arrival turned away because the
// queue is full (the waiters that queued FIFO fill it) supersedes no older
// newest-wins waiter: it never queued. (Redis superseded them first.)
func (s *suite) queueFullSupersedesNobody(t *testing.T) {
	if !s.caps.QueueLimit || !s.caps.Newest {
		t.Skip("backend does not implement max_waiters and newest-wins queues")
	}
	const key = "maxw-newest"
	l, ctx := s.locker(t), ctxFor(t)
	lease := mustAcquire(t, l, lock.Request{Key: key, Holder: holder("h")})
	older := waitingAcquire(ctx, t, s.locker(t), lock.Request{Key: key, Queue: lock.Newest, Holder: holder("older")})
	fifo := waitingAcquire(ctx, t, s.locker(t), lock.Request{Key: key, Holder: holder("fifo")})
	_, err := s.locker(t).Acquire(ctx, lock.Request{Key: key, Queue: lock.Newest, MaxWaiters: 1, Wait: lock.WaitForever,
		Holder: holder("refused")})
	var be *lock.BusyError
	if !errors.As(err, &be) || !be.QueueFull {
		t.Fatalf("newest-wins arrival behind a full queue: %v, want a queue-full *BusyError", err)
	}
	time.Sleep(100 * time.Millisecond) // a supersede notice would have arrived
	stillWaiting(t, older, "the older newest-wins waiter after a refused arrival")
	modesRelease(t, l, lease)
	modesRelease(t, l, modesGot(t, older, "the older newest-wins waiter"))
	modesRelease(t, l, modesGot(t, fifo, "the FIFO waiter"))
}

// modesQueueRecorder keeps the statuses a waiter's OnQueue reported.
type modesQueueRecorder struct {
	mu   sync.Mutex
	last lock.QueueStatus
	n    int
}

func (q *modesQueueRecorder) on(st lock.QueueStatus) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.last, q.n = st, q.n+1
}

func (q *modesQueueRecorder) at(position int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n > 0 && q.last.Position == position && q.last.Length >= position
}

// positions: waiters report their place in line when they queue and as
// they move up; Show and List list the queue in order.
func (s *suite) positions(t *testing.T) {
	if !s.caps.Positions {
		t.Skip("backend does not report queue positions (Capabilities.Positions is false)")
	}
	const key = "line"
	l, ctx := s.locker(t), ctxFor(t)
	lease := mustAcquire(t, l, lock.Request{Key: key, Holder: holder("h")})
	recs := make([]*modesQueueRecorder, 3)
	var ws []<-chan acquired
	for i := range recs {
		recs[i] = &modesQueueRecorder{}
		ws = append(ws, waitingAcquire(ctx, t, s.locker(t), lock.Request{Key: key, OnQueue: recs[i].on, Holder: holder(fmt.Sprint("w", i))}))
		eventually(t, modesWithin, fmt.Sprintf("waiter %d reports position %d", i, i+1), func() bool { return recs[i].at(i + 1) })
	}
	s.showQueue(t, l, key, 3)
	modesRelease(t, l, lease)
	first := modesGot(t, ws[0], "first waiter")
	for i := 1; i < 3; i++ {
		eventually(t, modesWithin, fmt.Sprintf("waiter %d moves up to position %d", i, i), func() bool { return recs[i].at(i) })
	}
	s.showQueue(t, l, key, 2)
	modesRelease(t, l, first)
	modesRelease(t, l, modesGot(t, ws[1], "second waiter"))
	modesRelease(t, l, modesGot(t, ws[2], "third waiter"))
}

// showQueue checks that Show lists the last n of the waiters w0..w2 in
// order, with their holder info, and that List counts them.
func (s *suite) showQueue(t *testing.T, l lock.Locker, key string, n int) {
	t.Helper()
	ctx := ctxFor(t)
	li, err := l.Show(ctx, key)
	if err != nil || len(li.Holders) != 1 || li.Waiters != n || len(li.Queue) != n {
		t.Fatalf("show: %+v, %v; want 1 holder and %d waiters listed", li, err, n)
	}
	for i, w := range li.Queue {
		want := fmt.Sprint("run-w", 3-n+i)
		if w.Position != i+1 || w.RunID != want || w.Owner == "" || w.Since.IsZero() {
			t.Fatalf("queue entry %d: %+v, want %s at position %d with its holder info", i, w, want, i+1)
		}
	}
	infos, err := l.List(ctx, key)
	if err != nil || len(infos) != 1 || infos[0].Waiters != n {
		t.Fatalf("list: %+v, %v; want one lock with %d waiters", infos, err, n)
	}
}

// deadWaiterModes: an exclusive waiter that dies while shared holders hold
// must not keep a later shared arrival out.
func (s *suite) deadWaiterModes(t *testing.T) {
	s.needModes(t)
	if s.caps.Kill == nil {
		t.Skip("backend cannot kill a locker's connections (Capabilities.Kill is nil)")
	}
	const key = "modes-dead"
	l, ctx := s.locker(t), ctxFor(t)
	sh := mustAcquire(t, l, lock.Request{Key: key, Mode: lock.Shared, Holder: holder("s")})
	doomed := s.newLocker(t)
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dead := waitingAcquire(dctx, t, doomed, lock.Request{Key: key, Holder: holder("dead")})
	late := waitingAcquire(ctx, t, s.locker(t), lock.Request{Key: key, Mode: lock.Shared, Holder: holder("late")})
	start := time.Now()
	s.caps.Kill(t, doomed)
	sl := modesGot(t, late, "shared arrival behind a dead exclusive waiter, with no release")
	t.Logf("shared arrival joined %s after the exclusive waiter ahead of it died", time.Since(start))
	cancel()
	if d := recv(t, dead, modesWithin, "dead waiter returns"); d.err == nil {
		t.Fatalf("the dead waiter acquired: fence %d", d.lease.Fence)
	}
	if hs := modesHolders(t, l, key); len(hs) != 2 {
		t.Fatalf("holders: %+v, want the two shared holders", hs)
	}
	modesRelease(t, l, sh)
	modesRelease(t, l, sl)
}

// cancelModes: cancelling an exclusive waiter that blocks later shared
// arrivals lets them in at once and leaves no waiter behind.
func (s *suite) cancelModes(t *testing.T) {
	s.needModes(t)
	const key = "modes-cancel"
	l, ctx := s.locker(t), ctxFor(t)
	sh := mustAcquire(t, l, lock.Request{Key: key, Mode: lock.Shared, Holder: holder("s")})
	xctx, cancel := context.WithCancel(ctx)
	x := waitingAcquire(xctx, t, s.locker(t), lock.Request{Key: key, Holder: holder("x")})
	late := waitingAcquire(ctx, t, s.locker(t), lock.Request{Key: key, Mode: lock.Shared, Holder: holder("late")})
	cancel()
	if r := recv(t, x, modesWithin, "cancelled exclusive waiter returns"); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("cancelled waiter: got %v, want context.Canceled", r.err)
	}
	sl := modesGot(t, late, "shared arrival after the exclusive waiter ahead of it was cancelled")
	li, err := l.Show(ctx, key)
	if err != nil || len(li.Holders) != 2 || li.Waiters != 0 || len(li.Queue) != 0 {
		t.Fatalf("show after the cancel: %+v, %v; want 2 shared holders and no waiter", li, err)
	}
	modesRelease(t, l, sh)
	modesRelease(t, l, sl)
	if li, err := l.Show(ctx, key); err != nil || len(li.Holders) != 0 || len(li.Queue) != 0 {
		t.Fatalf("show after everyone left: %+v, %v", li, err)
	}
}
