package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/lockstep-dev/lockstep/lock"
)

// downLocker is the test locker (local backend) whose renewals fail as an unreachable backend's
// would while down is set.
type downLocker struct {
	*countingLocker
	down atomic.Bool
}

const refused = "dial tcp 127.0.0.1:1: connect: connection refused"

func (d *downLocker) Renew(ctx context.Context, key, token string, ttl time.Duration) error {
	if d.down.Load() {
		return fmt.Errorf("renew %q: %w: %s", key, lock.ErrUnavailable, refused)
	}
	return d.countingLocker.Renew(ctx, key, token, ttl)
}

// troubleWorkflow holds lock "deploy/prod" until the file "go" appears in
// var.dir.
const troubleWorkflow = `
variable "dir" { type = string }
step "deploy" {
  lock {
    key = "deploy/prod"
    ttl = "%s"
  }
  kill_timeout = "1s"
  shell = "while [ ! -f ${var.dir}/go ]; do sleep 0.02; done"
}
`

// TestRun_lockRenewFailedThenRecovered: renewals fail, then work again: one
// lock_renew_failed event (step, lock, cause, time unconfirmed, validity
// left), then lock_renew_recovered, and the step succeeds.
func TestRun_lockRenewFailedThenRecovered(t *testing.T) {
	dir := t.TempDir()
	wf := loadWorkflow(t, fmt.Sprintf(troubleWorkflow, "3s"))
	m := &downLocker{countingLocker: newTestLocker(t)}
	on := map[EventType]func(Event){
		EventLockAcquired:       func(Event) { m.down.Store(true) },
		EventLockRenewFailed:    func(Event) { m.down.Store(false) },
		EventLockRenewRecovered: func(Event) { os.WriteFile(filepath.Join(dir, "go"), nil, 0o644) },
	}
	res, log := runWorkflow(t, wf, m, runSetup{vars: map[string]cty.Value{"dir": cty.StringVal(dir)}, on: on})
	wantStatus(t, res, "step.deploy", StatusSucceeded, ReasonNone)
	failed, recovered := log.ofType(EventLockRenewFailed), log.ofType(EventLockRenewRecovered)
	if len(failed) != 1 || len(recovered) != 1 {
		t.Fatalf("%d lock_renew_failed and %d lock_renew_recovered events, want 1 and 1", len(failed), len(recovered))
	}
	checkRenewFailed(t, failed[0], 3*time.Second)
	if ev := recovered[0]; ev.Step != "step.deploy" || ev.Lock != "deploy/prod" || ev.Err != nil || !ev.Time.After(failed[0].Time) {
		t.Errorf("lock_renew_recovered %+v", ev)
	}
}

// TestRun_lockRenewFailedThenLost: renewals keep failing: lock_renew_failed
// (at most one per renewal interval, not one per retry) comes before
// lock_lost, and the step fails as lock-lost.
func TestRun_lockRenewFailedThenLost(t *testing.T) {
	const ttl = 3 * time.Second
	dir := t.TempDir()
	wf := loadWorkflow(t, fmt.Sprintf(troubleWorkflow, ttl))
	m := &downLocker{countingLocker: newTestLocker(t)}
	on := map[EventType]func(Event){EventLockAcquired: func(Event) { m.down.Store(true) }}
	res, log := runWorkflow(t, wf, m, runSetup{vars: map[string]cty.Value{"dir": cty.StringVal(dir)}, on: on})
	wantStatus(t, res, "step.deploy", StatusFailed, ReasonLockLost)
	var order []EventType
	for _, ev := range log.events {
		if ev.Type == EventLockRenewFailed || ev.Type == EventLockLost || ev.Type == EventLockRenewRecovered {
			order = append(order, ev.Type)
		}
	}
	// Renewals at ttl/3 and every ttl/30 after: about 17 failures before the
	// local deadline (ttl - ttl/10), reported at most once a second.
	if len(order) < 2 || len(order) > 4 || order[0] != EventLockRenewFailed || order[len(order)-1] != EventLockLost {
		t.Fatalf("events %v: want 1 to 3 lock_renew_failed, then lock_lost", order)
	}
	failed := log.ofType(EventLockRenewFailed)
	for _, ev := range failed {
		checkRenewFailed(t, ev, ttl)
	}
	for i := 1; i < len(failed); i++ {
		if gap := failed[i].Time.Sub(failed[i-1].Time); gap < time.Second-50*time.Millisecond {
			t.Errorf("lock_renew_failed events %s apart, want at least a second", gap)
		}
	}
}

func checkRenewFailed(t *testing.T, ev Event, ttl time.Duration) {
	t.Helper()
	if ev.Step != "step.deploy" || ev.Lock != "deploy/prod" {
		t.Errorf("lock_renew_failed for %s %q", ev.Step, ev.Lock)
	}
	if !errors.Is(ev.Err, lock.ErrUnavailable) || !strings.Contains(fmt.Sprint(ev.Err), refused) {
		t.Errorf("lock_renew_failed cause %v, want the renewal's error", ev.Err)
	}
	if ev.Unconfirmed < ttl/3-50*time.Millisecond || ev.Unconfirmed > ttl || ev.Left <= 0 || ev.Left > ttl {
		t.Errorf("lock_renew_failed unconfirmed %s, left %s (ttl %s)", ev.Unconfirmed, ev.Left, ttl)
	}
}

// failingRenewLocker is the test locker whose renewals all fail as an
// unreachable backend's would; failed runs at each failure.
type failingRenewLocker struct {
	*countingLocker
	failed func()
}

func (f *failingRenewLocker) Renew(ctx context.Context, key, token string, ttl time.Duration) error {
	f.failed()
	return fmt.Errorf("renew %q: %w: %s", key, lock.ErrUnavailable, refused)
}

// TestRun_lockRenewFailedBeforeRunDone: a renewal failure reported just
// before the step ends still comes before run_done. The goroutine that emits
// trouble events is held back here until run_done is seen, or 2 s pass: Run
// used not to wait for it, so lock_renew_failed followed run_done. Now
// run_done cannot come first and the test always waits the 2 s, the price of
// a check that fails for certain without the fix.
func TestRun_lockRenewFailedBeforeRunDone(t *testing.T) {
	dir := t.TempDir()
	wf := loadWorkflow(t, fmt.Sprintf(troubleWorkflow, "3s"))
	var once sync.Once
	m := &failingRenewLocker{countingLocker: newTestLocker(t), failed: func() {
		once.Do(func() { os.WriteFile(filepath.Join(dir, "go"), nil, 0o644) }) // the step ends
	}}
	runDone := make(chan struct{})
	testHookTroubleDrain = func() {
		select {
		case <-runDone:
		case <-time.After(2 * time.Second):
		}
	}
	t.Cleanup(func() { testHookTroubleDrain = nil })
	on := map[EventType]func(Event){EventRunDone: func(Event) { close(runDone) }}
	res, log := runWorkflow(t, wf, m, runSetup{vars: map[string]cty.Value{"dir": cty.StringVal(dir)}, on: on})
	wantStatus(t, res, "step.deploy", StatusSucceeded, ReasonNone)
	var order []EventType
	for _, ev := range log.events {
		if ev.Type == EventLockRenewFailed || ev.Type == EventRunDone {
			order = append(order, ev.Type)
		}
	}
	if n := len(order); n < 2 || order[0] != EventLockRenewFailed || order[n-1] != EventRunDone || slices.Index(order, EventRunDone) != n-1 {
		t.Fatalf("events %v, want lock_renew_failed (one or more), then run_done last", order)
	}
}
