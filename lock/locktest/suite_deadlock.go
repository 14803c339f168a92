package locktest

// Conformance cases for deadlocks between runs (issue 10.5): two runs that
// each hold a key and wait for the other's, a chain without a cycle that a
// third run then closes, and the wait records (only a request with Holds
// and a run id writes one, and none outlives its wait).

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
)

// deadlockWithin bounds how long a cycle may go unnoticed: the checks run
// at 0, 0.5, 1 and 2 s into a wait; the rest is slack for a loaded machine.
const deadlockWithin = 8 * time.Second

func (s *suite) needDeadlocks(t *testing.T) {
	if !s.caps.Deadlocks {
		t.Skip("backend does not detect deadlocks between runs (Capabilities.Deadlocks is false)")
	}
}

// startAcquire starts an acquire in the background without waiting for it
// to queue.
func startAcquire(ctx context.Context, l lock.Locker, req lock.Request) <-chan acquired {
	out := make(chan acquired, 1)
	go func() {
		lease, err := l.Acquire(ctx, req)
		out <- acquired{lease, err}
	}()
	return out
}

// deadlockRun is one run of the deadlock case: its locker, the lease it
// holds and its wait for the other run's key.
type deadlockRun struct {
	l    lock.Locker
	h    lock.Holder
	held *lock.Lease
	wait <-chan acquired
}

// deadlock: R1 holds A and R2 holds B; both then ask for the other's key at
// the same moment. Exactly one gets a *DeadlockError naming the cycle; once
// it lets go of what it holds, the other gets its lock.
func (s *suite) deadlock(t *testing.T) {
	s.needDeadlocks(t)
	const keyA, keyB = "dl/A", "dl/B"
	r1 := &deadlockRun{l: s.locker(t), h: holder("r1")}
	r2 := &deadlockRun{l: s.locker(t), h: holder("r2")}
	r1.held = mustAcquire(t, r1.l, lock.Request{Key: keyA, Holder: r1.h})
	r2.held = mustAcquire(t, r2.l, lock.Request{Key: keyB, Holder: r2.h})
	ctx, cancel := context.WithTimeout(ctxFor(t), 10*time.Second)
	defer cancel()
	r1.wait = startAcquire(ctx, r1.l, lock.Request{Key: keyB, Wait: lock.WaitForever, Holder: r1.h, Holds: []string{keyA}})
	r2.wait = startAcquire(ctx, r2.l, lock.Request{Key: keyA, Wait: lock.WaitForever, Holder: r2.h, Holds: []string{keyB}})
	start := time.Now()
	var r acquired
	var victim, other *deadlockRun
	select {
	case r = <-r1.wait:
		victim, other = r1, r2
	case r = <-r2.wait:
		victim, other = r2, r1
	case <-time.After(deadlockWithin):
		t.Fatalf("no deadlock reported within %s", deadlockWithin)
	}
	de := checkDeadlock(t, r, 2)
	t.Logf("reported after %s: %v", time.Since(start).Round(time.Millisecond), de)
	if c := de.Cycle[0]; c.RunID != victim.h.RunID || c.Step != victim.h.Step || c.Holds != victim.held.Key {
		t.Fatalf("cycle starts with %+v, want the victim's run holding %q", de.Cycle[0], victim.held.Key)
	}
	// Exactly one: the other keeps waiting through its own first checks.
	select {
	case r := <-other.wait:
		t.Fatalf("the other run of the cycle ended too: lease %v, error %v", r.lease, r.err)
	case <-time.After(time.Until(start.Add(2500 * time.Millisecond))):
	}
	modesRelease(t, victim.l, victim.held)
	got := modesGot(t, other.wait, "the other run after the victim let go")
	s.noWaitRecords(t, "after both waits ended")
	modesRelease(t, other.l, got)
	modesRelease(t, other.l, other.held)
}

// checkDeadlock fails unless r is a *DeadlockError with a cycle of n runs,
// the victim's first, each named in its message.
func checkDeadlock(t *testing.T, r acquired, n int) *lock.DeadlockError {
	t.Helper()
	var de *lock.DeadlockError
	if !errors.As(r.err, &de) || !errors.Is(r.err, lock.ErrDeadlock) || errors.Is(r.err, lock.ErrBusy) {
		t.Fatalf("got lease %v, error %v; want a *DeadlockError (ErrDeadlock, not ErrBusy)", r.lease, r.err)
	}
	if len(de.Cycle) != n || de.Key != de.Cycle[0].WaitsFor {
		t.Fatalf("cycle %+v for key %q: want %d runs, starting with the victim's wait", de.Cycle, de.Key, n)
	}
	for i, e := range de.Cycle {
		next := de.Cycle[(i+1)%n]
		if e.WaitsFor != next.Holds || e.RunID == next.RunID {
			t.Fatalf("cycle %+v: run %d waits for %q, the next holds %q", de.Cycle, i, e.WaitsFor, next.Holds)
		}
		if msg := de.Error(); !strings.Contains(msg, e.RunID) || !strings.Contains(msg, e.Step) || !strings.Contains(msg, `"`+e.Holds+`"`) {
			t.Fatalf("message %q does not name %+v", msg, e)
		}
	}
	return de
}

