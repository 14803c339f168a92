package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/lockstep-dev/lockstep/config"
	"github.com/lockstep-dev/lockstep/lock"
)

// loadWorkflow writes src as main.hcl in a temp dir and loads it.
func loadWorkflow(t testing.TB, src string) *config.Workflow {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	wf, diags := config.Load(dir, nil)
	if diags.HasErrors() {
		t.Fatalf("load: %s", diags.Error())
	}
	return wf
}

// eventLog collects events for assertions.
type eventLog struct {
	mu     sync.Mutex
	events []Event
	onType map[EventType]func(Event)
}

func (l *eventLog) add(ev Event) {
	l.mu.Lock()
	l.events = append(l.events, ev)
	f := l.onType[ev.Type]
	l.mu.Unlock()
	if f != nil {
		f(ev)
	}
}

func (l *eventLog) ofType(ty EventType) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Event
	for _, ev := range l.events {
		if ev.Type == ty {
			out = append(out, ev)
		}
	}
	return out
}

type runSetup struct {
	vars    map[string]cty.Value
	targets []string
	opts    Options
	on      map[EventType]func(Event)
	ctx     context.Context
}

// runWorkflow runs wf against locker and returns the result and the events.
func runWorkflow(t testing.TB, wf *config.Workflow, locker lock.Locker, s runSetup) (*Result, *eventLog) {
	t.Helper()
	plan, diags := NewPlan(wf, s.targets)
	if diags.HasErrors() {
		t.Fatalf("plan: %s", diags.Error())
	}
	vars := s.vars
	if vars == nil {
		var d2 = wf.ResolveVariables
		v, diags := d2(config.VariableInputs{})
		if diags.HasErrors() {
			t.Fatalf("variables: %s", diags.Error())
		}
		vars = v
	}
	log := &eventLog{onType: s.on}
	opts := s.opts
	opts.Locker, opts.Variables, opts.OnEvent = locker, vars, log.add
	opts.Holder = lock.Holder{Owner: "tester@host", PID: os.Getpid()}
	ctx := s.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	res := New(plan, opts).Run(ctx)
	return res, log
}

// holdLock acquires req on m for the test (another holder the run meets)
// and releases it in t.Cleanup.
func holdLock(t *testing.T, m lock.Locker, req lock.Request) *lock.Lease {
	t.Helper()
	lease, err := m.Acquire(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Release(context.Background(), lease.Key, lease.Token); err != nil {
			t.Errorf("release the test's own lease: %v", err)
		}
	})
	return lease
}

func statusOf(t testing.TB, res *Result, addr string) *InstanceResult {
	t.Helper()
	for _, in := range res.Instances {
		if in.Address == addr {
			return in
		}
	}
	t.Fatalf("no result for %s in %d instances", addr, len(res.Instances))
	return nil
}

func wantStatus(t testing.TB, res *Result, addr, status string, reason Reason) *InstanceResult {
	t.Helper()
	in := statusOf(t, res, addr)
	if in.Status != status || in.Reason != reason {
		t.Errorf("%s: status %s (%s), want %s (%s); err=%v diags=%v", addr, in.Status, in.Reason, status, reason, in.Err, in.Diags)
	}
	return in
}

func TestRun_outputsFlowToDependents(t *testing.T) {
	wf := loadWorkflow(t, `
step "a" {
  shell = "echo hello"
}
step "b" {
  command = ["echo", "${step.a.output} world", step.a.status]
}
output "greeting" {
  value = step.b.output
}
`)
	res, _ := runWorkflow(t, wf, newTestLocker(t), runSetup{})
	if res.Outcome != OutcomeSucceeded {
		t.Fatalf("outcome %v", res.Outcome)
	}
	b := wantStatus(t, res, "step.b", StatusSucceeded, ReasonNone)
	if b.Output != "hello world succeeded" || b.ExitCode != 0 {
		t.Errorf("step.b output %q code %d", b.Output, b.ExitCode)
	}
	if len(res.Outputs) != 1 || res.Outputs[0].Value.AsString() != "hello world succeeded" {
		t.Errorf("outputs %+v", res.Outputs)
	}
}

