package runner

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/lockstep-dev/lockstep/config"
	"github.com/lockstep-dev/lockstep/lock"
)

// Evaluation is driven by the attribute tables of package config
// (config.StepSchema, LockSchema, …): Scope.EvalAttrs evaluates and checks
// every attribute of a block as validate does and fills in the defaults; the
// functions here only give the values their meaning for a run.

var ctyString = cty.String

// sensitiveMark marks values derived from sensitive variables.
const sensitiveMark = config.SensitiveMark

// SensitivePlaceholder replaces sensitive values wherever lockstep would show
// them.
const SensitivePlaceholder = "(sensitive value)"

// Shell is the program that runs a step's shell script.
const Shell = "/bin/sh"

// LockSpec is an evaluated lock: a step's lock block or a workflow-level
// lock "NAME" block. Request turns it into a lock.Request.
type LockSpec struct {
	Name      string // the workflow-level lock's name; "" for a step's lock
	Label     string // a step lock's label; "" when unlabelled
	Index     int    // position among the step's lock blocks
	Key       string
	Sensitive bool          // never true: sensitive values are refused in keys
	TTL       time.Duration // lease length
	Wait      time.Duration // 0: try once; lock.WaitForever: no limit
	OnBusy    string        // "wait", "skip" or "fail"
	Limit     int
	Mode      lock.Mode   // lock.Exclusive or lock.Shared
	Queue     lock.Policy // lock.FIFO or lock.Newest
	// MaxWaiters turns a request away when that many already wait; 0 means
	// no limit.
	MaxWaiters int
	// Steps is the scope of a workflow-level lock, the names of its steps,
	// sorted (every step of the workflow when it has no steps attribute).
	Steps []string
}

// lockSpec is the name the step lifecycle uses for a step's LockSpec.
type lockSpec = LockSpec

// Request returns the lock.Request for the spec, with holder; the caller
// adds OnWait and OnQueue.
func (ls LockSpec) Request(holder lock.Holder) lock.Request {
	return lock.Request{Key: ls.Key, TTL: ls.TTL, Limit: ls.Limit, Wait: ls.Wait, Holder: holder,
		Mode: ls.Mode, Queue: ls.Queue, MaxWaiters: ls.MaxWaiters}
}

// instanceSpec is the evaluated body of a step instance.
type instanceSpec struct {
	Argv        []string
	Env         map[string]string
	Dir         string
	Timeout     time.Duration // 0: none
	KillTimeout time.Duration
	Locks       []lockSpec // sorted by key
	OnceKey     string     // "" when the step has no once block
	OnceTTL     time.Duration
	Attempts    int
	Delay       time.Duration

	// The command's own streams (exec); nil Stdout means step_output
	// events, with stdout captured for step.NAME.output.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// evalInstance evaluates a step's body for one instance. lockTimeout, when not
// nil, replaces every lock's own timeout.
func evalInstance(scope *config.Scope, st *config.Step, lockTimeout *time.Duration) (*instanceSpec, hcl.Diagnostics) {
	vals, diags := scope.EvalAttrs(st.Attrs)
	spec := &instanceSpec{Attempts: 1, Dir: scope.BaseDir, Env: vals.StringMap("env"),
		Timeout: vals.Duration("timeout"), KillTimeout: vals.Duration("kill_timeout")}
	switch {
	case vals.IsSet("command"):
		spec.Argv = vals.Strings("command")
	case vals.IsSet("shell"):
		if sh := vals.Shell("shell"); sh != nil {
			spec.Argv = sh.Argv(Shell)
		}
	}
	if dir := vals.String("dir"); dir != "" {
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(scope.BaseDir, dir)
		}
		spec.Dir = dir
	}
	for i, l := range st.Locks {
		ls, d := evalLock(scope, l.Attrs, lockTimeout)
		diags = append(diags, d...)
		ls.Label, ls.Index = l.Label, i
		spec.Locks = append(spec.Locks, ls)
	}
	spec.Locks = sortLocks(spec.Locks)
	if st.Once != nil {
		v, d := scope.EvalAttrs(st.Once.Attrs)
		diags = append(diags, d...)
		spec.OnceKey, spec.OnceTTL = v.String("key"), v.Duration("ttl")
	}
	if st.Retry != nil {
		v, d := scope.EvalAttrs(st.Retry.Attrs)
		diags = append(diags, d...)
		spec.Attempts, spec.Delay = max(1, v.Int("attempts")), v.Duration("delay")
	}
	return spec, diags
}

// sortLocks sorts locks by key, the order every instance takes them in (so
// two instances never take the same two locks in opposite orders).
func sortLocks(locks []LockSpec) []LockSpec {
	sort.SliceStable(locks, func(i, j int) bool { return locks[i].Key < locks[j].Key })
	return locks
}

