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
// terminal or a pager that stopped reading does), the step's lock is freed
// once its command is gone, before the output can be written. Before the fix
// the release waited behind the step's last output, and the lock stayed held
// (and renewed) for as long as the output stalled.
func TestRun_interruptedReleasesWhileOutputStalls(t *testing.T) {
	wf := loadWorkflow(t, `
step "a" {
  lock {
    key = "stall"
  }
  kill_timeout = "5s"
  shell = "while :; do echo tick; sleep 0.01; done"
}
`)
	locker := newTestLocker(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stalled, unblock := make(chan struct{}), make(chan struct{})
	var once sync.Once
	done := make(chan *Result, 1)
	go func() {
		res, _ := runWorkflow(t, wf, locker, runSetup{ctx: ctx, on: map[EventType]func(Event){
			EventStepOutput: func(Event) {
				once.Do(func() { close(stalled) })
				<-unblock // the output stalls from the first line on
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
	if li, err := locker.Show(context.Background(), "stall"); err != nil || len(li.Holders) != 1 {
		t.Fatalf("the lock is not held while the step runs: %v %v", li.Holders, err)
	}
	cancel()
	deadline := time.Now().Add(15 * time.Second)
	for {
		li, err := locker.Show(context.Background(), "stall")
		if err != nil {
			t.Fatal(err)
		}
		if len(li.Holders) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the interrupted step's lock is still held while its output stalls")
		}
		time.Sleep(20 * time.Millisecond)
	}
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