func TestRun_failFastAndKeepGoing(t *testing.T) {
	src := `
step "a" {
  shell = "exit 3"
}
step "b" {
  depends_on = [step.a]
  shell = "true"
}
step "c" {
  shell = "true"
}
`
	wf := loadWorkflow(t, src)
	res, _ := runWorkflow(t, wf, newTestLocker(t), runSetup{opts: Options{Parallelism: 1}})
	if res.Outcome != OutcomeFailed {
		t.Errorf("outcome %v, want failed", res.Outcome)
	}
	a := wantStatus(t, res, "step.a", StatusFailed, ReasonExit)
	if a.ExitCode != 3 {
		t.Errorf("exit code %d", a.ExitCode)
	}
	wantStatus(t, res, "step.b", StatusNotRun, ReasonDependency)
	wantStatus(t, res, "step.c", StatusNotRun, ReasonFailFast)

	res, _ = runWorkflow(t, wf, newTestLocker(t), runSetup{opts: Options{Parallelism: 1, KeepGoing: true}})
	wantStatus(t, res, "step.b", StatusNotRun, ReasonDependency)
	wantStatus(t, res, "step.c", StatusSucceeded, ReasonNone)
}

func TestRun_parallelismBound(t *testing.T) {
	var b strings.Builder
	for i := range 12 {
		b.WriteString(`step "s` + strconv.Itoa(i) + `" {
  shell = "sleep 0.05"
}
`)
	}
	wf := loadWorkflow(t, b.String())
	var mu sync.Mutex
	running, most := 0, 0
	on := map[EventType]func(Event){
		EventStepStart: func(Event) { mu.Lock(); running++; most = max(most, running); mu.Unlock() },
		EventStepDone:  func(Event) { mu.Lock(); running--; mu.Unlock() },
	}
	res, _ := runWorkflow(t, wf, newTestLocker(t), runSetup{opts: Options{Parallelism: 3}, on: on})
	if res.Outcome != OutcomeSucceeded {
		t.Fatalf("outcome %v", res.Outcome)
	}
	if most > 3 || most < 2 {
		t.Errorf("at most %d steps ran at once, want 2..3", most)
	}
}

func TestRun_lockBusy(t *testing.T) {
	for _, tc := range []struct {
		name, attrs, status string
		outcome             Outcome
		timeout             bool
	}{
		{"skip", `on_busy = "skip"`, StatusSkipped, OutcomeSucceeded, false},
		{"fail", `on_busy = "fail"`, StatusFailed, OutcomeLockBusy, false},
		{"timeout", `timeout = "50ms"`, StatusFailed, OutcomeLockBusy, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wf := loadWorkflow(t, `
step "deploy" {
  lock {
    key = "env/staging"
    `+tc.attrs+`
  }
  shell = "true"
}
`)
			m := newTestLocker(t)
			holdLock(t, m, lock.Request{Key: "env/staging", TTL: time.Minute,
				Holder: lock.Holder{Owner: "alice@bastion-2", PID: 4211, Step: "step.failover"}})
			res, log := runWorkflow(t, wf, m, runSetup{})
			in := wantStatus(t, res, "step.deploy", tc.status, ReasonLockBusy)
			if res.Outcome != tc.outcome {
				t.Errorf("outcome %v, want %v", res.Outcome, tc.outcome)
			}
			if in.Busy == nil || len(in.Busy.Holders) != 1 || in.Busy.Holders[0].Owner != "alice@bastion-2" || in.Busy.Timeout != tc.timeout {
				t.Errorf("busy %+v", in.Busy)
			}
			if waits := log.ofType(EventLockWait); tc.timeout != (len(waits) > 0) {
				t.Errorf("%d lock_wait events", len(waits))
			}
		})
	}
}