// evalLock evaluates the attributes of a lock block (LockSchema or
// WorkflowLockSchema).
func evalLock(scope *config.Scope, attrs config.Attrs, lockTimeout *time.Duration) (LockSpec, hcl.Diagnostics) {
	v, diags := scope.EvalAttrs(attrs)
	ls := LockSpec{Key: v.String("key"), Sensitive: v.Sensitive("key"), TTL: v.Duration("ttl"),
		OnBusy: v.String("on_busy"), Limit: v.Int("limit"), Mode: lock.Mode(v.String("mode")),
		Queue: lock.Policy(v.String("queue")), MaxWaiters: v.Int("max_waiters"), Wait: lock.WaitForever}
	if ls.OnBusy != "wait" {
		ls.Wait = 0
	}
	if v.IsSet("timeout") {
		ls.Wait = v.Duration("timeout")
	}
	if lockTimeout != nil && ls.Wait != 0 {
		// -lock-timeout bounds every wait; on_busy "skip"/"fail" locks
		// that do not wait keep trying once.
		ls.Wait = *lockTimeout
	}
	return ls, diags
}

// EvalWorkflowLock evaluates the workflow-level lock name of wf in scope
// (BaseScope: its attributes may use variables, locals, path and functions
// only) into the LockSpec the runner acquires before the first step of its
// scope starts and releases after the last. lockTimeout, when not nil,
// replaces its timeout as -lock-timeout does for step locks. An unknown name
// is an error diagnostic; so is a key that is empty, holds a NUL byte, is not
// known or derives from a sensitive value.
func EvalWorkflowLock(scope *config.Scope, wf *config.Workflow, name string, lockTimeout *time.Duration) (LockSpec, hcl.Diagnostics) {
	wl := wf.Locks[name]
	if wl == nil {
		return LockSpec{}, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unknown lock",
			Detail: fmt.Sprintf("The workflow declares no lock %q.", name)}}
	}
	ls, diags := evalLock(scope, wl.Attrs, lockTimeout)
	ls.Name, ls.Steps = name, wf.LockScope(name)
	return ls, diags
}

// EvalWorkflowLocks evaluates every workflow-level lock of wf, by name.
func EvalWorkflowLocks(scope *config.Scope, wf *config.Workflow, lockTimeout *time.Duration) ([]LockSpec, hcl.Diagnostics) {
	var out []LockSpec
	var diags hcl.Diagnostics
	for _, name := range sortedKeys(wf.Locks) {
		ls, d := EvalWorkflowLock(scope, wf, name, lockTimeout)
		diags = append(diags, d...)
		out = append(out, ls)
	}
	return out, diags
}

// checkCondition evaluates a check condition: true proceeds, false skips.
func checkCondition(scope *config.Scope, expr hcl.Expression) (bool, hcl.Diagnostics) {
	v, diags := scope.EvalAttr(config.CheckSchema.Attr("condition"), expr)
	return v != nil && v.(bool), diags
}

// evaluator evaluates a list of strings (a check's command) for a run.
type evaluator struct {
	scope *config.Scope
	diags hcl.Diagnostics
}

func (e *evaluator) strings(expr hcl.Expression, _ string) []string {
	v, diags := e.scope.EvalAttr(config.CheckSchema.Attr("command"), expr)
	e.diags = append(e.diags, diags...)
	if diags.HasErrors() {
		return nil
	}
	return v.([]string)
}

// forEachItems evaluates a for_each expression to its instances, by key. ok is
// false when the value is not known yet (planning only).
func forEachItems(scope *config.Scope, expr hcl.Expression) (items map[string]cty.Value, ok bool, diags hcl.Diagnostics) {
	v, diags := scope.EvalExpr(expr, cty.DynamicPseudoType)
	if diags.HasErrors() {
		return nil, true, diags
	}
	if !v.IsWhollyKnown() {
		return nil, false, diags
	}
	if d := config.StepSchema.Attr("for_each").Check(v, expr.Range()); d.HasErrors() {
		return nil, true, append(diags, d...)
	}
	ty := v.Type()
	items = map[string]cty.Value{}
	if ty.IsMapType() || ty.IsObjectType() {
		for k, el := range v.AsValueMap() {
			items[k] = el
		}
		return items, true, diags
	}
	sv, err := convert.Convert(v, cty.Set(cty.String))
	if err != nil {
		return nil, true, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid for_each argument",
			Detail: "The for_each set must hold strings.", Subject: expr.Range().Ptr()})
	}
	for _, el := range sv.AsValueSlice() {
		if el.IsNull() {
			return nil, true, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid for_each argument",
				Detail: "The for_each set must not contain null.", Subject: expr.Range().Ptr()})
		}
		items[el.AsString()] = el
	}
	return items, true, diags
}
