package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// contend runs workers goroutines, each running iters critical sections one
// after another through section(worker, iteration), and returns the wall time.
func contend(t *testing.T, workers, iters int, section func(w, i int) error) time.Duration {
	t.Helper()
	lockstepBin(t) // build first: the timing is the workload's alone
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < iters; i++ {
				if err := section(w, i); err != nil {
					errs <- fmt.Errorf("worker %d iteration %d: %w", w, i, err)
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
	return time.Since(start)
}

// TestSafety_mutexBaseline: 32 lockstep processes at a time contend for one
// key, each running the probe in its critical section; no two sections
// overlap and fencing tokens strictly increase in enter order.
func TestSafety_mutexBaseline(t *testing.T) {
	workers, iters := 32, size(5, 100)
	srv := locktest.StartServer(t, nil)
	records := filepath.Join(t.TempDir(), "records")
	env := []string{"LOCKSTEP_BACKEND=" + srv.URL()}
	took := contend(t, workers, iters, func(w, i int) error {
		p := startLockstep(t, "", env, "exec", "-ttl", "10s", "safety/mutex", "--",
			"teststep", "record", records, fmt.Sprintf("w%d-%d", w, i), "1ms")
		if code := p.wait(t, 5*time.Minute); code != 0 {
			return fmt.Errorf("lockstep exec exited %d: %s", code, p.stderr)
		}
		return nil
	})
	secs := readSections(t, records)
	overlaps := checkOverlapsFile(t, records)
	fences := fenceViolations(secs)
	t.Logf("mutex-baseline: %d processes × %d iterations = %d sections in %s: %d overlaps, %d non-increasing fences (fences %d..%d)",
		workers, iters, len(secs), took.Round(time.Millisecond), overlaps, fences, secs[0].fence, secs[len(secs)-1].fence)
	if len(secs) != workers*iters {
		t.Fatalf("%d sections recorded, want %d", len(secs), workers*iters)
	}
	if overlaps != 0 {
		t.Errorf("checker found %d overlapping critical sections", overlaps)
	}
	if fences != 0 {
		t.Errorf("%d fencing tokens did not increase in enter order", fences)
	}
}

// TestSafety_checkerCanary: the same workload under a broken lock that skips
// NX (SET without NX always "acquires") must make the checker report
// overlaps; otherwise the checker proves nothing.
func TestSafety_checkerCanary(t *testing.T) {
	workers, iters := 32, size(3, 20)
	srv := locktest.StartServer(t, nil)
	a := adminClient(t, srv.Addr)
	records := filepath.Join(t.TempDir(), "records")
	ctx := context.Background()
	took := contend(t, workers, iters, func(w, i int) error {
		token := lock.NewToken()
		// The broken lock: no NX, so every contender gets it.
		if err := a.Set(ctx, "lockstep:canary", token, 10*time.Second).Err(); err != nil {
			return err
		}
		cmd := exec.Command("teststep", "record", records, fmt.Sprintf("w%d-%d", w, i), "20ms")
		cmd.Env = append(os.Environ(), raceNoExitSleep)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("teststep: %v: %s", err, out)
		}
		return a.Del(ctx, "lockstep:canary").Err()
	})
	overlaps := checkOverlapsFile(t, records)
	t.Logf("checker-canary: %d sections under a lock without NX in %s: checker reports %d overlaps",
		workers*iters, took.Round(time.Millisecond), overlaps)
	if overlaps == 0 {
		t.Fatal("the checker found no overlaps under a lock that skips NX: it cannot catch a broken lock")
	}
}