// deadlockChain: R1 holds A and waits for B, R2 holds B and waits for C,
// which R3 holds without waiting: no cycle, so nobody fails through the
// first checks. Then R3 asks for A while holding C (the canary): the cycle
// of three is reported to R3, whose wait is the youngest; the others go on.
func (s *suite) deadlockChain(t *testing.T) {
	s.needDeadlocks(t)
	l1, l2, l3 := s.locker(t), s.locker(t), s.locker(t)
	h1, h2, h3 := holder("c1"), holder("c2"), holder("c3")
	a := mustAcquire(t, l1, lock.Request{Key: "ch/A", Holder: h1})
	b := mustAcquire(t, l2, lock.Request{Key: "ch/B", Holder: h2})
	c := mustAcquire(t, l3, lock.Request{Key: "ch/C", Holder: h3})
	ctx := ctxFor(t)
	w1 := waitingAcquire(ctx, t, l1, lock.Request{Key: "ch/B", Holder: h1, Holds: []string{"ch/A"}})
	w2 := waitingAcquire(ctx, t, l2, lock.Request{Key: "ch/C", Holder: h2, Holds: []string{"ch/B"}})
	select { // the window in which the first checks run: nothing may end
	case r := <-w1:
		t.Fatalf("R1 ended without a cycle: lease %v, error %v", r.lease, r.err)
	case r := <-w2:
		t.Fatalf("R2 ended without a cycle: lease %v, error %v", r.lease, r.err)
	case <-time.After(2500 * time.Millisecond):
	}
	w3 := waitingAcquire(ctx, t, l3, lock.Request{Key: "ch/A", Holder: h3, Holds: []string{"ch/C"}})
	de := checkDeadlock(t, recv(t, w3, deadlockWithin, "the run that closed the cycle"), 3)
	if de.Cycle[0].RunID != h3.RunID {
		t.Fatalf("cycle %+v: want R3's wait, the youngest, first", de.Cycle)
	}
	t.Logf("canary: %v", de)
	stillWaiting(t, w1, "R1")
	stillWaiting(t, w2, "R2")
	modesRelease(t, l3, c)
	modesRelease(t, l2, modesGot(t, w2, "R2 after R3 let go of C"))
	modesRelease(t, l2, b)
	modesRelease(t, l1, modesGot(t, w1, "R1 after R2 let go of B"))
	modesRelease(t, l1, a)
	s.noWaitRecords(t, "after every wait ended")
}

// waitRecords: a waiter without Holds, or without a run id, records
// nothing; one with both records its wait, and the record goes with the
// wait whether it is cancelled, runs out or is granted.
func (s *suite) waitRecords(t *testing.T) {
	s.needDeadlocks(t)
	if s.caps.WaitRecords == nil {
		t.Skip("backend cannot list its wait records (Capabilities.WaitRecords is nil)")
	}
	l, ctx := s.locker(t), ctxFor(t)
	lease := mustAcquire(t, l, lock.Request{Key: "wr", Holder: holder("h")})
	plain := lock.Request{Key: "wr", Holder: holder("p")}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w1 := waitingAcquire(cctx, t, s.locker(t), plain)
	noRun := lock.Request{Key: "wr", Holds: []string{"x"}, Holder: lock.Holder{Owner: "n@test"}}
	w2 := waitingAcquire(cctx, t, s.locker(t), noRun)
	s.noWaitRecords(t, "with waiters lacking Holds or a run id")
	rec := lock.Request{Key: "wr", Holds: []string{"x"}, Holder: holder("w")}
	w3 := waitingAcquire(cctx, t, s.locker(t), rec)
	eventually(t, modesWithin, "the waiter with Holds records its wait", func() bool { return len(s.caps.WaitRecords(t)) > 0 })
	cancel()
	for _, w := range []<-chan acquired{w1, w2, w3} {
		if r := recv(t, w, modesWithin, "cancelled waiter"); !errors.Is(r.err, context.Canceled) {
			t.Fatalf("cancelled waiter: %v", r.err)
		}
	}
	s.noWaitRecords(t, "after a cancelled wait")
	rec.Wait = 300 * time.Millisecond
	if _, err := s.locker(t).Acquire(ctx, rec); !errors.Is(err, lock.ErrBusy) {
		t.Fatalf("timed wait: %v, want ErrBusy", err)
	}
	s.noWaitRecords(t, "after a wait that ran out")
	w4 := waitingAcquire(ctx, t, s.locker(t), lock.Request{Key: "wr", Holds: []string{"x"}, Holder: holder("g")})
	eventually(t, modesWithin, "the waiter with Holds records its wait", func() bool { return len(s.caps.WaitRecords(t)) > 0 })
	modesRelease(t, l, lease)
	modesRelease(t, l, modesGot(t, w4, "the waiter with Holds"))
	s.noWaitRecords(t, "after a granted wait")
}

// noWaitRecords fails when the backend holds a wait record.
func (s *suite) noWaitRecords(t *testing.T, when string) {
	t.Helper()
	if s.caps.WaitRecords == nil {
		return
	}
	if recs := s.caps.WaitRecords(t); len(recs) > 0 {
		t.Fatalf("wait records %s: %q, want none", when, recs)
	}
}
