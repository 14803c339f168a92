package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/lockstep-dev/lockstep/lock"
)

// TestRun_leftoverStoppedBeforeRelease: a command that exits and leaves a
// process running in its group (a shell's background job) has that process
// stopped before its lock is released, so nothing of the step runs without
// the lock. Before the fix the lock was released at once and the background
// job ran on, unlocked, until lockstep exited.
func TestRun_leftoverStoppedBeforeRelease(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "bg.pid")
	wf := loadWorkflow(t, fmt.Sprintf(`
step "a" {
  lock {
    key = "leftover"
  }
  shell = "sleep 100 >/dev/null 2>&1 & echo $! > %s"
}
`, pidFile))
	var pid, aliveAtRelease atomic.Int64
	aliveAtRelease.Store(-1)
	start := time.Now()
	res, log := runWorkflow(t, wf, newTestLocker(t), runSetup{on: map[EventType]func(Event){
		EventLockReleased: func(Event) {
			b, err := os.ReadFile(pidFile)
			n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil || n <= 1 {
				return
			}
			pid.Store(int64(n))
			if running(n) {
				aliveAtRelease.Store(1)
			} else {
				aliveAtRelease.Store(0)
			}
		},
	}})
	if n := int(pid.Load()); n > 1 {
		t.Cleanup(func() { syscall.Kill(n, syscall.SIGKILL) })
	}
	if res.Outcome != OutcomeSucceeded {
		t.Fatalf("outcome %v, want succeeded (the command itself exited 0)", res.Outcome)
	}
	if len(log.ofType(EventLockReleased)) != 1 {
		t.Fatalf("%d lock_released events, want 1", len(log.ofType(EventLockReleased)))
	}
	switch aliveAtRelease.Load() {
	case -1:
		t.Fatal("the background job's pid was not written before the release")
	case 1:
		t.Fatalf("the lock was released while the background job (pid %d) the command left in its group still ran", pid.Load())
	}
	// The job took SIGTERM: the default kill_timeout (10s) did not run out.
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("the run took %s: the background job was not stopped by SIGTERM", d)
	}
}

// running reports whether process pid exists and is not a zombie.
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}