func TestRun_onceAndChecks(t *testing.T) {
	dir := t.TempDir()
	wf := loadWorkflow(t, `
variable "dir" { type = string }
step "migrate" {
  lock { key = "db/migrate" }
  once { key = "db/migrated/v1" }
  shell = "echo run >> ${var.dir}/migrate.log"
}
step "cond" {
  check { condition = fileexists("${var.dir}/absent") }
  shell = "touch ${var.dir}/cond-ran"
}
step "cmdskip" {
  check { command = ["sh", "-c", "exit 1"] }
  shell = "touch ${var.dir}/cmdskip-ran"
}
step "cmderr" {
  check { command = ["sh", "-c", "exit 2"] }
  shell = "touch ${var.dir}/cmderr-ran"
}
`)
	vars := map[string]cty.Value{"dir": cty.StringVal(dir)}
	m := newTestLocker(t)
	res, _ := runWorkflow(t, wf, m, runSetup{vars: vars, opts: Options{KeepGoing: true}})
	wantStatus(t, res, "step.migrate", StatusSucceeded, ReasonNone)
	wantStatus(t, res, "step.cond", StatusSkipped, ReasonCheck)
	wantStatus(t, res, "step.cmdskip", StatusSkipped, ReasonCheck)
	wantStatus(t, res, "step.cmderr", StatusFailed, ReasonCheckError)
	for _, f := range []string{"cond-ran", "cmdskip-ran", "cmderr-ran"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s exists: the command ran after its check said no", f)
		}
	}
	res, _ = runWorkflow(t, wf, m, runSetup{vars: vars, targets: []string{"step.migrate"}})
	in := wantStatus(t, res, "step.migrate", StatusSkipped, ReasonOnce)
	if !strings.Contains(in.Message, "tester@host") {
		t.Errorf("skip message %q does not name who did it", in.Message)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "migrate.log")); string(b) != "run\n" {
		t.Errorf("migrate ran %q, want once", b)
	}
	if m.heldNow("db/migrate") != 0 {
		t.Error("lock still held after the run")
	}
}

func TestRun_environment(t *testing.T) {
	wf := loadWorkflow(t, `
step "env" {
  lock "node" {
    key = "node/web-1"
  }
  lock "fleet" {
    key   = "fleet/restart"
    limit = 2
  }
  env = { EXTRA = "x" }
  shell = "echo $LOCKSTEP_STEP $LOCKSTEP_LOCK_KEY $LOCKSTEP_FENCING_TOKEN $LOCKSTEP_FENCING_TOKEN_NODE $LOCKSTEP_FENCING_TOKEN_FLEET $EXTRA $${#LOCKSTEP_RUN_ID}"
}
`)
	m := newTestLocker(t)
	// An earlier lease on node/web-1: the run's fence must be greater.
	ctx := context.Background()
	earlier, err := m.Acquire(ctx, lock.Request{Key: "node/web-1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Release(ctx, earlier.Key, earlier.Token); err != nil {
		t.Fatal(err)
	}
	res, log := runWorkflow(t, wf, m, runSetup{opts: Options{RunID: "0123456789abcdef"}})
	in := wantStatus(t, res, "step.env", StatusSucceeded, ReasonNone)
	acq := log.ofType(EventLockAcquired)
	if len(acq) != 2 || acq[0].Lock != "fleet/restart" || acq[1].Lock != "node/web-1" {
		t.Fatalf("locks not acquired in key order: %+v", acq)
	}
	fleet, node := acq[0].Fence, acq[1].Fence
	if node <= earlier.Fence {
		t.Errorf("node/web-1 fence %d, not above the earlier lease's %d", node, earlier.Fence)
	}
	if want := fmt.Sprintf("step.env node/web-1 %d %d %d x 16", node, node, fleet); in.Output != want {
		t.Errorf("env output %q, want %q", in.Output, want)
	}
	if rel := log.ofType(EventLockReleased); len(rel) != 2 {
		t.Errorf("%d lock_released events", len(rel))
	}
}

func TestRun_forEachFromEarlierStep(t *testing.T) {
	wf := loadWorkflow(t, `
step "discover" {
  shell = "echo web-1,web-2,web-3"
}
step "restart" {
  for_each = toset(split(",", step.discover.output))
  lock "node" { key = "node/${each.key}" }
  command = ["echo", "restarted ${each.value}"]
}
step "report" {
  command = ["echo", step.restart["web-2"].output, step.restart["web-3"].status]
}
`)
	res, _ := runWorkflow(t, wf, newTestLocker(t), runSetup{})
	for _, n := range []string{"web-1", "web-2", "web-3"} {
		in := wantStatus(t, res, `step.restart["`+n+`"]`, StatusSucceeded, ReasonNone)
		if in.Output != "restarted "+n {
			t.Errorf("%s output %q", in.Address, in.Output)
		}
	}
	if in := wantStatus(t, res, "step.report", StatusSucceeded, ReasonNone); in.Output != "restarted web-2 succeeded" {
		t.Errorf("report output %q", in.Output)
	}

	res, _ = runWorkflow(t, wf, newTestLocker(t), runSetup{targets: []string{`step.restart["web-2"]`}})
	if len(res.Instances) != 2 {
		t.Errorf("targeting one instance ran %d instances, want discover and web-2", len(res.Instances))
	}
}

func TestRun_retryAndTimeout(t *testing.T) {
	dir := t.TempDir()
	wf := loadWorkflow(t, `
variable "dir" { type = string }
step "flaky" {
  shell = "if [ -e ${var.dir}/tried ]; then echo ok; else touch ${var.dir}/tried; exit 1; fi"
  retry {
    attempts = 3
    delay    = "10ms"
  }
}
step "slow" {
  shell        = "sleep 30"
  timeout      = "100ms"
  kill_timeout = "1s"
}
`)
	res, log := runWorkflow(t, wf, newTestLocker(t), runSetup{vars: map[string]cty.Value{"dir": cty.StringVal(dir)}, opts: Options{KeepGoing: true}})
	if in := wantStatus(t, res, "step.flaky", StatusSucceeded, ReasonNone); in.Attempts != 2 {
		t.Errorf("flaky took %d attempts, want 2", in.Attempts)
	}
	if n := len(log.ofType(EventStepRetry)); n != 1 {
		t.Errorf("%d step_retry events, want 1", n)
	}
	slow := wantStatus(t, res, "step.slow", StatusFailed, ReasonTimeout)
	if slow.Duration > 5*time.Second {
		t.Errorf("timed-out step took %s", slow.Duration)
	}
}

func TestRun_lockLostStopsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	wf := loadWorkflow(t, `
variable "dir" { type = string }
step "hold" {
  lock {
    key = "env/prod"
    ttl = "1s"
  }
  kill_timeout = "2s"
  shell = "sleep 30 & echo $! > ${var.dir}/child; wait"
}
step "after" {
  depends_on = [step.hold]
  shell = "true"
}
`)
	m := newTestLocker(t)
	childFile := filepath.Join(dir, "child")
	on := map[EventType]func(Event){EventLockAcquired: func(Event) {
		go func() {
			// Polls the step's pid file (process state) with a deadline;
			// the run itself fails the test if the lock is never lost.
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				if b, _ := os.ReadFile(childFile); len(b) > 0 {
					break
				}
			}
			m.ForceRelease(context.Background(), "env/prod")
		}()
	}}
	res, log := runWorkflow(t, wf, m, runSetup{vars: map[string]cty.Value{"dir": cty.StringVal(dir)}, on: on})
	wantStatus(t, res, "step.hold", StatusFailed, ReasonLockLost)
	wantStatus(t, res, "step.after", StatusNotRun, ReasonDependency)
	if res.Outcome != OutcomeLockLost {
		t.Errorf("outcome %v, want lock lost", res.Outcome)
	}
	if n := len(log.ofType(EventLockLost)); n != 1 {
		t.Errorf("%d lock_lost events", n)
	}
	b, _ := os.ReadFile(childFile)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("child pid %q", b)
	}
	waitFor(t, "the step's background child to die", 3*time.Second, func() bool { return processGone(pid) })
}

