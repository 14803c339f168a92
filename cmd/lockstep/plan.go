package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
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
	instances := plan.Preview(scope)
	state := queryState(wf, wff.backend, instances, logger)
	if wff.json {
		return writePlanJSON(os.Stdout, instances, state)
	}
	code := exitOK
	for _, pi := range instances {
		if pi.Diags.HasErrors() {
			writeDiagnostics(os.Stderr, wf.Files, pi.Diags)
			code = exitUsage
		}
	}
	writePlan(os.Stdout, instances, state)
	return code
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
func queryState(wf *config.Workflow, flagURL string, instances []*runner.PreviewInstance, logger hclog.Logger) *planState {
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
	for _, pi := range instances {
		for _, l := range pi.Locks {
			if l.Key.Raw == "" || !st.Reachable {
				continue
			}
			if _, seen := st.Locks[l.Key.Raw]; seen {
				continue
			}
			hs, err := lock.HoldersOf(ctx, locker, l.Key.Raw)
			if err != nil {
				st.unreachable(err)
				break
			}
			st.Locks[l.Key.Raw] = lockState{Holders: hs}
		}
		if pi.OnceKey != nil && pi.OnceKey.Raw != "" && st.Reachable {
			rec, err := locker.Once(ctx, pi.OnceKey.Raw)
			if err != nil {
				st.unreachable(err)
				continue
			}
			st.Onces[pi.OnceKey.Raw] = rec
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

// writePlan prints the plan for people.
func writePlan(w io.Writer, instances []*runner.PreviewInstance, st *planState) {
	var b strings.Builder
	fmt.Fprintf(&b, "lockstep will run %d step instance(s) in this order:\n", len(instances))
	if st.Reachable {
		fmt.Fprintf(&b, "(backend %s: current lock holders and once markers shown)\n", st.Backend)
	} else {
		fmt.Fprintf(&b, "(backend %s not reachable: %s; lock holders and once markers not shown)\n", orUnknown(st.Backend), st.Error)
	}
	for _, pi := range instances {
		b.WriteString("\n")
		writeInstance(&b, pi, st)
	}
	io.WriteString(w, b.String())
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

func writeInstance(b *strings.Builder, pi *runner.PreviewInstance, st *planState) {
	fmt.Fprintf(b, "  %s\n", pi.Address)
	attr := func(name, value string) { fmt.Fprintf(b, "      %-12s %s\n", name, value) }
	if pi.Description != "" {
		attr("description", pi.Description)
	}
	if len(pi.ForEachAfter) > 0 {
		attr("for_each", runner.PreviewValue{After: pi.ForEachAfter}.String())
	}
	if len(pi.DependsOn) > 0 {
		attr("after", "step."+strings.Join(pi.DependsOn, ", step."))
	}
	for _, l := range pi.Locks {
		name := "lock"
		if l.Label != "" {
			name = "lock " + l.Label
		}
		attr(name, fmt.Sprintf("%s ttl=%s timeout=%s on_busy=%s limit=%s", l.Key, l.TTL, l.Timeout, l.OnBusy, l.Limit))
		if st.Reachable && l.Key.Raw != "" {
			attr("", "  "+lockNow(st.Locks[l.Key.Raw]))
		}
	}
	if pi.OnceKey != nil {
		ttl := "forever"
		if pi.OnceTTL != nil {
			ttl = pi.OnceTTL.String()
		}
		attr("once", fmt.Sprintf("%s kept %s", pi.OnceKey, ttl))
		if st.Reachable && pi.OnceKey.Raw != "" {
			if rec := st.Onces[pi.OnceKey.Raw]; rec != nil {
				attr("", "  marker SET by "+orUnknown(rec.Owner)+" at "+rec.At.UTC().Format(time.RFC3339)+": the step will be skipped")
			} else {
				attr("", "  marker not set: the step will run")
			}
		}
	}
	for i, c := range pi.Checks {
		if c.Condition != nil {
			attr(fmt.Sprintf("check %d", i+1), fmt.Sprintf("condition %s (now: %s)", c.ConditionSource, c.Condition))
		}
		if c.Command != nil {
			attr(fmt.Sprintf("check %d", i+1), "command "+c.Command.String())
		}
	}
	if pi.Command != nil {
		name := "command"
		if pi.Shell {
			name = "shell"
		}
		attr(name, pi.Command.String())
	}
	for _, kv := range []struct {
		name string
		v    *runner.PreviewValue
	}{{"env", pi.Env}, {"dir", pi.Dir}, {"timeout", pi.Timeout}, {"retry", pi.Retry}} {
		if kv.v != nil {
			attr(kv.name, kv.v.String())
		}
	}
}

func lockNow(ls lockState) string {
	if len(ls.Holders) == 0 {
		return "free now"
	}
	return "held now by " + holderSummary(ls.Holders)
}
