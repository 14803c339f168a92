package lock_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
)

// within bounds every wait of these tests: generous for a loaded machine.
const within = 15 * time.Second

func newLocal(t *testing.T, dir string) *lock.Local {
	t.Helper()
	l, err := lock.NewLocal(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

type result struct {
	lease *lock.Lease
	err   error
}

// queue starts an acquire in the background and returns once it waits.
func queue(ctx context.Context, t *testing.T, l lock.Locker, req lock.Request) <-chan result {
	t.Helper()
	waiting := make(chan struct{})
	var once sync.Once
	req.OnWait = func([]lock.Holder) { once.Do(func() { close(waiting) }) }
	if req.Wait == 0 {
		req.Wait = lock.WaitForever
	}
	out := make(chan result, 1)
	go func() {
		lease, err := l.Acquire(ctx, req)
		out <- result{lease, err}
	}()
	select {
	case <-waiting:
	case r := <-out:
		t.Fatalf("acquire %q did not wait: %v", req.Key, r.err)
	case <-time.After(within):
		t.Fatalf("acquire %q did not start waiting", req.Key)
	}
	return out
}

func take(t *testing.T, ch <-chan result, what string) *lock.Lease {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("%s: %v", what, r.err)
		}
		return r.lease
	case <-time.After(within):
		t.Fatalf("%s: nothing within %s", what, within)
		return nil
	}
}

func still(t *testing.T, ch <-chan result, what string) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("%s returned (%v, %v) while it must wait", what, r.lease, r.err)
	default:
	}
}

// TestLocal_deadWaiterProcess: a waiter in another process is killed with
// SIGKILL while queued; the waiter behind it gets the lock at the next
// release, and the dead waiter's ticket file is removed (by the time the
// waiter behind it leaves).
func TestLocal_deadWaiterProcess(t *testing.T) {
	if os.Getenv("LOCKSTEP_TEST_HOLD") != "" {
		return
	}
	dir := t.TempDir()
	l, ctx := newLocal(t, dir), context.Background()
	held, err := l.Acquire(ctx, lock.Request{Key: "dead"})
	if err != nil {
		t.Fatal(err)
	}
	child, out := startHelper(t, dir, "dead", true)
	if line, err := out.ReadString('\n'); err != nil || line != "waiting\n" {
		t.Fatalf("child waiter: %q, %v", line, err)
	}
	behind := queue(ctx, t, newLocal(t, dir), lock.Request{Key: "dead"})
	child.Process.Kill()
	child.Wait()
	if err := l.Release(ctx, "dead", held.Token); err != nil {
		t.Fatal(err)
	}
	lease := take(t, behind, "the waiter behind a killed one")
	if lease.Fence <= held.Fence {
		t.Fatalf("fence %d after %d", lease.Fence, held.Fence)
	}
	if err := l.Release(ctx, "dead", lease.Token); err != nil {
		t.Fatal(err)
	}
	if names, _ := filepath.Glob(filepath.Join(dir, "locks", "*", "t*")); len(names) != 0 {
		t.Fatalf("ticket files after everyone left: %v; the dead waiter's was not removed", names)
	}
}

