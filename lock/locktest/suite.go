package locktest

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

// Capabilities says which conformance cases a backend supports; a case that
// does not apply is skipped with a logged reason, never silently.
type Capabilities struct {
	// TTL: leases expire by themselves on the server (Redis). Without it,
	// expiry, release-after-expiry and renew-after-expiry cases are skipped.
	TTL bool
	// FIFO: waiters are served in arrival order.
	FIFO bool
	// Modes: Request.Mode Shared is implemented (shared holders together,
	// an exclusive request waits for them and blocks later shared arrivals).
	Modes bool
	// Newest: Request.Queue Newest is implemented (a new arrival supersedes
	// every older waiter at once).
	Newest bool
	// QueueLimit: Request.MaxWaiters is implemented (an arrival that would
	// make the queue longer is turned away at once with QueueFull).
	QueueLimit bool
	// Positions: waiters report their place in line through OnQueue as they
	// move up, and Show lists the queue in order (List counts it).
	Positions bool
	// Deadlocks: a waiting request with Request.Holds records its wait and
	// a wait-for cycle across runs fails one of them with a *DeadlockError.
	Deadlocks bool
	// WaitRecords, if set, lists the wait records the backend holds now
	// (keys or file names), to check that none is written without Holds
	// and none outlives its wait.
	WaitRecords func(t *testing.T) []string
	// Kill, if set, makes a locker's connections die as if its process
	// crashed (for the dead-waiter case). The locker is unusable afterwards.
	Kill func(t *testing.T, l lock.Locker)
}

// Run runs the conformance suite. newLocker returns a fresh locker on the
// same backend (lockers of one backend see each other's locks); the suite
// closes them.
func Run(t *testing.T, newLocker func(t *testing.T) lock.Locker, caps Capabilities) {
	s := &suite{newLocker: newLocker, caps: caps}
	cases := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"MutualExclusion", s.mutualExclusion},
		{"TokenChecks", s.tokenChecks},
		{"Busy", s.busy},
		{"TTLExpiry", s.ttlExpiry},
		{"RenewNeverRecreates", s.renewNeverRecreates},
		{"ReleaseNotOwner", s.releaseNotOwner},
		{"FencingIncreases", s.fencingIncreases},
		{"IdempotentAcquire", s.idempotentAcquire},
		{"Semaphore", s.semaphore},
		{"FIFO", s.fifo},
		{"DeadWaiter", s.deadWaiter},
		{"CrashedHolders", s.crashedHolders},
		{"CancelLeavesNothing", s.cancelLeavesNothing},
		{"OnceMarkers", s.onceMarkers},
		{"HoldersListForce", s.holdersListForce},
		{"ShowOnceMany", s.showOnceMany},
		{"HostileKeys", s.hostileKeys},
		{"SharedExclusive", s.sharedExclusive},
		{"NewestWins", s.newestWins},
		{"QueueFull", s.queueFull},
		{"QueueFullSupersedesNobody", s.queueFullSupersedesNobody},
		{"Positions", s.positions},
		{"DeadWaiterModes", s.deadWaiterModes},
		{"CancelModes", s.cancelModes},
		{"Deadlock", s.deadlock},
		{"DeadlockChain", s.deadlockChain},
		{"DeadlockWaitRecords", s.waitRecords},
	}
	for _, c := range cases {
		t.Run(c.name, c.fn)
	}
}

type suite struct {
	newLocker func(t *testing.T) lock.Locker
	caps      Capabilities
}

func (s *suite) locker(t *testing.T) lock.Locker {
	t.Helper()
	l := s.newLocker(t)
	t.Cleanup(func() { l.Close() })
	return l
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustAcquire(t *testing.T, l lock.Locker, req lock.Request) *lock.Lease {
	t.Helper()
	lease, err := l.Acquire(ctxFor(t), req)
	if err != nil {
		t.Fatalf("acquire %q: %v", req.Key, err)
	}
	return lease
}

func holder(name string) lock.Holder {
	return lock.Holder{Owner: name + "@test", PID: 42, RunID: "run-" + name, Step: "step." + name}
}

// eventually waits for cond with a deadline, polling observable state.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(5 * time.Millisecond) // polling observed state, not synchronising
	}
}

