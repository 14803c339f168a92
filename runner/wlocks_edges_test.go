package runner

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/lockstep-dev/lockstep/lock"
)

// TestWorkflowLock_refusedThenDependents: a workflow-level lock refused
// (busy and skipped, or busy and failed with -keep-going) ends its scope and
// readies a dependent outside it while nothing else runs: the run goes on
// and ends. (It hung forever: the loop waited for an event no one would
// send.)
func TestWorkflowLock_refusedThenDependents(t *testing.T) {
	for _, tc := range []struct {
		name, attr string
		keepGoing  bool
		deploy     string
		notify     string
	}{
		{"skip", `on_busy = "skip"`, false, StatusSkipped, StatusSkipped},
		{"fail keep-going", `timeout = "0s"`, true, StatusFailed, StatusNotRun},
	} {
		t.Run(tc.name, func(t *testing.T) {
			locker, other := localPair(t)
			hold(t, other, wlKey)
			wf := loadWorkflow(t, `
lock "env" {
  key   = "deploy/staging"
  steps = [step.deploy]
  `+tc.attr+`
}
step "deploy" {
  shell = "true"
}
step "notify" {
  depends_on = [step.deploy]
  shell      = "true"
}
`)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			res, _ := runWorkflow(t, wf, locker, runSetup{ctx: ctx, opts: Options{KeepGoing: tc.keepGoing}})
			if ctx.Err() != nil {
				t.Fatalf("the run hung until its context ended: outcome %v", res.Outcome)
			}
			got := map[string]string{}
			for _, in := range res.Instances {
				got[in.Address] = in.Status
			}
			if got["step.deploy"] != tc.deploy || got["step.notify"] != tc.notify {
				t.Errorf("statuses %v, want deploy %s and notify %s", got, tc.deploy, tc.notify)
			}
		})
	}
}

// TestWorkflowLock_crossedRuns: two runs whose locks cross — a step lock
// outside the scope of the workflow-level lock its run holds between steps,
// or two workflow-level locks — end with one run failing on a deadlock
// (reason deadlock, outcome lock-busy: exit 3) and the other succeeding,
// never both waiting. (The first hung: the step's wait did not declare the
// run's workflow-level lock; the second exited 5, "unavailable".)
func TestWorkflowLock_crossedRuns(t *testing.T) {
	for name, src := range map[string]string{
		"step lock outside the scope": `
lock "env" {
  key   = var.mine
  steps = [step.prepare, step.finish]
}
step "work" {
  depends_on = [step.prepare]
  lock {
    key = var.theirs
  }
  shell = "true"
}
step "finish" {
  depends_on = [step.work]
  shell      = "true"
}`,
		"two workflow-level locks": `
lock "first" {
  key   = var.mine
  steps = [step.prepare, step.work]
}
lock "second" {
  key   = var.theirs
  steps = [step.work]
}
step "work" {
  depends_on = [step.prepare]
  shell      = "true"
}`,
	} {
		t.Run(name, func(t *testing.T) { testCrossedRuns(t, src) })
	}
}

func testCrossedRuns(t *testing.T, body string) {
	a, b := localPair(t)
	dir := t.TempDir()
	wf := loadWorkflow(t, `
variable "mine" { type = string }
variable "theirs" { type = string }
variable "ready" { type = string }
variable "go" { type = string }
step "prepare" {
  shell = ": > ${var.ready}; while [ ! -e ${var.go} ]; do /bin/sleep 0.05; done"
}
`+body)
	vars := func(mine, theirs, ready string) map[string]cty.Value {
		return map[string]cty.Value{"mine": cty.StringVal(mine), "theirs": cty.StringVal(theirs),
			"ready": cty.StringVal(filepath.Join(dir, ready)), "go": cty.StringVal(filepath.Join(dir, "go"))}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	res := make([]*Result, 2)
	for i, v := range []map[string]cty.Value{vars("A", "B", "r1"), vars("B", "A", "r2")} {
		l := []lock.Locker{a, b}[i]
		wg.Add(1)
		go func() { defer wg.Done(); res[i], _ = runWorkflow(t, wf, l, runSetup{ctx: ctx, vars: v}) }()
	}
	waitFor(t, "both runs to hold their workflow-level lock", 20*time.Second, func() bool {
		_, err1 := os.Stat(filepath.Join(dir, "r1"))
		_, err2 := os.Stat(filepath.Join(dir, "r2"))
		return err1 == nil && err2 == nil
	})
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("both runs waited on each other until the context ended: outcomes %v, %v", res[0].Outcome, res[1].Outcome)
	}
	var busy, ok, deadlocks int
	for _, r := range res {
		switch r.Outcome {
		case OutcomeLockBusy:
			busy++
		case OutcomeSucceeded:
			ok++
		}
		for _, in := range r.Instances {
			if in.Reason == ReasonDeadlock {
				deadlocks++
			}
		}
	}
	for _, r := range res {
		for _, in := range r.Instances {
			t.Logf("%s %s %s %s %v", r.RunID, in.Address, in.Status, in.Reason, in.Err)
		}
	}
	if busy != 1 || ok != 1 || deadlocks != 1 {
		t.Errorf("outcomes %v and %v with %d deadlock failures; want one lock-busy run (a deadlock) and one success",
			res[0].Outcome, res[1].Outcome, deadlocks)
	}
}

// staleGrant hands out, once, a workflow-level lock's grant that went stale
// during a "pause": by the time Acquire returns the lease was released and
// another holder took the key. Renewals take 100 ms, as over a remote link,
// and nothing pushes losses between them (as with Redis).
type staleGrant struct {
	*lock.Local
	other *lock.Local
	t     *testing.T
	once  *sync.Once
}

func (s staleGrant) Acquire(ctx context.Context, req lock.Request) (*lock.Lease, error) {
	l, err := s.Local.Acquire(ctx, req)
	if err != nil || req.Key != wlKey {
		return l, err
	}
	stale := false
	s.once.Do(func() { stale = true })
	if !stale {
		return l, nil
	}
	s.Local.Release(ctx, l.Key, l.Token) // the lease ran out during the pause
	hold(s.t, s.other, wlKey)            // and the next waiter took it
	l.Sent = time.Now().Add(-2 * l.TTL)
	return l, nil
}

func (s staleGrant) Renew(ctx context.Context, key, token string, ttl time.Duration) error {
	time.Sleep(100 * time.Millisecond)
	return s.Local.Renew(ctx, key, token, ttl)
}

func (s staleGrant) Lost(key, token string) <-chan error { return nil }

// TestWorkflowLock_staleGrantNeverRuns: a workflow-level grant that went
// stale before its scope's step started is confirmed void and the run queues
// again (here behind the other holder until the test gives up): the step's
// command never runs on it. (It ran, and the run succeeded.)
func TestWorkflowLock_staleGrantNeverRuns(t *testing.T) {
	run, other := localPair(t)
	dir := t.TempDir()
	wf := loadWorkflow(t, `
variable "dir" { type = string }
lock "env" {
  key   = "deploy/staging"
  ttl   = "3s"
}
step "deploy" {
  shell = ": > ${var.dir}/ran"
}
`)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	res, _ := runWorkflow(t, wf, staleGrant{run, other, t, &sync.Once{}}, runSetup{ctx: ctx, vars: dirVars(dir)})
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Fatalf("the step's command ran on a stale workflow-level grant (outcome %v)", res.Outcome)
	}
	if res.Outcome != OutcomeInterrupted {
		t.Errorf("outcome %v, want interrupted (still queued behind the other holder)", res.Outcome)
	}
}
