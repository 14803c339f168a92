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
	doc := &planDoc{}
	doc.locks, diags = plan.PreviewLocks(scope)
	doc.instances = plan.Preview(scope)
	doc.state = queryState(wf, wff.backend, doc, logger)
	if wff.json {
		return writePlanJSON(os.Stdout, doc, diags)
	}
	code := exitOK
	if diags.HasErrors() {
		writeDiagnostics(os.Stderr, wf.Files, diags)
		code = exitUsage
	}
	for _, pi := range doc.instances {
		if pi.Diags.HasErrors() {
			writeDiagnostics(os.Stderr, wf.Files, pi.Diags)
			code = exitUsage
		}
	}
	writePlan(os.Stdout, doc)
	return code
}

// planDoc is what plan shows: the workflow-level locks, the step instances
// in order and what the backend says about their keys.
type planDoc struct {
	locks     []runner.PreviewLock
	instances []*runner.PreviewInstance
	state     *planState
}

// lockKeys returns every known lock key of the plan, workflow-level first.
func (d *planDoc) lockKeys() []string {
	var keys []string
	for _, l := range d.locks {
		keys = append(keys, l.Key().Raw)
	}
	for _, pi := range d.instances {
		for _, l := range pi.Locks {
			keys = append(keys, l.Key().Raw)
		}
	}
	return keys
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

// queryState asks the backend who holds each known lock key and which once
// markers are set. An unreachable backend is reported, never fatal.
func queryState(wf *config.Workflow, flagURL string, doc *planDoc, logger hclog.Logger) *planState {
	ctx, cancel := context.WithTimeout(context.Background(), backendQueryTimeout)
	defer cancel()
	var backend *config.Backend
	if wf.Settings != nil {
		backend = wf.Settings.Backend
	}
	st := &planState{Locks: map[string]lockState{}, Onces: map[string]*lock.OnceRecord{}}
	locker, desc, err := openLocker(ctx, flagURL, backend, logger)
	st.Backend = desc
	if err != nil {
		st.Error = err.Error()
		return st
	}
	defer locker.Close()
	st.Reachable = true
	for _, key := range doc.lockKeys() {
		if _, seen := st.Locks[key]; seen || key == "" || !st.Reachable {
			continue
		}
		hs, err := lock.HoldersOf(ctx, locker, key)
		if err != nil {
			st.unreachable(err)
			break
		}
		st.Locks[key] = lockState{Holders: hs}
	}
	for _, pi := range doc.instances {
		if k := pi.OnceKey(); k != nil && k.Raw != "" && st.Reachable {
			rec, err := locker.Once(ctx, k.Raw)
			if err != nil {
				st.unreachable(err)
				continue
			}
			st.Onces[k.Raw] = rec
		}
	}
	return st
}

func (st *planState) unreachable(err error) {
	if st.Reachable {
		st.Reachable, st.Error = false, err.Error()
		if errors.Is(err, context.DeadlineExceeded) {
			st.Error = "no answer within " + backendQueryTimeout.String()
		}
	}
}
