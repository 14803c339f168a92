package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"

	"github.com/lockstep-dev/lockstep/config"
	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/runner"
)

const planHelp = `Show what a run of the workflow in PATH (default ".") would do, without
running or writing anything. plan prints:

  - a header: how many step instances would run, and whether the backend
    answered (when it did not, why, and that holders are not shown);
  - the workflow-level locks, each with its key and attributes on one line,
    its scope (steps, or the whole run) and who holds it now;
  - every step instance in execution order: description, "after" (its
    dependencies), "within" (its workflow-level locks), each lock with its
    key, ttl, timeout, on_busy and limit (mode, queue and max_waiters when
    set), the once key, the checks (conditions with their value now), the
    command or the compiled shell script with its args, and retry.

Values that wait on earlier steps show as "(known after step.X)"; values
derived from sensitive variables as "(sensitive value)". When the backend
answers (within 2s), each lock shows who holds it now and who waits for it
in line, and each once marker whether it is set.

-detailed-exitcode exits 0 when nothing would run (every instance's once
marker is set or a check is false now), 2 when something would run, and 1 on
any error (a usage or configuration error, or a backend that does not
answer), as Terraform's. Without it plan exits 0, or 2 for a usage or
configuration error. -require-backend makes a backend that does not answer an
error: exit 5 (1 with -detailed-exitcode).`

func planCommand() *command {
	return &command{
		name:     "plan",
		signals:  true,
		synopsis: "Show what a run would do, and who holds its locks now",
		usage: "plan [-var K=V]... [-var-file F]... [-target ADDR]... [-json] [-backend URL]\n" +
			"                     [-detailed-exitcode] [-require-backend] [PATH]",
		help: planHelp,
		args: argPath,
		setup: func(fs *flag.FlagSet) runFunc {
			o := &planOptions{}
			o.wff.register(fs)
			fs.BoolVar(&o.detailed, "detailed-exitcode", false, "exit 0 when nothing would run, 2 when something would, 1 on error")
			fs.BoolVar(&o.requireBackend, "require-backend", false, "fail (exit 5) when the backend does not answer")
			return o.run
		},
	}
}

type planOptions struct {
	wff            workflowFlags
	detailed       bool
	requireBackend bool
}

// backendQueryTimeout bounds plan's look at the backend's current state.
const backendQueryTimeout = 2 * time.Second

// lockState is what the backend says about a lock now: its holders and its
// waiters in line.
type lockState struct {
	Holders []lock.Holder `json:"holders"`
	Queue   []lock.Waiter `json:"queue,omitempty"`
}

// planState is the backend state plan shows next to the steps.
type planState struct {
	Backend   string                      `json:"backend"`
	Reachable bool                        `json:"reachable"`
	Error     string                      `json:"error,omitempty"`
	Locks     map[string]lockState        `json:"locks,omitempty"`
	Onces     map[string]*lock.OnceRecord `json:"once_markers,omitempty"`

	ctx    context.Context
	cancel context.CancelFunc
	locker lock.Locker // nil when not reachable
	err    error       // why not reachable
}

// run plans; with -detailed-exitcode every error is exit 1, as Terraform's.
func (o *planOptions) run(e *env, args []string) error {
	err := o.plan(e, args)
	var st exitStatus
	if o.detailed && err != nil && !errors.As(err, &st) {
		e.report("plan", err)
		return reported(&codeError{err, exitFailed})
	}
	return err
}

func (o *planOptions) plan(e *env, args []string) error {
	path, err := workflowPath(args)
	if err != nil {
		return err
	}
	logger, closeLog := e.logger()
	defer closeLog()
	var dw diagWriter = &humanDiags{e: e}
	if o.wff.json {
		dw = newJSONStream(e.stdout)
	}
	wf, vars, ok := loadForRun(e, path, &o.wff, dw)
	if !ok {
		return reported(usagef("the workflow has errors"))
	}
	plan, diags := runner.NewPlan(wf, o.wff.targets)
	if diags.HasErrors() {
		dw.diagnostics(wf, diags)
		return reported(usagef("the workflow has errors"))
	}
	cwd, _ := os.Getwd()
	// env() reads what a step would see in a run: plan shows no credential.
	scope, diags := runner.BaseScope(wf, vars, cwd, lookupEnv(childEnviron(e.osEnviron(), wf)))
	if diags.HasErrors() {
		dw.diagnostics(wf, diags)
		return reported(usagef("the workflow has errors"))
	}
	st := openState(e, wf, o.wff.backend, logger)
	defer st.close()
	var ue *usageError
	if errors.As(st.err, &ue) { // a malformed backend URL or block, not an unreachable backend
		var de *diagError
		if errors.As(st.err, &de) {
			e.diagnostics(de.files, de.diags)
			return reported(st.err)
		}
		return st.err
	}
	return o.show(e, wf, plan, scope, st)
}