// TestLocal_semaphoreAnyHolderLeaves: in a semaphore of 2, the first waiter
// gets the slot whichever holder leaves, and waiters follow in order.
func TestLocal_semaphoreAnyHolderLeaves(t *testing.T) {
	dir := t.TempDir()
	l, ctx := newLocal(t, dir), context.Background()
	req := lock.Request{Key: "sem", Limit: 2}
	a, err := l.Acquire(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Acquire(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	c := queue(ctx, t, newLocal(t, dir), req)
	d := queue(ctx, t, newLocal(t, dir), req)
	e := queue(ctx, t, newLocal(t, dir), req)
	l.Release(ctx, "sem", b.Token) // the newer holder: the one the waiters do not queue behind
	cl := take(t, c, "first waiter after the second holder left")
	still(t, d, "second waiter")
	l.Release(ctx, "sem", a.Token)
	take(t, d, "second waiter after the first holder left")
	still(t, e, "third waiter")
	l.Release(ctx, "sem", cl.Token)
	take(t, e, "third waiter")
}

// TestLocal_cancelMidQueue: cancelling a waiter in the middle of the queue
// lets the one behind it move up without any release.
func TestLocal_cancelMidQueue(t *testing.T) {
	dir := t.TempDir()
	l, ctx := newLocal(t, dir), context.Background()
	a, err := l.Acquire(ctx, lock.Request{Key: "mid"})
	if err != nil {
		t.Fatal(err)
	}
	bctx, cancel := context.WithCancel(ctx)
	b := queue(bctx, t, newLocal(t, dir), lock.Request{Key: "mid"})
	pos := make(chan lock.QueueStatus, 16)
	c := queue(ctx, t, newLocal(t, dir), lock.Request{Key: "mid", OnQueue: func(s lock.QueueStatus) { pos <- s }})
	if s := <-pos; s.Position != 2 {
		t.Fatalf("third arrival at position %d, want 2", s.Position)
	}
	cancel()
	if r := <-b; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v", r.err)
	}
	still(t, c, "the waiter behind the cancelled one (the lock is held)")
	if li, err := l.Show(ctx, "mid"); err != nil || li.Waiters != 1 {
		t.Fatalf("show after the cancel: %+v, %v", li, err)
	}
	l.Release(ctx, "mid", a.Token)
	take(t, c, "the waiter behind the cancelled one")
}

// TestLocal_newestKeepsFIFOWaiters: a newest-wins arrival supersedes the
// older newest-wins waiters only; a FIFO waiter keeps its place.
func TestLocal_newestKeepsFIFOWaiters(t *testing.T) {
	dir := t.TempDir()
	l, ctx := newLocal(t, dir), context.Background()
	h, err := l.Acquire(ctx, lock.Request{Key: "mixed"})
	if err != nil {
		t.Fatal(err)
	}
	fifo := queue(ctx, t, newLocal(t, dir), lock.Request{Key: "mixed"})
	old := queue(ctx, t, newLocal(t, dir), lock.Request{Key: "mixed", Queue: lock.Newest, Holder: lock.Holder{RunID: "old"}})
	newer := queue(ctx, t, newLocal(t, dir), lock.Request{Key: "mixed", Queue: lock.Newest, Holder: lock.Holder{RunID: "new"}})
	var se *lock.SupersededError
	if r := <-old; !errors.As(r.err, &se) || se.By.RunID != "new" {
		t.Fatalf("older newest-wins waiter: %v, want superseded by run new", r.err)
	}
	still(t, fifo, "the FIFO waiter")
	l.Release(ctx, "mixed", h.Token)
	f := take(t, fifo, "the FIFO waiter")
	still(t, newer, "the newest waiter behind the FIFO one")
	l.Release(ctx, "mixed", f.Token)
	take(t, newer, "the newest waiter")
}

// TestLocal_modesStress: goroutines with lockers of their own take one key
// shared or exclusive at random, some with contexts that cannot be
// cancelled (waits that block in the calling goroutine), some with
// deadlines that may run out: an exclusive holder is always alone, and
// exclusive fences increase in the order the holders entered. The canary
// splits the workers over two directories: the checker must see overlaps.
func TestLocal_modesStress(t *testing.T) {
	dir := t.TempDir()
	n := modesStress(t, func(int) string { return dir }, 200*time.Microsecond)
	if n != 0 {
		t.Fatalf("%d violations (an exclusive holder not alone, or a fence out of order)", n)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "locks", "*", "[tb]*"))
	if len(names) != 0 {
		t.Fatalf("files left in the queue after everyone left: %s", strings.Join(names, " "))
	}
	dirs := []string{t.TempDir(), t.TempDir()}
	if n := modesStress(t, func(w int) string { return dirs[w%2] }, 2*time.Millisecond); n == 0 {
		t.Fatal("canary: workers in two directories never overlapped: the checker sees nothing")
	} else {
		t.Logf("canary (two directories): %d violations seen", n)
	}
}