func (s *suite) mutualExclusion(t *testing.T) {
	const workers, rounds = 6, 15
	var inside, overlaps atomic.Int32
	var mu sync.Mutex
	var fences []int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		l := s.locker(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				lease, err := l.Acquire(ctxFor(t), lock.Request{Key: "mutex", Wait: lock.WaitForever, TTL: 10 * time.Second, Holder: holder(fmt.Sprint(w))})
				if err != nil {
					errs <- err
					return
				}
				if inside.Add(1) != 1 {
					overlaps.Add(1)
				}
				mu.Lock()
				fences = append(fences, lease.Fence)
				mu.Unlock()
				inside.Add(-1)
				if err := l.Release(ctxFor(t), lease.Key, lease.Token); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := overlaps.Load(); n != 0 {
		t.Fatalf("%d overlapping critical sections", n)
	}
	for i := 1; i < len(fences); i++ {
		if fences[i] <= fences[i-1] {
			t.Fatalf("fence %d after %d: not strictly increasing in enter order", fences[i], fences[i-1])
		}
	}
	t.Logf("%d acquisitions, 0 overlaps, fences %d..%d", len(fences), fences[0], fences[len(fences)-1])
}

func (s *suite) tokenChecks(t *testing.T) {
	l, ctx := s.locker(t), ctxFor(t)
	lease := mustAcquire(t, l, lock.Request{Key: "tokens"})
	if err := l.Check(ctx, "tokens", lease.Token); err != nil {
		t.Fatalf("check own token: %v", err)
	}
	wrong := lock.NewToken()
	for name, err := range map[string]error{
		"check":   l.Check(ctx, "tokens", wrong),
		"renew":   l.Renew(ctx, "tokens", wrong, time.Minute),
		"release": l.Release(ctx, "tokens", wrong),
		"other":   l.Check(ctx, "tokens-other", lease.Token),
	} {
		if !errors.Is(err, lock.ErrNotHeld) {
			t.Errorf("%s with a wrong token: got %v, want ErrNotHeld", name, err)
		}
	}
	if err := l.Check(ctx, "tokens", lease.Token); err != nil {
		t.Fatalf("lock lost after wrong-token calls: %v", err)
	}
	if err := l.Renew(ctx, "tokens", lease.Token, time.Minute); err != nil {
		t.Fatalf("renew: %v", err)
	}
	if err := l.Release(ctx, "tokens", lease.Token); err != nil {
		t.Fatalf("release: %v", err)
	}
	if err := l.Release(ctx, "tokens", lease.Token); !errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("second release: got %v, want ErrNotHeld", err)
	}
}

func (s *suite) busy(t *testing.T) {
	a, b := s.locker(t), s.locker(t)
	mustAcquire(t, a, lock.Request{Key: "busy", Holder: holder("a")})
	_, err := b.Acquire(ctxFor(t), lock.Request{Key: "busy"})
	var be *lock.BusyError
	if !errors.As(err, &be) || !errors.Is(err, lock.ErrBusy) || be.Timeout {
		t.Fatalf("acquire of a held lock: got %v, want an immediate *BusyError", err)
	}
	if len(be.Holders) != 1 || be.Holders[0].Owner != "a@test" || be.Holders[0].RunID != "run-a" || be.Holders[0].Fence == 0 {
		t.Fatalf("busy holders = %+v, want a@test with its fence", be.Holders)
	}
	start := time.Now()
	_, err = b.Acquire(ctxFor(t), lock.Request{Key: "busy", Wait: 100 * time.Millisecond})
	if !errors.As(err, &be) || !be.Timeout || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("timed wait: got %v after %s, want a timeout *BusyError after 100ms", err, time.Since(start))
	}
	if errors.Is(err, lock.ErrUnavailable) {
		t.Fatalf("contention reported as unavailable: %v", err)
	}
}

func (s *suite) needTTL(t *testing.T) {
	if !s.caps.TTL {
		t.Skip("backend has no server-side lease expiry (Capabilities.TTL is false)")
	}
}

func (s *suite) ttlExpiry(t *testing.T) {
	s.needTTL(t)
	a, b := s.locker(t), s.locker(t)
	lease := mustAcquire(t, a, lock.Request{Key: "ttl", TTL: 150 * time.Millisecond})
	eventually(t, 2*time.Second, "lease expires", func() bool {
		return errors.Is(a.Check(ctxFor(t), "ttl", lease.Token), lock.ErrNotHeld)
	})
	next := mustAcquire(t, b, lock.Request{Key: "ttl", TTL: time.Minute})
	if next.Fence <= lease.Fence {
		t.Fatalf("fence after expiry %d <= %d", next.Fence, lease.Fence)
	}
}
