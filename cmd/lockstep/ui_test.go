package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/runner"
)

// TestHumanUI_waitingLineInLog checks the CI-log form of the waiting line: it
// names the holder, is printed when the wait starts and again every
// waitRefresh (not more often), and stops once the lock is acquired.
func TestHumanUI_waitingLineInLog(t *testing.T) {
	e, _, errOut := testEnv(nil)
	u := newHumanUI(e)
	defer u.close()
	start := time.Now()
	holder := lock.Holder{Owner: "alice@bastion-2", PID: 4211, Step: "step.failover", Since: start.Add(-130 * time.Second)}
	u.event(runner.Event{Type: runner.EventLockWait, Time: start, Step: "step.failover", Lock: "cluster/orders",
		Holders: []lock.Holder{holder}, WaitStart: start})

	u.mu.Lock()
	u.redrawWaits(start.Add(time.Second)) // too soon: nothing new
	u.redrawWaits(start.Add(waitRefresh))
	u.mu.Unlock()
	u.event(runner.Event{Type: runner.EventLockAcquired, Time: start.Add(6 * time.Second), Step: "step.failover", Lock: "cluster/orders", Fence: 9})
	u.mu.Lock()
	u.redrawWaits(start.Add(2 * waitRefresh)) // no longer waiting
	u.mu.Unlock()

	got := errOut.String()
	if n := strings.Count(got, "Waiting for lock"); n != 2 {
		t.Errorf("waiting line printed %d times, want 2:\n%s", n, got)
	}
	if !strings.Contains(got, `step.failover: Waiting for lock "cluster/orders", held by alice@bastion-2, pid 4211, step.failover, for `) {
		t.Errorf("waiting line does not name the holder:\n%s", got)
	}
	if !strings.Contains(got, "(waited 5s)") {
		t.Errorf("refreshed line does not say how long we waited:\n%s", got)
	}
	if !strings.Contains(got, `Acquired lock "cluster/orders" (fencing token 9)`) {
		t.Errorf("no acquired line:\n%s", got)
	}
	if strings.Contains(got, "\r") {
		t.Errorf("carriage returns in a log (not a terminal):\n%q", got)
	}
}

// TestHumanUI_prefixAndSummary checks step output prefixes and the summary.
func TestHumanUI_prefixAndSummary(t *testing.T) {
	e, out, errOut := testEnv(nil)
	u := newHumanUI(e)
	u.prefix = true
	u.event(runner.Event{Type: runner.EventStepOutput, Step: `step.restart["web-1"]`, Stream: "stdout", Line: "restarting"})
	u.event(runner.Event{Type: runner.EventStepOutput, Step: "step.a", Stream: "stderr", Line: "warning"})
	res := &runner.Result{Outcome: runner.OutcomeFailed, Duration: 2 * time.Second, Instances: []*runner.InstanceResult{
		{Address: "step.a", Status: runner.StatusFailed, Reason: runner.ReasonExit, Err: errors.New("exited with code 3"), Duration: time.Second},
		{Address: "step.b", Status: runner.StatusNotRun, Reason: runner.ReasonDependency},
	}}
	u.finish(nil, res)
	u.close()
	if out.String() != "step.restart[\"web-1\"]: restarting\n" {
		t.Errorf("stdout %q", out.String())
	}
	got := errOut.String()
	for _, want := range []string{"step.a: warning\n", "STEP", "step.a  failed (exit)", "step.b  not_run (dependency failed)", "Run failed: 0 succeeded, 0 skipped, 1 failed, 1 not run"} {
		if !strings.Contains(got, want) {
			t.Errorf("stderr lacks %q:\n%s", want, got)
		}
	}
}