// TestRun_interruptedReleasesWhileOutputStalls: when the run is interrupted
// while lockstep's output is stalled (OnEvent blocks, as a write to a paused
// terminal or a pager that stopped reading does), the step's lock — and a
// workflow-level lock around it — is freed once its command is gone, before
// the output can be written. Before the fix the release waited behind the
// step's last output, and the lock stayed held (and renewed) for as long as
// the output stalled; a workflow-level lock did until the second fix. Its
// lock_released event still comes after the step's end.
func TestRun_interruptedReleasesWhileOutputStalls(t *testing.T) {
	const step = `
step "a" {
  lock {
    key = "stall"
  }
  kill_timeout = "5s"
  shell = "while :; do echo tick; sleep 0.01; done"
}
`
	const workflowLock = `
lock "env" {
  key   = "env"
  steps = [step.a, step.b]
}
step "b" {
  depends_on = [step.a]
  shell      = "true"
}
`
	for _, tc := range []struct {
		name string
		src  string
		keys []string
	}{
		{"step lock", step, []string{"stall"}},
		{"workflow-level lock", step + workflowLock, []string{"stall", "env"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wf := loadWorkflow(t, tc.src)
			locker := newTestLocker(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stalled, unblock := make(chan struct{}), make(chan struct{})
			var once sync.Once
			type outcome struct {
				res *Result
				log *eventLog
			}
			done := make(chan outcome, 1)
			go func() {
				res, log := runWorkflow(t, wf, locker, runSetup{ctx: ctx, on: map[EventType]func(Event){
					EventStepOutput: func(Event) {
						once.Do(func() { close(stalled) })
						<-unblock // the output stalls from the first line on
					},
				}})
				done <- outcome{res, log}
			}()
			flow := sync.OnceFunc(func() { close(unblock) })
			defer flow()
			select {
			case <-stalled:
			case <-time.After(30 * time.Second):
				t.Fatal("the step printed nothing")
			}
			for _, key := range tc.keys {
				if li, err := locker.Show(context.Background(), key); err != nil || len(li.Holders) != 1 {
					t.Fatalf("lock %q is not held while the step runs: %v %v", key, li.Holders, err)
				}
			}
			cancel()
			deadline := time.Now().Add(15 * time.Second)
			for _, key := range tc.keys {
				for {
					li, err := locker.Show(context.Background(), key)
					if err != nil {
						t.Fatal(err)
					}
					if len(li.Holders) == 0 {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("lock %q is still held while the interrupted step's output stalls", key)
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			flow()
			var o outcome
			select {
			case o = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("the run did not end once the output flowed again")
			}
			if o.res.Outcome != OutcomeInterrupted {
				t.Errorf("outcome %v, want interrupted", o.res.Outcome)
			}
			// Every lock still says it was released, after the step ended.
			var seq []string
			for _, ev := range o.log.events {
				switch {
				case ev.Type == EventLockReleased:
					seq = append(seq, "released "+ev.Lock)
				case ev.Type == EventStepDone && ev.Step == "step.a":
					seq = append(seq, "done step.a")
				}
			}
			want := []string{"released stall", "done step.a"}
			if len(tc.keys) > 1 {
				want = append(want, "released env")
			}
			if strings.Join(seq, ", ") != strings.Join(want, ", ") {
				t.Errorf("events %q, want %q", seq, want)
			}
		})
	}
}

// TestRun_workflowLockFreedWhileTheLoopWaitsToWrite: as the workflow-level
// case of TestRun_interruptedReleasesWhileOutputStalls, with the scheduling
// loop itself waiting to write an event (the lock_acquired of another
// workflow-level lock, granted after the output stalled). The interrupted
// instance told the loop, which alone could free the lock, so it stayed held
// for as long as the output stalled (review finding); the instances now
// free it themselves.
func TestRun_workflowLockFreedWhileTheLoopWaitsToWrite(t *testing.T) {
	wf := loadWorkflow(t, `
lock "env" {
  key   = "env"
  steps = [step.a]
}
lock "other" {
  key   = "other"
  steps = [step.c]
}
step "a" {
  kill_timeout = "5s"
  shell        = "while :; do echo tick; sleep 0.01; done"
}
step "c" {
  shell = "sleep 30"
}
`)
	locker := newTestLocker(t)
	bg := context.Background()
	outside, err := locker.Local.Acquire(bg, lock.Request{Key: "other", TTL: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	stalled, unblock := make(chan struct{}), make(chan struct{})
	var once sync.Once
	done := make(chan *Result, 1)
	go func() {
		res, _ := runWorkflow(t, wf, locker, runSetup{ctx: ctx, on: map[EventType]func(Event){
			EventStepOutput: func(Event) {
				once.Do(func() { close(stalled) })
				<-unblock
			},
		}})
		done <- res
	}()
	flow := sync.OnceFunc(func() { close(unblock) })
	defer flow()
	select {
	case <-stalled:
	case <-time.After(30 * time.Second):
		t.Fatal("the step printed nothing")
	}
	// The run gets "other" now; the loop's lock_acquired waits behind the
	// stalled output.
	if err := locker.Local.Release(bg, "other", outside.Token); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the run to hold \"other\"", 15*time.Second, func() bool {
		li, err := locker.Show(bg, "other")
		return err == nil && len(li.Holders) == 1
	})
	time.Sleep(200 * time.Millisecond) // its grant reaches the loop
	cancel()
	waitFor(t, "\"env\" to be freed while the output stalls", 15*time.Second, func() bool {
		li, err := locker.Show(bg, "env")
		return err == nil && len(li.Holders) == 0
	})
	flow()
	select {
	case res := <-done:
		if res.Outcome != OutcomeInterrupted {
			t.Errorf("outcome %v, want interrupted", res.Outcome)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the run did not end once the output flowed again")
	}
}

// TestRun_stalledOutputLosesNothing: output a command wrote before it
// exited reaches the events even when writing them out stalled for longer
// than the 2s lockstep waits for a pipe held open by others. Before, the
// pipes were closed 2s after the exit whatever the reading was doing, and
// the step's last line ("bye", from its SIGTERM trap) was lost.
func TestRun_stalledOutputLosesNothing(t *testing.T) {
	wf := loadWorkflow(t, `
step "a" {
  shell = "trap 'echo bye; exit 1' TERM; echo first; while :; do sleep 0.05; done"
}
`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	res, log := runWorkflow(t, wf, newTestLocker(t), runSetup{ctx: ctx, on: map[EventType]func(Event){
		EventStepOutput: func(Event) {
			once.Do(func() {
				cancel()                              // the interrupt comes while
				time.Sleep(outputDrain + time.Second) // the output stalls
			})
		},
	}})
	if res.Outcome != OutcomeInterrupted {
		t.Errorf("outcome %v, want interrupted", res.Outcome)
	}
	var lines []string
	for _, ev := range log.ofType(EventStepOutput) {
		if ev.Stream == "stdout" { // stderr may have the shell's "Terminated"
			lines = append(lines, ev.Line)
		}
	}
	if strings.Join(lines, "|") != "first|bye" {
		t.Errorf("output %q, want [first bye]", lines)
	}
}

// releaseWatcher is a local backend that records, at each release, whether
// the process in pidFile still ran.
type releaseWatcher struct {
	*lock.Local
	pidFile     string
	aliveAtFree atomic.Int32 // releases while the process ran
	released    atomic.Int32
}

func (w *releaseWatcher) Release(ctx context.Context, key, token string) error {
	if b, err := os.ReadFile(w.pidFile); err == nil {
		if n, _ := strconv.Atoi(strings.TrimSpace(string(b))); n > 1 && running(n) {
			w.aliveAtFree.Add(1)
		}
	}
	w.released.Add(1)
	return w.Local.Release(ctx, key, token)
}

// TestRun_killAtOnceReleasesAfterTheCommand: a step killed at once (a second
// signal during the stop's grace) releases its lock only once its command is
// gone, also now that an interrupted step's locks are released before its
// output is written (that early release first came before the killed
// command had exited: 3 times in 10 in the review's run).
func TestRun_killAtOnceReleasesAfterTheCommand(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "sh.pid")
	wf := loadWorkflow(t, fmt.Sprintf(`
step "a" {
  lock {
    key = "killed"
  }
  kill_timeout = "30s"
  shell = "trap '' TERM; echo $$ > %s; echo started; while :; do :; done"
}
`, pidFile))
	l, err := lock.NewLocal(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		os.Remove(pidFile)
		w := &releaseWatcher{Local: l, pidFile: pidFile}
		plan, diags := NewPlan(wf, nil)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		ctx, cancel := context.WithCancel(context.Background())
		var r *Runner
		var once sync.Once
		r = New(plan, Options{Locker: w, Variables: map[string]cty.Value{}, OnEvent: func(ev Event) {
			if ev.Type == EventStepOutput {
				once.Do(func() {
					cancel() // the first signal: SIGTERM, which the step ignores
					go func() {
						time.Sleep(50 * time.Millisecond)
						r.Kill() // the second: SIGKILL at once
					}()
				})
			}
		}})
		res := r.Run(ctx)
		cancel()
		if res.Outcome != OutcomeInterrupted {
			t.Fatalf("outcome %v, want interrupted", res.Outcome)
		}
		if w.released.Load() != 1 {
			t.Fatalf("%d releases, want 1", w.released.Load())
		}
		if w.aliveAtFree.Load() != 0 {
			t.Fatal("the lock was released while the killed command still ran")
		}
	}
}
