package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/runner"
	"github.com/zclconf/go-cty/cty"
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

// TestEventMessage_waitAndRunApart: a step line gives its run time and its
// lock wait apart, and a waiting line its place in line.
func TestEventMessage_waitAndRunApart(t *testing.T) {
	done := runner.Event{Type: runner.EventStepDone, Step: "step.deploy", Status: runner.StatusSucceeded,
		Duration: 61 * time.Second, LockWait: 41 * time.Second}
	if got := eventMessage(done, time.Now()); got != "step.deploy: Succeeded after 20s (waited 41s for locks)" {
		t.Errorf("step_done: %q", got)
	}
	done.LockWait = 0
	if got := eventMessage(done, time.Now()); got != "step.deploy: Succeeded after 1m1s" {
		t.Errorf("step_done without a wait: %q", got)
	}
	now := time.Now()
	wait := runner.Event{Type: runner.EventLockWait, Step: "step.deploy", Lock: "deploy/staging", WaitStart: now.Add(-3 * time.Second),
		Holders: []lock.Holder{{Owner: "alice@ci-7", PID: 4211, Since: now.Add(-12 * time.Second)}}, Position: 2, Length: 5}
	want := `step.deploy: Waiting for lock "deploy/staging", held by alice@ci-7, pid 4211, for 12s (2nd of 5 in line, waited 3s)`
	if got := eventMessage(wait, now); got != want {
		t.Errorf("lock_wait:\n got %q\nwant %q", got, want)
	}
	for n, want := range map[int]string{1: "1st", 2: "2nd", 3: "3rd", 4: "4th", 11: "11th", 12: "12th", 13: "13th", 21: "21st", 102: "102nd", 111: "111th"} {
		if got := ordinal(n); got != want {
			t.Errorf("ordinal(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestWriteOutputs_afterFailure: after a run that did not succeed only the
// outputs with known values are printed.
func TestWriteOutputs_afterFailure(t *testing.T) {
	outs := []runner.OutputValue{
		{Name: "known", Value: cty.StringVal("v1")},
		{Name: "secret", Value: cty.StringVal("x"), Sensitive: true},
		{Name: "broken", Value: cty.NilVal},
		{Name: "later", Value: cty.UnknownVal(cty.String)},
	}
	var b strings.Builder
	writeOutputs(&b, outs, false)
	got := b.String()
	if !strings.Contains(got, `known = "v1"`) || !strings.Contains(got, "secret = (sensitive value)") ||
		strings.Contains(got, "broken") || strings.Contains(got, "later") {
		t.Errorf("after a failure:\n%s", got)
	}
	b.Reset()
	writeOutputs(&b, outs, true)
	if !strings.Contains(b.String(), "broken = (error)") || !strings.Contains(b.String(), "later = (not known)") {
		t.Errorf("after success:\n%s", b.String())
	}
}

// TestHumanUI_workflowLock: the lines of a workflow-level lock name its
// address and key without saying "lock" twice; its release is shown; its
// waiting line ends when the steps it decided end without it.
func TestHumanUI_workflowLock(t *testing.T) {
	e, _, errOut := testEnv(nil)
	u := newHumanUI(e)
	now := time.Now()
	holder := lock.Holder{Owner: "alice@ci-7", PID: 4211, Step: "lock.environment", Since: now.Add(-12 * time.Second)}
	wait := runner.Event{Type: runner.EventLockWait, Time: now, Step: "lock.environment", Lock: "deploy/staging",
		WaitStart: now.Add(-3 * time.Second), Holders: []lock.Holder{holder}, Position: 2, Length: 3}
	want := `lock.environment: Waiting for "deploy/staging", held by alice@ci-7, pid 4211, lock.environment, for 12s (2nd of 3 in line, waited 3s)`
	if got := eventMessage(wait, now); got != want {
		t.Errorf("lock_wait:\n got %q\nwant %q", got, want)
	}
	u.event(wait)
	u.event(runner.Event{Type: runner.EventStepSkipped, Time: now, Step: "step.deploy", Lock: "deploy/staging",
		Status: runner.StatusSkipped, Reason: runner.ReasonSuperseded, Message: `superseded in the queue of "deploy/staging" (lock.environment) by bob@ci-9`})
	u.mu.Lock()
	if len(u.waits) != 0 {
		t.Errorf("waiting lines left after the scope was skipped: %v", u.waits)
	}
	u.mu.Unlock()
	for _, ev := range []runner.Event{
		{Type: runner.EventLockAcquired, Step: "lock.environment", Lock: "deploy/staging", Fence: 7},
		{Type: runner.EventLockLost, Step: "lock.environment", Lock: "deploy/staging"},
		{Type: runner.EventLockReleased, Step: "lock.environment", Lock: "deploy/staging"},
		{Type: runner.EventLockReleased, Step: "step.deploy", Lock: "deploy/staging"},
	} {
		u.event(ev)
	}
	u.close()
	got := errOut.String()
	for _, want := range []string{
		`step.deploy: Skipped: superseded in the queue of "deploy/staging" (lock.environment) by bob@ci-9` + "\n",
		`lock.environment: Acquired "deploy/staging" (fencing token 7)` + "\n",
		`lock.environment: Lost "deploy/staging"; stopping the steps in its scope` + "\n",
		`lock.environment: Released "deploy/staging"` + "\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("stderr lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "step.deploy: Released") {
		t.Errorf("a step's own release is shown:\n%s", got)
	}
}