// TestRun_lockOutlivesStoppedGroup stops a step whose leader dies on SIGTERM
// while a grandchild ignores it: the lock must not be released before the
// grandchild is gone (killed after kill_timeout).
func TestRun_lockOutlivesStoppedGroup(t *testing.T) {
	dir := t.TempDir()
	wf := loadWorkflow(t, `
variable "dir" { type = string }
step "slow" {
  lock { key = "env/prod" }
  timeout      = "200ms"
  kill_timeout = "500ms"
  # The grandchild leaves the output pipes, so reaping the leader does not
  # wait for it through them.
  shell = "(trap '' TERM; exec sleep 30 >/dev/null 2>&1) & echo $! > ${var.dir}/child; wait"
}
`)
	childFile := filepath.Join(dir, "child")
	var mu sync.Mutex
	var aliveAtRelease []bool
	on := map[EventType]func(Event){EventLockReleased: func(Event) {
		b, _ := os.ReadFile(childFile)
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		mu.Lock()
		defer mu.Unlock()
		aliveAtRelease = append(aliveAtRelease, err != nil || !processGone(pid))
	}}
	res, _ := runWorkflow(t, wf, newTestLocker(t), runSetup{vars: map[string]cty.Value{"dir": cty.StringVal(dir)}, on: on})
	wantStatus(t, res, "step.slow", StatusFailed, ReasonTimeout)
	mu.Lock()
	defer mu.Unlock()
	if len(aliveAtRelease) != 1 || aliveAtRelease[0] {
		t.Errorf("grandchild alive (or unknown) when the lock was released: %v", aliveAtRelease)
	}
}