// modesStress runs the stress workload, worker w on a locker in dir(w), and
// returns the violations its checker saw.
func modesStress(t *testing.T, dir func(w int) string, hold time.Duration) int32 {
	const workers, rounds = 6, 40
	var excl, shared, bad atomic.Int32
	var mu sync.Mutex
	var last int64
	var wg sync.WaitGroup
	for w := range workers {
		l := newLocal(t, dir(w))
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range rounds {
				lease, req := stressAcquire(t, l, w, rng)
				if lease == nil {
					continue
				}
				if req.Mode == lock.Shared {
					if shared.Add(1); excl.Load() != 0 {
						bad.Add(1)
					}
				} else {
					if excl.Add(1) != 1 || shared.Load() != 0 {
						bad.Add(1)
					}
					mu.Lock()
					if lease.Fence <= last {
						bad.Add(1)
					}
					last = max(last, lease.Fence)
					mu.Unlock()
				}
				time.Sleep(time.Duration(rng.Int64N(int64(hold)))) // hold briefly so holders meet
				if req.Mode == lock.Shared {
					shared.Add(-1)
				} else {
					excl.Add(-1)
				}
				if err := l.Release(context.Background(), "stress", lease.Token); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d workers x %d rounds: %d violations", workers, rounds, bad.Load())
	return bad.Load()
}

// stressAcquire takes the stress key in a random mode; every third worker
// uses short deadlines, which may run out (lease nil then).
func stressAcquire(t *testing.T, l lock.Locker, w int, rng *rand.Rand) (*lock.Lease, lock.Request) {
	ctx, req := context.Background(), lock.Request{Key: "stress", Wait: lock.WaitForever}
	if rng.IntN(2) == 0 {
		req.Mode = lock.Shared
	}
	if w%3 == 2 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(rng.IntN(3))*time.Millisecond)
		defer cancel()
	}
	lease, err := l.Acquire(ctx, req)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Error(err)
	}
	return lease, req
}

func ExampleLocal() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	l, _ := lock.NewLocal(dir, nil)
	ctx := context.Background()
	lease, _ := l.Acquire(ctx, lock.Request{Key: "deploy/staging", Mode: lock.Shared})
	li, _ := l.Show(ctx, "deploy/staging")
	fmt.Println(len(li.Holders), li.Mode)
	l.Release(ctx, lease.Key, lease.Token)
	// Output: 1 shared
}

// TestLocal_queueFullProbeSeesForceReleased: a request with MaxWaiters
// probes the waiters ahead of it when they would fill the queue. One of
// them may have become the holder and been force-released by another
// process since the request listed the queue: its ticket is renamed
// (….r), and it still blocks the queue until its holder lets go. Before the
// fix the probe took the missing name for a ticket that left: the request
// entered the full queue (it waited 15 s here) and counted the holder gone
// for the rest of its wait, which a later look at the queue could have
// turned into a grant beside it.
func TestLocal_queueFullProbeSeesForceReleased(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	first := holdOn(t, dir, lock.Request{Key: "k"})
	second := newLocal(t, dir)
	secondGot := queue(ctx, t, second, lock.Request{Key: "k"})
	var secondLease *lock.Lease
	third := newLocal(t, dir)
	lock.SetLocalHook(third, func(stage string) {
		if stage != "probe" || secondLease != nil {
			return
		}
		// Between the third request's listing and its probe: the first
		// holder leaves, the second request gets the lock, and another
		// process force-releases it (renames its ticket, as ForceRelease
		// does from outside the holder's process).
		first.release(t)
		secondLease = take(t, secondGot, "the second request")
		ts, _ := filepath.Glob(filepath.Join(dir, "locks", "*", "t*"))
		if len(ts) != 2 {
			t.Fatalf("tickets %q, want the second request's and the third's", ts)
		}
		if err := os.Rename(ts[0], ts[0]+".r"); err != nil {
			t.Fatal(err)
		}
	})
	lease, err := third.Acquire(ctx, lock.Request{Key: "k", Wait: within, MaxWaiters: 1})
	if secondLease == nil {
		t.Fatal("the third request did not probe the queue")
	}
	if err == nil {
		third.Release(ctx, lease.Key, lease.Token)
		t.Fatal("the third request got the lock while the force-released holder still held it")
	}
	var be *lock.BusyError
	if !errors.As(err, &be) || !be.QueueFull {
		t.Errorf("the third request: %v, want the queue full", err)
	}
	if err := second.Release(ctx, secondLease.Key, secondLease.Token); err != nil && !errors.Is(err, lock.ErrNotHeld) {
		t.Fatal(err)
	}
}