// show prints the plan and returns the exit status it calls for.
func (o *planOptions) show(e *env, wf *config.Workflow, plan *runner.Plan, scope *config.Scope, st *planState) error {
	locks, diags := plan.PreviewLocks(scope)
	wouldRun := 0
	doc := &planDoc{locks: locks, count: plan.InstanceCount(scope), state: st,
		each: func(f func(*runner.PreviewInstance)) {
			// Instances go out in windows whose keys are read from the
			// backend together (a round trip per window, not per key).
			window := make([]*runner.PreviewInstance, 0, planWindow)
			flush := func() {
				st.prefetch(window)
				for _, pi := range window {
					if willRun(pi, st) {
						wouldRun++
					}
					f(pi)
				}
				window = window[:0]
			}
			plan.PreviewEach(scope, func(pi *runner.PreviewInstance) {
				if window = append(window, pi); len(window) == planWindow {
					flush()
				}
			})
			flush()
		}}
	failed := false
	if o.wff.json {
		failed = writePlanJSON(e.stdout, doc, diags)
	} else {
		e.diagnostics(wf.Files, diags)
		failed = writePlan(e.stdout, doc, func(pi *runner.PreviewInstance) { e.diagnostics(wf.Files, pi.Diags) })
	}
	switch {
	case failed:
		return reported(usagef("some values could not be evaluated"))
	case !st.Reachable && (o.requireBackend || o.detailed):
		return fmtBackendErr(st)
	case o.detailed && wouldRun > 0:
		return exitStatus(2)
	}
	return nil
}

// fmtBackendErr is the error of a backend that did not answer plan.
func fmtBackendErr(st *planState) error {
	return fmt.Errorf("backend %s does not answer: %s: %w", orUnknown(st.Backend), st.Error, lock.ErrUnavailable)
}

// willRun reports whether a run would run pi now: not when its once marker
// is set, nor when a check condition is false now.
func willRun(pi *runner.PreviewInstance, st *planState) bool {
	if k := pi.OnceKey(); k != nil && k.Known {
		if rec, ok := st.once(k.Raw); ok && rec != nil {
			return false
		}
	}
	for _, c := range pi.Checks {
		if c.Condition != nil && c.Condition.Known && c.Condition.Text == "false" {
			return false
		}
	}
	return true
}

// planDoc is what plan shows: the workflow-level locks, the step instances
// in order, produced one at a time so that a large plan is never held in
// memory whole, and what the backend says about their keys.
type planDoc struct {
	locks []runner.PreviewLock
	count int // instances each will produce
	each  func(func(*runner.PreviewInstance))
	state *planState
}

// humanDiags prints diagnostics with snippets on stderr.
type humanDiags struct{ e *env }

func (h *humanDiags) diagnostics(wf *config.Workflow, diags hcl.Diagnostics) {
	h.e.diagnostics(workflowFiles(wf), diags)
}

// openState connects to the backend for plan's look at who holds each lock
// and which once markers are set, within backendQueryTimeout for all of it.
// An unreachable backend is reported, never fatal here.
func openState(e *env, wf *config.Workflow, flagURL string, logger hclog.Logger) *planState {
	ctx, cancel := context.WithTimeout(e.ctx, backendQueryTimeout)
	st := &planState{Locks: map[string]lockState{}, Onces: map[string]*lock.OnceRecord{}, ctx: ctx, cancel: cancel}
	locker, spec, err := openLocker(ctx, e, flagURL, workflowBackend(wf), logger)
	if spec != nil {
		st.Backend = spec.desc
	}
	if err != nil {
		st.unreachable(err)
		return st
	}
	st.locker, st.Reachable = locker, true
	return st
}
