package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/zclconf/go-cty/cty"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// Tests of workflow-level locks at run time, against the local backend: a
// second lock.Local on the same directory stands for another lockstep
// process.

const wlKey = "deploy/staging"

// localPair opens two local backends on one directory: the run's and
// another process's.
func localPair(t *testing.T) (run, other *lock.Local) {
	t.Helper()
	dir := t.TempDir()
	open := func() *lock.Local {
		l, err := lock.NewLocal(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l
	}
	return open(), open()
}

// tryTake reports whether other can take key at once; it releases it again.
func tryTake(t testing.TB, other lock.Locker, key string) error {
	l, err := other.Acquire(context.Background(), lock.Request{Key: key, Holder: lock.Holder{Owner: "other@host"}})
	if err != nil {
		return err
	}
	return other.Release(context.Background(), l.Key, l.Token)
}

// hold makes other hold key until the test ends.
func hold(t *testing.T, other lock.Locker, key string) *lock.Lease {
	t.Helper()
	l, err := other.Acquire(context.Background(), lock.Request{Key: key, Holder: lock.Holder{Owner: "other@host", PID: 42}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Release(context.Background(), l.Key, l.Token) })
	return l
}

// dirVars passes a directory as var.dir.
func dirVars(dir string) map[string]cty.Value { return map[string]cty.Value{"dir": cty.StringVal(dir)} }

// onStep calls f for the events of type ty about addr (a step or lock.NAME).
func onStep(on map[EventType]func(Event), ty EventType, addr string, f func(Event)) {
	on[ty] = func(ev Event) {
		if ev.Step == addr {
			f(ev)
		}
	}
}

func eventsAbout(log *eventLog, addr string) []Event {
	log.mu.Lock()
	defer log.mu.Unlock()
	var out []Event
	for _, ev := range log.events {
		if ev.Step == addr {
			out = append(out, ev)
		}
	}
	return out
}

// TestWorkflowLock_heldAcrossSteps: one acquisition serves both steps of the
// scope (same fencing token, in the environment and as lock.NAME), the key
// stays taken while a step outside the scope runs between them (also for
// 1.5s with a 1s TTL: it is renewed), and it is released after the last one.
func TestWorkflowLock_heldAcrossSteps(t *testing.T) {
	for _, tc := range []struct {
		name, ttl, between string
		open               func(t *testing.T) (run, other lock.Locker)
	}{
		{"local", "30s", "true", func(t *testing.T) (lock.Locker, lock.Locker) { return localPair(t) }},
		{"renewed", "1s", "sleep 1.5", func(t *testing.T) (lock.Locker, lock.Locker) {
			// Redis: a lease that is not renewed expires after its TTL.
			srv := locktest.StartServer(t, nil)
			client := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
			t.Cleanup(func() { client.Close() })
			l := lock.NewRedis(client, nil)
			t.Cleanup(func() { l.Close() })
			return l, l
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			locker, other := tc.open(t)
			wf := loadWorkflow(t, `
variable "between" { type = string }
lock "env" {
  key   = "deploy/staging"
  ttl   = "`+tc.ttl+`"
  steps = [step.deploy, step.smoke]
}
step "deploy" {
  shell = "echo $LOCKSTEP_FENCING_TOKEN_ENV"
}
step "between" {
  depends_on = [step.deploy]
  command    = ["sh", "-c", var.between]
}
step "smoke" {
  depends_on = [step.between]
  shell      = "echo $LOCKSTEP_FENCING_TOKEN_ENV ${lock.env.fencing_token} ${lock.env.key}"
}
`)
			var betweenErr error
			on := map[EventType]func(Event){}
			onStep(on, EventStepStart, "step.between", func(Event) { betweenErr = tryTake(t, other, wlKey) })
			vars := map[string]cty.Value{"between": cty.StringVal(tc.between)}
			res, log := runWorkflow(t, wf, locker, runSetup{vars: vars, on: on})
			if res.Outcome != OutcomeSucceeded {
				t.Fatalf("outcome %v: %+v", res.Outcome, res.Failed())
			}
			if !errors.Is(betweenErr, lock.ErrBusy) {
				t.Errorf("another process taking the key between the steps: %v, want busy", betweenErr)
			}
			heldOnce(t, res, log)
			if err := tryTake(t, other, wlKey); err != nil {
				t.Errorf("key still taken after the run: %v", err)
			}
		})
	}
}

// heldOnce checks that lock.env was acquired and released once, never lost,
// and that both steps of its scope saw its fencing token.
func heldOnce(t *testing.T, res *Result, log *eventLog) {
	t.Helper()
	acq := log.ofType(EventLockAcquired)
	if len(acq) != 1 || acq[0].Step != "lock.env" || acq[0].Lock != wlKey || acq[0].Fence == 0 {
		t.Fatalf("lock_acquired events %+v, want one for lock.env", acq)
	}
	fence := strconv.FormatInt(acq[0].Fence, 10)
	if got := statusOf(t, res, "step.deploy").Output; got != fence {
		t.Errorf("deploy saw LOCKSTEP_FENCING_TOKEN_ENV=%q, want %s", got, fence)
	}
	if got, want := statusOf(t, res, "step.smoke").Output, fence+" "+fence+" "+wlKey; got != want {
		t.Errorf("smoke printed %q, want %q", got, want)
	}
	if about := eventsAbout(log, "lock.env"); len(about) != 2 || about[1].Type != EventLockReleased {
		t.Errorf("events of lock.env: %+v, want acquired and released", about)
	}
}

// TestWorkflowLock_releasedAfterItsScope: a step after the scope runs while
// the lock is already free (it waits for a file written once another
// process could take the key).
func TestWorkflowLock_releasedAfterItsScope(t *testing.T) {
	locker, other := localPair(t)
	dir := t.TempDir()
	wf := loadWorkflow(t, `
variable "dir" { type = string }
lock "env" {
  key   = "deploy/staging"
  steps = [step.deploy]
}
step "deploy" {
  shell = "true"
}
step "after" {
  depends_on = [step.deploy]
  timeout    = "10s"
  shell      = "while [ ! -f ${var.dir}/free ]; do sleep 0.01; done"
}
`)
	on := map[EventType]func(Event){}
	onStep(on, EventLockReleased, "lock.env", func(Event) { freeThenTouch(t, other, dir) })
	res, _ := runWorkflow(t, wf, locker, runSetup{vars: dirVars(dir), on: on})
	wantStatus(t, res, "step.after", StatusSucceeded, ReasonNone)
}

// freeThenTouch writes dir/free when another process can take wlKey.
func freeThenTouch(t *testing.T, other lock.Locker, dir string) {
	if err := tryTake(t, other, wlKey); err != nil {
		t.Errorf("key not free after lock_released: %v", err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, "free"), nil, 0o644); err != nil {
		t.Error(err)
	}
}

// TestWorkflowLock_releasedWhenScopeCannotRun: a step of the scope fails, the
// other one depends on it: the lock is released at once although a step
// outside the scope still runs (and the last step of the scope waits for
// it, with -keep-going).
func TestWorkflowLock_releasedWhenScopeCannotRun(t *testing.T) {
	for _, keepGoing := range []bool{false, true} {
		t.Run("keep-going="+strconv.FormatBool(keepGoing), func(t *testing.T) {
			locker, other := localPair(t)
			dir := t.TempDir()
			wf := loadWorkflow(t, `
variable "dir" { type = string }
lock "env" {
  key   = "deploy/staging"
  steps = [step.deploy, step.smoke]
}
step "deploy" {
  shell = "exit 1"
}
step "slow" {
  timeout = "10s"
  shell   = "while [ ! -f ${var.dir}/free ]; do sleep 0.01; done"
}
step "smoke" {
  depends_on = [step.deploy, step.slow]
  shell      = "true"
}
`)
			on := map[EventType]func(Event){}
			onStep(on, EventLockReleased, "lock.env", func(Event) { freeThenTouch(t, other, dir) })
			res, _ := runWorkflow(t, wf, locker, runSetup{vars: dirVars(dir), on: on, opts: Options{KeepGoing: keepGoing}})
			wantStatus(t, res, "step.deploy", StatusFailed, ReasonExit)
			wantStatus(t, res, "step.slow", StatusSucceeded, ReasonNone)
			wantStatus(t, res, "step.smoke", StatusNotRun, ReasonDependency)
		})
	}
}

// TestWorkflowLock_releasedOnInterrupt: cancelling the run while a step of
// the scope runs, while a step outside it runs between two of the scope,
// or while the lock is awaited, leaves the key as it was before the run.
func TestWorkflowLock_releasedOnInterrupt(t *testing.T) {
	wf := loadWorkflow(t, `
variable "deploy" { type = string }
lock "env" {
  key   = "deploy/staging"
  steps = [step.deploy, step.smoke]
}
step "deploy" {
  kill_timeout = "5s"
  command      = ["sh", "-c", var.deploy]
}
step "between" {
  depends_on = [step.deploy]
  shell      = "echo started; exec sleep 30"
}
step "smoke" {
  depends_on = [step.between]
  shell      = "true"
}
`)
	sleeps, quick := "echo started; exec sleep 30", "true"
	for _, tc := range []struct {
		name, at, deploy string
		ty               EventType
		held             bool // another process holds the key
	}{
		{"in scope", "step.deploy", sleeps, EventStepOutput, false},
		{"between", "step.between", quick, EventStepOutput, false},
		{"waiting", "lock.env", quick, EventLockWait, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			locker, other := localPair(t)
			if tc.held {
				hold(t, other, wlKey)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			on := map[EventType]func(Event){}
			onStep(on, tc.ty, tc.at, func(Event) { cancel() })
			vars := map[string]cty.Value{"deploy": cty.StringVal(tc.deploy)}
			res, _ := runWorkflow(t, wf, locker, runSetup{vars: vars, on: on, ctx: ctx})
			if res.Outcome != OutcomeInterrupted {
				t.Fatalf("outcome %v, want interrupted", res.Outcome)
			}
			err := tryTake(t, other, wlKey)
			if tc.held != errors.Is(err, lock.ErrBusy) || !tc.held && err != nil {
				t.Errorf("after the run, another process taking the key: %v (held before the run: %v)", err, tc.held)
			}
		})
	}
}

// TestWorkflowLock_lostStopsTheScope: a force-unlock by another process
// while a step of the scope runs stops it (lock lost), the rest of the scope
// does not run; a loss between two steps of the scope fails the run as
// lock-lost too, and the next step of the scope does not start.
func TestWorkflowLock_lostStopsTheScope(t *testing.T) {
	t.Run("while a step runs", func(t *testing.T) {
		locker, other := localPair(t)
		wf := loadWorkflow(t, `
lock "env" {
  key   = "deploy/staging"
  steps = [step.deploy, step.smoke]
}
step "deploy" {
  kill_timeout = "5s"
  shell        = "echo started; exec sleep 30"
}
step "smoke" {
  depends_on = [step.deploy]
  shell      = "true"
}
step "other" {
  shell = "true"
}
`)
		on := map[EventType]func(Event){}
		onStep(on, EventStepOutput, "step.deploy", func(Event) { other.ForceRelease(context.Background(), wlKey) })
		res, log := runWorkflow(t, wf, locker, runSetup{on: on})
		wantStatus(t, res, "step.deploy", StatusFailed, ReasonLockLost)
		wantStatus(t, res, "step.smoke", StatusNotRun, ReasonDependency)
		wantStatus(t, res, "step.other", StatusSucceeded, ReasonNone)
		if res.Outcome != OutcomeLockLost {
			t.Errorf("outcome %v, want lock lost", res.Outcome)
		}
		lost := log.ofType(EventLockLost)
		if len(lost) != 1 || lost[0].Step != "lock.env" || lost[0].Lock != wlKey {
			t.Errorf("lock_lost events %+v, want one for lock.env", lost)
		}
	})
	for _, keepGoing := range []bool{false, true} {
		t.Run("between steps, keep-going="+strconv.FormatBool(keepGoing), func(t *testing.T) {
			lostBetweenSteps(t, keepGoing)
		})
	}
}

func lostBetweenSteps(t *testing.T, keepGoing bool) {
	locker, other := localPair(t)
	dir := t.TempDir()
	wf := loadWorkflow(t, `
variable "dir" { type = string }
lock "env" {
  key   = "deploy/staging"
  steps = [step.deploy, step.smoke]
}
step "deploy" {
  shell = "true"
}
step "between" {
  depends_on = [step.deploy]
  timeout    = "10s"
  shell      = "echo started; while [ ! -f ${var.dir}/go ]; do sleep 0.01; done"
}
step "smoke" {
  depends_on = [step.between]
  shell      = "true"
}
`)
	on := map[EventType]func(Event){}
	onStep(on, EventStepOutput, "step.between", func(Event) { other.ForceRelease(context.Background(), wlKey) })
	onStep(on, EventLockLost, "lock.env", func(Event) { os.WriteFile(filepath.Join(dir, "go"), nil, 0o644) })
	res, _ := runWorkflow(t, wf, locker, runSetup{vars: dirVars(dir), on: on, opts: Options{KeepGoing: keepGoing}})
	wantStatus(t, res, "step.between", StatusSucceeded, ReasonNone)
	if keepGoing {
		smoke := wantStatus(t, res, "step.smoke", StatusFailed, ReasonLockLost)
		if smoke.Err == nil || !strings.Contains(smoke.Err.Error(), `lock "deploy/staging" (lock.env) was lost`) {
			t.Errorf("smoke error %v", smoke.Err)
		}
	} else {
		wantStatus(t, res, "step.smoke", StatusNotRun, ReasonFailFast)
	}
	if res.Outcome != OutcomeLockLost {
		t.Errorf("outcome %v, want lock lost", res.Outcome)
	}
}

// TestWorkflowLock_busy: on_busy "skip" skips the scope and its dependents
// (naming the lock and its holder) while other steps run; a wait that times
// out fails the scope as lock-busy, after lock_wait events of lock.NAME.
func TestWorkflowLock_busy(t *testing.T) {
	for _, tc := range []struct {
		name, attrs, status string
		outcome             Outcome
		after               string // status of the dependent outside the scope
	}{
		{"skip", `on_busy = "skip"`, StatusSkipped, OutcomeSucceeded, StatusSkipped},
		{"timeout", `timeout = "300ms"`, StatusFailed, OutcomeLockBusy, StatusNotRun},
	} {
		t.Run(tc.name, func(t *testing.T) {
			locker, other := localPair(t)
			hold(t, other, wlKey)
			wf := loadWorkflow(t, `
lock "env" {
  key   = "deploy/staging"
  steps = [step.deploy, step.smoke]
  `+tc.attrs+`
}
step "deploy" {
  shell = "true"
}
step "smoke" {
  depends_on = [step.deploy]
  shell      = "true"
}
step "notify" {
  depends_on = [step.smoke]
  shell      = "true"
}
step "unrelated" {
  shell = "true"
}
`)
			res, log := runWorkflow(t, wf, locker, runSetup{})
			busyOutcome(t, res, log, tc.status, tc.after)
			if res.Outcome != tc.outcome {
				t.Errorf("outcome %v, want %v", res.Outcome, tc.outcome)
			}
		})
	}
}

func busyOutcome(t *testing.T, res *Result, log *eventLog, status, after string) {
	t.Helper()
	deploy := wantStatus(t, res, "step.deploy", status, ReasonLockBusy)
	wantStatus(t, res, "step.unrelated", StatusSucceeded, ReasonNone)
	if deploy.Busy == nil || len(deploy.Busy.Holders) != 1 || deploy.Busy.Holders[0].Owner != "other@host" {
		t.Errorf("busy %+v", deploy.Busy)
	}
	if status == StatusSkipped {
		wantStatus(t, res, "step.smoke", StatusSkipped, ReasonLockBusy)
		notify := wantStatus(t, res, "step.notify", after, ReasonLockBusy)
		want := `lock "deploy/staging" (lock.env) is busy, held by other@host, pid 42`
		if !strings.HasPrefix(deploy.Message, want) || !strings.HasPrefix(notify.Message, want) {
			t.Errorf("skip messages %q, %q; want them to start with %q", deploy.Message, notify.Message, want)
		}
		return
	}
	wantStatus(t, res, "step.notify", after, ReasonDependency)
	waits := log.ofType(EventLockWait)
	if len(waits) == 0 || waits[0].Step != "lock.env" || waits[0].Lock != wlKey || waits[len(waits)-1].Position != 1 {
		t.Errorf("lock_wait events %+v, want lock.env's, first in line", waits)
	}
	if deploy.LockWait < 300*time.Millisecond || deploy.Err == nil {
		t.Errorf("deploy waited %s, error %v", deploy.LockWait, deploy.Err)
	}
}

// TestWorkflowLock_waitCountsAsLockWait: a step that waited for its
// workflow-level lock reports the wait as its lock wait.
func TestWorkflowLock_waitCountsAsLockWait(t *testing.T) {
	locker, other := localPair(t)
	l := hold(t, other, wlKey)
	wf := loadWorkflow(t, `
lock "env" {
  key = "deploy/staging"
}
step "deploy" {
  shell = "true"
}
`)
	var once sync.Once
	on := map[EventType]func(Event){}
	onStep(on, EventLockWait, "lock.env", func(Event) {
		once.Do(func() {
			time.AfterFunc(200*time.Millisecond, func() { other.Release(context.Background(), l.Key, l.Token) })
		})
	})
	res, _ := runWorkflow(t, wf, locker, runSetup{on: on})
	in := wantStatus(t, res, "step.deploy", StatusSucceeded, ReasonNone)
	if in.LockWait < 200*time.Millisecond || in.Duration < in.LockWait {
		t.Errorf("lock wait %s, duration %s; want at least 200ms, and the duration to include it", in.LockWait, in.Duration)
	}
}

// TestWorkflowLock_superseded: a newest-wins waiter replaced by a newer one
// skips its scope as superseded.
func TestWorkflowLock_superseded(t *testing.T) {
	locker, other := localPair(t)
	hold(t, other, wlKey)
	wf := loadWorkflow(t, `
lock "env" {
  key   = "deploy/staging"
  queue = "newest"
}
step "deploy" {
  shell = "true"
}
`)
	newer := make(chan error, 1)
	var once sync.Once
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	on := map[EventType]func(Event){}
	onStep(on, EventLockWait, "lock.env", func(Event) {
		once.Do(func() {
			go func() {
				_, err := other.Acquire(ctx, lock.Request{Key: wlKey, Queue: lock.Newest, Wait: lock.WaitForever,
					Holder: lock.Holder{Owner: "newer@host"}})
				newer <- err
			}()
		})
	})
	res, _ := runWorkflow(t, wf, locker, runSetup{on: on})
	in := wantStatus(t, res, "step.deploy", StatusSkipped, ReasonSuperseded)
	if !strings.Contains(in.Message, `superseded in the queue of "deploy/staging" (lock.env) by newer@host`) {
		t.Errorf("message %q", in.Message)
	}
	if res.Outcome != OutcomeSucceeded {
		t.Errorf("outcome %v", res.Outcome)
	}
	cancel()
	<-newer
}

// TestWorkflowLock_keyOrder: two workflow-level locks whose scopes start at
// one step are acquired in key order, and both fencing tokens reach it.
func TestWorkflowLock_keyOrder(t *testing.T) {
	locker, _ := localPair(t)
	wf := loadWorkflow(t, `
lock "alpha" {
  key = "z/last"
}
lock "beta" {
  key = "a/first"
}
step "deploy" {
  shell = "echo $LOCKSTEP_FENCING_TOKEN_ALPHA $LOCKSTEP_FENCING_TOKEN_BETA"
}
`)
	res, log := runWorkflow(t, wf, locker, runSetup{})
	acq := log.ofType(EventLockAcquired)
	if len(acq) != 2 || acq[0].Lock != "a/first" || acq[1].Lock != "z/last" {
		t.Fatalf("lock_acquired events %+v, want a/first then z/last", acq)
	}
	want := strconv.FormatInt(acq[1].Fence, 10) + " " + strconv.FormatInt(acq[0].Fence, 10)
	if got := wantStatus(t, res, "step.deploy", StatusSucceeded, ReasonNone).Output; got != want {
		t.Errorf("deploy printed %q, want %q", got, want)
	}
}

// TestRun_stepLockSuperseded: a step's own newest-wins lock that a newer
// waiter replaces skips the step as superseded (it failed as unavailable
// before).
func TestRun_stepLockSuperseded(t *testing.T) {
	locker, other := localPair(t)
	hold(t, other, wlKey)
	wf := loadWorkflow(t, `
step "deploy" {
  lock {
    key   = "deploy/staging"
    queue = "newest"
  }
  shell = "true"
}
`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	newer := make(chan error, 1)
	var once sync.Once
	on := map[EventType]func(Event){}
	onStep(on, EventLockWait, "step.deploy", func(Event) {
		once.Do(func() {
			go func() {
				_, err := other.Acquire(ctx, lock.Request{Key: wlKey, Queue: lock.Newest, Wait: lock.WaitForever,
					Holder: lock.Holder{Owner: "newer@host"}})
				newer <- err
			}()
		})
	})
	res, _ := runWorkflow(t, wf, locker, runSetup{on: on})
	in := wantStatus(t, res, "step.deploy", StatusSkipped, ReasonSuperseded)
	if !strings.Contains(in.Message, `superseded in the queue of "deploy/staging" by newer@host`) || res.Outcome != OutcomeSucceeded {
		t.Errorf("message %q, outcome %v", in.Message, res.Outcome)
	}
	cancel()
	<-newer
}
