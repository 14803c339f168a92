package lock_test

// The race of collection with acquires (local_gc.go): an acquire that
// opened a key's counter just before a collector removed it, and a stress
// run of acquirers with a collector sweeping without pause, each with its
// canary.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
)

// TestLocal_collectWhileOpening: the race a collector has with an acquire
// that opened the key's counter just before the collector removed it. A
// pauses after opening the counter; the key is collected; A resumes, and
// pauses again once it has chosen its fence; B takes the key; A resumes.
// Exactly one of them may hold: A finds its counter unlinked when it gets
// its lock and starts over in B's directory. The canary skips that check:
// A then orders itself by the dead counter and both hold.
func TestLocal_collectWhileOpening(t *testing.T) {
	for _, canary := range []bool{false, true} {
		name := map[bool]string{false: "checked", true: "canary: no check"}[canary]
		t.Run(name, func(t *testing.T) {
			a, b := staleCounterRace(t, canary)
			both := a.err == nil && b.err == nil
			t.Logf("A: fence %v, %v; B: fence %v, %v", fenceOf(a), a.err, fenceOf(b), b.err)
			if both != canary {
				t.Errorf("both hold: %v, want %v", both, canary)
			}
			if !canary && (a.err != nil || b.err == nil || !errors.Is(b.err, lock.ErrBusy)) {
				t.Errorf("A: %v, B: %v; want A holding and B busy", a.err, b.err)
			}
		})
	}
}

func fenceOf(r result) int64 {
	if r.lease == nil {
		return 0
	}
	return r.lease.Fence
}

// staleCounterRace plays the interleaving of TestLocal_collectWhileOpening
// and returns what A's and B's acquires returned.
func staleCounterRace(t *testing.T, canary bool) (ra, rb result) {
	dir := t.TempDir()
	ctx := context.Background()
	old := takeAndRelease(t, newLocal(t, dir), "k")
	a, c := newLocal(t, dir), newLocal(t, dir)
	lock.SetLocalKeepIdle(c, time.Nanosecond)
	pause := map[string]chan chan struct{}{"opened": make(chan chan struct{}, 1), "chosen": make(chan chan struct{}, 1)}
	lock.SetLocalHook(a, func(stage string) {
		select {
		case ch := <-pause[stage]: // the first time only
			<-ch
		default:
		}
	})
	if canary {
		lock.SkipLocalCounterCheck(a)
	}
	opened, chosen := make(chan struct{}), make(chan struct{})
	pause["opened"] <- opened
	aDone := make(chan result, 1)
	go func() { l, err := a.Acquire(ctx, lock.Request{Key: "k"}); aDone <- result{l, err} }()
	waitUntil(t, within, "A to open the counter", func() bool { return len(pause["opened"]) == 0 })
	pause["chosen"] <- chosen
	if n := lock.CollectLocal(c); n != 1 {
		t.Fatalf("the idle key was not collected (%d) while A had only opened its counter", n)
	}
	close(opened)
	waitUntil(t, within, "A to choose its fence", func() bool { return len(pause["chosen"]) == 0 })
	for ms := time.Now().UnixMilli(); time.Now().UnixMilli() <= ms; { // B's clock floor above A's
		time.Sleep(100 * time.Microsecond)
	}
	bDone := make(chan result, 1)
	go func() { l, err := newLocal(t, dir).Acquire(ctx, lock.Request{Key: "k"}); bDone <- result{l, err} }()
	if canary { // the worst case for A: B done before A creates its ticket
		rb = <-bDone
	}
	close(chosen)
	ra = <-aDone
	if !canary {
		rb = <-bDone
	}
	if ra.err == nil && ra.lease.Fence <= old {
		t.Errorf("A's fence %d not above the collected key's %d", ra.lease.Fence, old)
	}
	return ra, rb
}

// TestLocal_collectStress: workers with lockers of their own take three
// keys exclusively at random, pausing between rounds so that keys fall
// idle, some with deadlines that may run out, while a collector with an
// idle time of 1 ns sweeps without pause: every holder is alone on its key
// and each key's fences increase in the order the holders entered, across
// the collections. The canary collects naively (a key directory without
// tickets is removed, no lock taken): the checker must see overlaps.
func TestLocal_collectStress(t *testing.T) {
	if os.Getenv("LOCKSTEP_TEST_COLLECT") != "" {
		return
	}
	for _, child := range []bool{false, true} {
		t.Run(map[bool]string{false: "collector goroutine", true: "collector process"}[child], func(t *testing.T) {
			dir := t.TempDir()
			c := newLocal(t, dir)
			lock.SetLocalKeepIdle(c, time.Nanosecond)
			collect := func() int { return lock.CollectLocal(c) }
			var childCount func() int64
			if child {
				collect, childCount = startCollector(t, dir)
			}
			st := collectStress(t, dir, collect, true)
			if child {
				st.collected = childCount()
			}
			t.Logf("%d sections, %d keys collected meanwhile, %d violations", st.sections, st.collected, st.violations)
			if st.violations != 0 {
				t.Errorf("%d violations (a holder not alone, or a fence out of order)", st.violations)
			}
			if st.collected == 0 {
				t.Error("no key was collected during the run: the test proves nothing")
			}
			lock.CollectLocal(c)
			if ds := keyDirs(t, dir); len(ds) != 0 {
				t.Errorf("left after the last sweep: %v", ds)
			}
		})
	}
	var st stressStats
	for run := 1; run <= 5 && st.violations == 0; run++ { // the race is narrow: a few runs at most
		naive := t.TempDir()
		st = collectStress(t, naive, func() int { return naiveCollect(naive) }, false)
		t.Logf("canary run %d (naive collector): %d sections, %d keys removed, %d violations", run, st.sections, st.collected, st.violations)
	}
	if st.violations == 0 {
		t.Error("canary: a collector that takes no lock caused no violation: the checker sees nothing")
	}
}