// TestLocal_newestWinsWithoutDoorbell: a newest-wins waiter that could not
// make its doorbell (mkfifo failed) still learns that a newer arrival
// superseded it while the lock is held, by looking at the queue every
// second. Before, it learned only when the holder let go.
func TestLocal_newestWinsWithoutDoorbell(t *testing.T) {
	restore := lock.SetNoDoorbells(true)
	defer restore()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := holdOn(t, dir, lock.Request{Key: "k"})
	defer h.release(t)
	older := queue(ctx, t, newLocal(t, dir), lock.Request{Key: "k", Queue: lock.Newest, Holder: lock.Holder{RunID: "older"}})
	newer := queue(ctx, t, newLocal(t, dir), lock.Request{Key: "k", Queue: lock.Newest, Holder: lock.Holder{RunID: "newer"}})
	select {
	case r := <-older:
		var se *lock.SupersededError
		if !errors.As(r.err, &se) || se.By.RunID != "newer" {
			t.Fatalf("the older waiter: lease %v, error %v; want superseded by the newer", r.lease, r.err)
		}
	case <-time.After(within):
		t.Fatal("the older waiter was not superseded while the lock was held")
	}
	select {
	case r := <-newer:
		t.Fatalf("the newer waiter ended while the lock was held: %v", r.err)
	default:
	}
}

// TestLocal_newestWinsOnlyByQueuedArrivals: an older newest-wins waiter is
// superseded only by an arrival that queued, not by one that tried once
// (exec -timeout 0s) or found the queue full and left: their tickets exist
// for a moment. With a look at the queue every second (no doorbell; always
// on Windows) the older waiter met such tickets and ended superseded by a
// run that never waited (review finding).
func TestLocal_newestWinsOnlyByQueuedArrivals(t *testing.T) {
	for _, bells := range []bool{true, false} {
		t.Run(fmt.Sprintf("doorbells %v", bells), func(t *testing.T) {
			restore := lock.SetNoDoorbells(!bells)
			defer restore()
			dir := t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			h := holdOn(t, dir, lock.Request{Key: "k"})
			defer h.release(t)
			older := queue(ctx, t, newLocal(t, dir), lock.Request{Key: "k", Queue: lock.Newest, Holder: lock.Holder{RunID: "older"}})
			fifo := queue(ctx, t, newLocal(t, dir), lock.Request{Key: "k", Holder: lock.Holder{RunID: "fifo"}})
			// Refused as queue full, its ticket kept for 1.5 s (a look
			// of the older waiter falls in it).
			full := newLocal(t, dir)
			lock.SetLocalHook(full, func(stage string) {
				if stage == "probe" {
					time.Sleep(1500 * time.Millisecond)
				}
			})
			_, err := full.Acquire(ctx, lock.Request{Key: "k", Queue: lock.Newest, MaxWaiters: 1, Wait: lock.WaitForever,
				Holder: lock.Holder{RunID: "full"}})
			var be *lock.BusyError
			if !errors.As(err, &be) || !be.QueueFull {
				t.Fatalf("the arrival behind a full queue: %v, want the queue full", err)
			}
			// Tried once, again and again, for 2 s.
			var wg sync.WaitGroup
			deadline := time.Now().Add(2 * time.Second)
			for range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					l := newLocal(t, dir)
					for time.Now().Before(deadline) {
						_, err := l.Acquire(ctx, lock.Request{Key: "k", Queue: lock.Newest, Holder: lock.Holder{RunID: "once"}})
						var be *lock.BusyError
						if !errors.As(err, &be) {
							t.Errorf("a try-once arrival: %v, want busy", err)
							return
						}
					}
				}()
			}
			wg.Wait()
			select {
			case r := <-older:
				t.Fatalf("the older waiter ended though no newer request queued: lease %v, error %v", r.lease, r.err)
			default:
			}
			// One that queues still supersedes it.
			newer := queue(ctx, t, newLocal(t, dir), lock.Request{Key: "k", Queue: lock.Newest, Holder: lock.Holder{RunID: "newer"}})
			var r result
			select {
			case r = <-older:
			case <-time.After(within):
				t.Fatal("the older waiter was not superseded by one that queued")
			}
			var se *lock.SupersededError
			if !errors.As(r.err, &se) || se.By.RunID != "newer" {
				t.Fatalf("the older waiter: lease %v, error %v; want superseded by the newer", r.lease, r.err)
			}
			_, _ = newer, fifo
		})
	}
}