func TestRun_cancelReleasesLocks(t *testing.T) {
	wf := loadWorkflow(t, `
step "long" {
  lock { key = "env/prod" }
  kill_timeout = "5s"
  shell = "sleep 30"
}
step "next" {
  depends_on = [step.long]
  shell = "true"
}
`)
	m := newTestLocker(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	on := map[EventType]func(Event){EventLockAcquired: func(Event) { cancel() }}
	start := time.Now()
	res, _ := runWorkflow(t, wf, m, runSetup{on: on, ctx: ctx})
	if res.Outcome != OutcomeInterrupted {
		t.Errorf("outcome %v, want interrupted", res.Outcome)
	}
	wantStatus(t, res, "step.long", StatusFailed, ReasonInterrupted)
	wantStatus(t, res, "step.next", StatusNotRun, ReasonDependency)
	if m.heldNow("env/prod") != 0 {
		t.Error("lock still held after cancellation")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("cancellation took %s", d)
	}
}

// TestRun_cancelAfterLockStartsNothing cancels the run as the step's lock is
// acquired: the command must not be started at all.
func TestRun_cancelAfterLockStartsNothing(t *testing.T) {
	dir := t.TempDir()
	wf := loadWorkflow(t, `
variable "dir" { type = string }
step "late" {
  lock { key = "env/prod" }
  shell = "touch ${var.dir}/started"
}
`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	on := map[EventType]func(Event){EventLockAcquired: func(Event) { cancel() }}
	m := newTestLocker(t)
	res, _ := runWorkflow(t, wf, m, runSetup{vars: map[string]cty.Value{"dir": cty.StringVal(dir)}, on: on, ctx: ctx})
	in := wantStatus(t, res, "step.late", StatusFailed, ReasonInterrupted)
	if in.ExitCode != -1 {
		t.Errorf("exit code %d: the command ran after cancellation", in.ExitCode)
	}
	if _, err := os.Stat(filepath.Join(dir, "started")); err == nil {
		t.Error("the command ran after cancellation")
	}
	if m.heldNow("env/prod") != 0 {
		t.Error("lock still held after cancellation")
	}
}

func TestRun_killStopsAtOnce(t *testing.T) {
	wf := loadWorkflow(t, `
step "stubborn" {
  lock { key = "k" }
  kill_timeout = "30s"
  shell = "trap '' TERM; sleep 30"
}
`)
	m := newTestLocker(t)
	plan, _ := NewPlan(wf, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var r *Runner
	r = New(plan, Options{Locker: m, Variables: map[string]cty.Value{}, OnEvent: func(ev Event) {
		if ev.Type == EventLockAcquired {
			cancel()
			r.Kill()
		}
	}})
	start := time.Now()
	res := r.Run(ctx)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("kill took %s", d)
	}
	if res.Outcome != OutcomeInterrupted || m.heldNow("k") != 0 {
		t.Errorf("outcome %v, held %d", res.Outcome, m.heldNow("k"))
	}
}

// TestRun_sensitiveKeyRefused: a lock key derived from a sensitive value is
// refused (validate says so; a value marked sensitive at run time is refused
// too), so it is never stored by the backend nor shown.
func TestRun_sensitiveKeyRefused(t *testing.T) {
	src := `
variable "token" {
  type      = string
  sensitive = true
}
step "s" {
  lock { key = "tok/${var.token}" }
  shell = "true"
}
`
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, diags := config.Load(dir, nil); !diags.HasErrors() || diags[0].Summary != "Sensitive value in lock key" {
		t.Fatalf("validate: %v", diags)
	}
	// Marked at run time only (the runner marks what it is given marked).
	wf := loadWorkflow(t, strings.Replace(src, "sensitive = true", "", 1))
	m := newTestLocker(t)
	res, log := runWorkflow(t, wf, m, runSetup{vars: map[string]cty.Value{"token": cty.StringVal("hunter2").Mark(sensitiveMark)}})
	in := wantStatus(t, res, "step.s", StatusFailed, ReasonEval)
	if !strings.Contains(in.Err.Error(), "Sensitive value in lock key") || strings.Contains(in.Err.Error(), "hunter2") {
		t.Errorf("error: %v", in.Err)
	}
	for _, ev := range log.events {
		if strings.Contains(ev.Lock, "hunter2") || strings.Contains(ev.Message, "hunter2") {
			t.Errorf("event %s shows the secret: %+v", ev.Type, ev)
		}
	}
	if acq := log.ofType(EventLockAcquired); len(acq) != 0 {
		t.Errorf("lock_acquired %+v", acq)
	}
}

func TestPlan_targetsAndOverlap(t *testing.T) {
	wf := loadWorkflow(t, `
step "a" { shell = "true" }
step "b" {
  depends_on = [step.a]
  shell = "true"
}
step "c" { shell = "true" }
`)
	p, diags := NewPlan(wf, []string{"step.b"})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if strings.Join(p.Order, ",") != "a,b" {
		t.Errorf("order %v", p.Order)
	}
	if p.MayOverlap(10) {
		t.Error("a chain should not overlap")
	}
	all, _ := NewPlan(wf, nil)
	if !all.MayOverlap(10) || all.MayOverlap(1) {
		t.Error("independent steps overlap only with parallelism > 1")
	}
	for _, bad := range []string{"step.nope", "var.x", `step.a[1]`, "step"} {
		if _, diags := NewPlan(wf, []string{bad}); !diags.HasErrors() {
			t.Errorf("target %q accepted", bad)
		}
	}
}

func TestRun_cancelWhileWaitingForLock(t *testing.T) {
	wf := loadWorkflow(t, `
step "deploy" {
  lock { key = "env/prod" }
  shell = "true"
}
`)
	m := newTestLocker(t)
	holdLock(t, m, lock.Request{Key: "env/prod", TTL: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	on := map[EventType]func(Event){EventLockWait: func(Event) { cancel() }}
	res, log := runWorkflow(t, wf, m, runSetup{on: on, ctx: ctx})
	wantStatus(t, res, "step.deploy", StatusFailed, ReasonInterrupted)
	if res.Outcome != OutcomeInterrupted {
		t.Errorf("outcome %v", res.Outcome)
	}
	if n := len(log.ofType(EventLockAcquired)); n != 0 {
		t.Errorf("%d lock_acquired events after cancellation", n)
	}
	if m.heldNow("env/prod") != 1 {
		t.Errorf("the other holder's lock was touched: %d holders", m.heldNow("env/prod"))
	}
}

func TestFormatValue_stringsAreJSON(t *testing.T) {
	for _, s := range []string{"plain", `quote " and \ backslash`, "tab\tnew\nline\r", "ctl\x01", "<a & b>", "ünïcode \u2028"} {
		got := FormatValue(cty.StringVal(s))
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil || back != s {
			t.Errorf("FormatValue(%q) = %s: not JSON for the same string (%v, %q)", s, got, err, back)
		}
	}
	if got := FormatValue(cty.TupleVal([]cty.Value{cty.StringVal("a&b"), cty.NumberIntVal(2)})); got != `["a&b",2]` {
		t.Errorf("tuple: %s", got)
	}
}

// TestRun_sensitiveForEachRejected: validate refuses a sensitive for_each;
// one marked sensitive at run time fails the step without showing it.
func TestRun_sensitiveForEachRejected(t *testing.T) {
	wf := loadWorkflow(t, `
variable "hosts" {
  type      = set(string)
}
step "s" {
  for_each = var.hosts
  command  = ["echo", each.key]
}
`)
	hosts := cty.SetVal([]cty.Value{cty.StringVal("hunter2")}).Mark(sensitiveMark)
	res, _ := runWorkflow(t, wf, newTestLocker(t), runSetup{vars: map[string]cty.Value{"hosts": hosts}})
	in := wantStatus(t, res, "step.s", StatusFailed, ReasonEval)
	if strings.Contains(in.Err.Error(), "hunter2") {
		t.Errorf("error shows the secret: %v", in.Err)
	}
}

func TestRun_semaphoreBoundsForEach(t *testing.T) {
	wf := loadWorkflow(t, `
step "restart" {
  for_each = toset(["n1", "n2", "n3", "n4", "n5", "n6"])
  lock "fleet" {
    key   = "fleet/restart"
    limit = 2
  }
  lock "node" {
    key = "node/${each.key}"
  }
  shell = "sleep 0.05"
}
`)
	m := newTestLocker(t)
	res, _ := runWorkflow(t, wf, m, runSetup{})
	if res.Outcome != OutcomeSucceeded || len(res.Instances) != 6 {
		t.Fatalf("outcome %v with %d instances", res.Outcome, len(res.Instances))
	}
	if got := m.maxHeld["fleet/restart"]; got != 2 {
		t.Errorf("the fleet semaphore had at most %d holders, want exactly 2", got)
	}
}