// startCollector starts TestLocalCollectHelper sweeping dir in a loop in a
// child process. collect, for collectStress's loop, does nothing but pace
// it; count stops the child and returns how many keys it removed.
func startCollector(t *testing.T, dir string) (collect func() int, count func() int64) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestLocalCollectHelper$")
	cmd.Env = append(os.Environ(), "LOCKSTEP_TEST_COLLECT="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	r := bufio.NewReader(out)
	if line, err := r.ReadString('\n'); line != "sweeping\n" {
		t.Fatalf("collector process: %q, %v", line, err)
	}
	count = func() int64 {
		stdin.Close()
		line, err := r.ReadString('\n')
		n, perr := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(line), "removed "), 10, 64)
		if err != nil || perr != nil {
			t.Fatalf("collector process: %q, %v", line, err)
		}
		cmd.Wait()
		return n
	}
	return func() int { time.Sleep(time.Millisecond); return 0 }, count
}

// TestLocalCollectHelper is the collector process of TestLocal_collectStress:
// it sweeps its directory (idle time 1 ns) without pause until its stdin
// closes, then prints how many keys it removed.
func TestLocalCollectHelper(t *testing.T) {
	dir := os.Getenv("LOCKSTEP_TEST_COLLECT")
	if dir == "" {
		t.Skip("helper process only")
	}
	l := newLocal(t, dir)
	lock.SetLocalKeepIdle(l, time.Nanosecond)
	stop := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(stop) }()
	fmt.Println("sweeping")
	n := 0
	for {
		select {
		case <-stop:
			fmt.Printf("removed %d\n", n)
			return
		default:
			n += lock.CollectLocal(l)
		}
	}
}

// naiveCollect removes every key directory in which it sees no ticket,
// taking no lock: the race the real collector must not have.
func naiveCollect(dir string) int {
	ds, _ := os.ReadDir(filepath.Join(dir, "locks"))
	n := 0
	for _, d := range ds {
		p := filepath.Join(dir, "locks", d.Name())
		if ts, _ := filepath.Glob(filepath.Join(p, "t*")); len(ts) == 0 && os.RemoveAll(p) == nil {
			n++
		}
	}
	return n
}

type stressStats struct{ sections, collected, violations int64 }

// stressCheck is the checker of collectStress: per key, how many are
// inside and the last fence that entered.
type stressCheck struct {
	inside             [3]atomic.Int32
	mu                 sync.Mutex
	last               [3]int64
	sections, overlaps atomic.Int64
	back               atomic.Int64 // fences not above the last one of their key
}

// enter and leave bracket a holder's section on key k.
func (c *stressCheck) enter(t *testing.T, k int, fence int64) {
	c.sections.Add(1)
	if c.inside[k].Add(1) != 1 {
		c.overlaps.Add(1)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if fence <= c.last[k] {
		c.back.Add(1)
		t.Logf("key %d: fence %d after %d", k, fence, c.last[k])
	}
	c.last[k] = max(c.last[k], fence)
}

func (c *stressCheck) leave(k int) { c.inside[k].Add(-1) }

// collectStress runs the workers on dir while collect sweeps in a loop.
// With strict, an error of an acquire or a release fails the test.
func collectStress(t *testing.T, dir string, collect func() int, strict bool) stressStats {
	const workers = 6
	var chk stressCheck
	var collected atomic.Int64
	stop, swept := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(swept)
		for {
			select {
			case <-stop:
				return
			default:
				collected.Add(int64(collect()))
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range workers {
		l := newLocal(t, dir)
		wg.Go(func() { stressWorker(t, l, w, &chk, strict) })
	}
	wg.Wait()
	close(stop)
	<-swept
	t.Logf("overlaps %d, fences out of order %d", chk.overlaps.Load(), chk.back.Load())
	return stressStats{chk.sections.Load(), collected.Load(), chk.overlaps.Load() + chk.back.Load()}
}

// stressWorker takes one of three keys at random, 150 times, holding it
// briefly and pausing after it so that keys fall idle.
func stressWorker(t *testing.T, l lock.Locker, w int, chk *stressCheck, strict bool) {
	keys := []string{"a", "b", "c"}
	rng := rand.New(rand.NewPCG(uint64(w), 11))
	for range 150 {
		k := rng.IntN(len(keys))
		lease := stressTake(t, l, keys[k], w, rng, strict)
		if lease == nil {
			continue
		}
		chk.enter(t, k, lease.Fence)
		time.Sleep(time.Duration(rng.IntN(100)) * time.Microsecond) // hold briefly so holders meet
		chk.leave(k)
		if err := l.Release(context.Background(), lease.Key, lease.Token); err != nil && strict {
			t.Error(err)
		}
		time.Sleep(time.Duration(rng.IntN(300)) * time.Microsecond) // let keys fall idle
	}
}

// stressTake takes key, waiting; every third worker uses short deadlines,
// which may run out (nil then).
func stressTake(t *testing.T, l lock.Locker, key string, w int, rng *rand.Rand, strict bool) *lock.Lease {
	ctx := context.Background()
	if w%3 == 2 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(rng.IntN(3))*time.Millisecond)
		defer cancel()
	}
	lease, err := l.Acquire(ctx, lock.Request{Key: key, Wait: lock.WaitForever})
	if err != nil && !errors.Is(err, context.DeadlineExceeded) && strict {
		t.Error(err)
	}
	return lease
}
