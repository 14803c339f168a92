package main

import (
	"context"
	"errors"
	"io"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"

	"github.com/lockstep-dev/lockstep/config"
	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/runner"
)

const planSynopsis = "plan [-var K=V]... [-var-file F]... [-target ADDR]... [-json] [-backend URL] [PATH]"

const planDescription = `Show what a run of the workflow in PATH (default ".") would do: each step
instance in execution order with its evaluated lock keys, TTLs, once key,
checks and command. Values that wait on earlier steps show as "known after
step.X"; sensitive values are hidden. When the backend is reachable, plan
also shows who holds each lock now and whether each once marker is set.
Nothing is run and nothing is written.`

// backendQueryTimeout bounds plan's look at the backend's current state.
const backendQueryTimeout = 2 * time.Second

// lockState is what the backend says about a lock or once marker now.
type lockState struct {
	Holders []lock.Holder    `json:"holders"`
	Once    *lock.OnceRecord `json:"once_marker,omitempty"`
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
}

func planMain(args []string) int {
	fs := newFlagSet("plan", planSynopsis, planDescription)
	var wff workflowFlags
	wff.register(fs)
	if code, done := parseFlags(fs, args); done {
		return code
	}
	path, ok := workflowPath(fs)
	if !ok {
		return exitUsage
	}
	logger, closeLog := newLogger()
	defer closeLog()
	var dw diagWriter = &humanDiags{w: os.Stderr}
	if wff.json {
		dw = newJSONStream(os.Stdout)
	}
	wf, vars, ok := loadForRun(path, &wff, os.Environ(), dw)
	if !ok {
		return exitUsage
	}
	plan, diags := runner.NewPlan(wf, wff.targets)
	if diags.HasErrors() {
		dw.diagnostics(wf, diags)
		return exitUsage
	}
	cwd, _ := os.Getwd()
	scope, diags := runner.BaseScope(wf, vars, cwd, nil)
	if diags.HasErrors() {
		dw.diagnostics(wf, diags)
		return exitUsage
	}
	locks, diags := plan.PreviewLocks(scope)
	st := openState(wf, wff.backend, logger)
	defer st.close()
	doc := &planDoc{locks: locks, count: plan.InstanceCount(scope), state: st,
		each: func(f func(*runner.PreviewInstance)) { plan.PreviewEach(scope, f) }}
	if wff.json {
		return writePlanJSON(os.Stdout, doc, diags)
	}
	if diags.HasErrors() {
		writeDiagnostics(os.Stderr, wf.Files, diags)
	}
	failed := writePlan(os.Stdout, doc, func(pi *runner.PreviewInstance) {
		writeDiagnostics(os.Stderr, wf.Files, pi.Diags)
	})
	if failed || diags.HasErrors() {
		return exitUsage
	}
	return exitOK
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

// humanDiags prints diagnostics with snippets.
type humanDiags struct{ w io.Writer }

func (h *humanDiags) diagnostics(wf *config.Workflow, diags hcl.Diagnostics) {
	var files map[string]*hcl.File
	if wf != nil {
		files = wf.Files
	}
	writeDiagnostics(h.w, files, diags)
}

// openState connects to the backend for plan's look at who holds each lock
// and which once markers are set, within backendQueryTimeout for all of it.
// An unreachable backend is reported, never fatal.
func openState(wf *config.Workflow, flagURL string, logger hclog.Logger) *planState {
	ctx, cancel := context.WithTimeout(context.Background(), backendQueryTimeout)
	var backend *config.Backend
	if wf.Settings != nil {
		backend = wf.Settings.Backend
	}
	st := &planState{Locks: map[string]lockState{}, Onces: map[string]*lock.OnceRecord{}, ctx: ctx, cancel: cancel}
	locker, desc, err := openLocker(ctx, flagURL, backend, logger)
	st.Backend = desc
	if err != nil {
		st.Error = err.Error()
		return st
	}
	st.locker, st.Reachable = locker, true
	// One read before anything is printed, so that the header can say
	// whether the backend answers (a client may connect lazily).
	if _, err := lock.HoldersOf(ctx, locker, "lockstep/plan/probe"); err != nil {
		st.unreachable(err)
	}
	return st
}

func (st *planState) close() {
	if st.locker != nil {
		st.locker.Close()
	}
	st.cancel()
}

// holders returns who holds key now; ok is false when that is not known.
func (st *planState) holders(key string) (lockState, bool) {
	if ls, seen := st.Locks[key]; seen {
		return ls, true
	}
	if !st.Reachable || key == "" {
		return lockState{}, false
	}
	hs, err := lock.HoldersOf(st.ctx, st.locker, key)
	if err != nil {
		st.unreachable(err)
		return lockState{}, false
	}
	st.Locks[key] = lockState{Holders: hs}
	return st.Locks[key], true
}

// once returns the once marker of key; ok is false when that is not known.
func (st *planState) once(key string) (*lock.OnceRecord, bool) {
	if rec, seen := st.Onces[key]; seen {
		return rec, true
	}
	if !st.Reachable || key == "" {
		return nil, false
	}
	rec, err := st.locker.Once(st.ctx, key)
	if err != nil {
		st.unreachable(err)
		return nil, false
	}
	st.Onces[key] = rec
	return rec, true
}

func (st *planState) unreachable(err error) {
	if st.Reachable {
		st.Reachable, st.Error = false, err.Error()
		if errors.Is(err, context.DeadlineExceeded) {
			st.Error = "no answer within " + backendQueryTimeout.String()
		}
	}
}
