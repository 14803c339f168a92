package runner

import (
	"fmt"
	"path/filepath"
	"sort"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/gocty"

	"github.com/lockstep-dev/lockstep/config"
	"github.com/lockstep-dev/lockstep/lock"
)

var ctyString = cty.String

// sensitiveMark marks values derived from sensitive variables. Any marked value
// is treated as sensitive, whoever marked it.
const sensitiveMark = "sensitive"

// SensitivePlaceholder replaces sensitive values wherever lockstep would show
// them.
const SensitivePlaceholder = "(sensitive value)"

// lockSpec is an evaluated lock block.
type lockSpec struct {
	Label     string
	Index     int // position among the step's lock blocks
	Key       string
	Sensitive bool          // the key derives from a sensitive value
	TTL       time.Duration // lease length
	Wait      time.Duration // 0: try once; lock.WaitForever: no limit
	OnBusy    string        // "wait", "skip" or "fail"
	Limit     int
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
}

// evaluator evaluates the expressions of one step instance against a scope.
type evaluator struct {
	scope *config.Scope
	diags hcl.Diagnostics
}

// value evaluates expr and converts it to want. It records an error and
// returns cty.NilVal when the value is unknown or null.
func (e *evaluator) value(expr hcl.Expression, want cty.Type, what string) cty.Value {
	v, diags := e.scope.EvalExpr(expr, want)
	e.diags = append(e.diags, diags...)
	if diags.HasErrors() {
		return cty.NilVal
	}
	if !v.IsWhollyKnown() {
		e.diags = append(e.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Value not known",
			Detail: fmt.Sprintf("The %s is not known when the step starts.", what), Subject: expr.Range().Ptr()})
		return cty.NilVal
	}
	if v.IsNull() {
		e.diags = append(e.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Null value",
			Detail: fmt.Sprintf("The %s must not be null.", what), Subject: expr.Range().Ptr()})
		return cty.NilVal
	}
	return v
}

func (e *evaluator) str(expr hcl.Expression, what string) (string, bool) {
	v := e.value(expr, cty.String, what)
	if v == cty.NilVal {
		return "", false
	}
	sensitive := v.ContainsMarked()
	v, _ = v.UnmarkDeep()
	return v.AsString(), sensitive
}

func (e *evaluator) strings(expr hcl.Expression, what string) []string {
	v := e.value(expr, cty.List(cty.String), what)
	if v == cty.NilVal {
		return nil
	}
	v, _ = v.UnmarkDeep()
	var out []string
	for _, el := range v.AsValueSlice() {
		if el.IsNull() {
			e.diags = append(e.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Null value",
				Detail: fmt.Sprintf("The %s must not contain null.", what), Subject: expr.Range().Ptr()})
			return nil
		}
		out = append(out, el.AsString())
	}
	return out
}

func (e *evaluator) duration(expr hcl.Expression, min, def time.Duration, what string) time.Duration {
	if expr == nil {
		return def
	}
	v := e.value(expr, cty.String, what)
	if v == cty.NilVal {
		return def
	}
	d, diags := config.ParseDuration(v, expr.Range(), min) // marked: the diagnostics hide the value
	e.diags = append(e.diags, diags...)
	return d
}

func (e *evaluator) integer(expr hcl.Expression, def int, what string) int {
	if expr == nil {
		return def
	}
	v := e.value(expr, cty.Number, what)
	if v == cty.NilVal {
		return def
	}
	v, _ = v.UnmarkDeep()
	var n int
	if err := gocty.FromCtyValue(v, &n); err != nil {
		e.diags = append(e.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid number",
			Detail: fmt.Sprintf("The %s must be a whole number: %v.", what, err), Subject: expr.Range().Ptr()})
		return def
	}
	return n
}

// evalInstance evaluates a step's body for one instance. lockTimeout, when not
// nil, replaces every lock's own timeout.
func evalInstance(scope *config.Scope, st *config.Step, lockTimeout *time.Duration) (*instanceSpec, hcl.Diagnostics) {
	e := &evaluator{scope: scope}
	spec := &instanceSpec{Attempts: 1}
	switch {
	case st.Command != nil:
		spec.Argv = e.strings(st.Command, "command")
		if len(spec.Argv) == 0 && !e.diags.HasErrors() {
			e.diags = append(e.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Empty command",
				Detail: "The command must name a program.", Subject: st.Command.Range().Ptr()})
		}
	case st.Shell != nil:
		script, _ := e.str(st.Shell, "shell script")
		spec.Argv = []string{"/bin/sh", "-c", script}
	}
	if st.Env != nil {
		spec.Env = e.env(st.Env)
	}
	spec.Dir = scope.BaseDir
	if st.Dir != nil {
		if dir, _ := e.str(st.Dir, "dir"); dir != "" {
			if !filepath.IsAbs(dir) {
				dir = filepath.Join(scope.BaseDir, dir)
			}
			spec.Dir = dir
		}
	}
	spec.Timeout = e.duration(st.Timeout, time.Millisecond, 0, "timeout")
	spec.KillTimeout = e.duration(st.KillTimeout, 0, DefaultKillTimeout, "kill_timeout")
	for i, l := range st.Locks {
		ls := e.lock(l, lockTimeout)
		ls.Index = i
		spec.Locks = append(spec.Locks, ls)
	}
	sort.SliceStable(spec.Locks, func(i, j int) bool { return spec.Locks[i].Key < spec.Locks[j].Key })
	if st.Once != nil {
		spec.OnceKey, _ = e.str(st.Once.Key, "once key")
		spec.OnceTTL = e.duration(st.Once.TTL, time.Second, 0, "once ttl")
	}
	if st.Retry != nil {
		spec.Attempts = max(1, e.integer(st.Retry.Attempts, 1, "retry attempts"))
		spec.Delay = e.duration(st.Retry.Delay, 0, 0, "retry delay")
	}
	return spec, e.diags
}

func (e *evaluator) env(expr hcl.Expression) map[string]string {
	v := e.value(expr, cty.Map(cty.String), "env")
	if v == cty.NilVal {
		return nil
	}
	v, _ = v.UnmarkDeep()
	out := map[string]string{}
	for k, el := range v.AsValueMap() {
		if el.IsNull() {
			continue
		}
		out[k] = el.AsString()
	}
	return out
}

func (e *evaluator) lock(l *config.Lock, lockTimeout *time.Duration) lockSpec {
	ls := lockSpec{Label: l.Label, OnBusy: "wait", Wait: lock.WaitForever}
	ls.Key, ls.Sensitive = e.str(l.Key, "lock key")
	ls.TTL = e.duration(l.TTL, time.Second, lock.DefaultTTL, "lock ttl")
	if l.OnBusy != nil {
		ls.OnBusy, _ = e.str(l.OnBusy, "on_busy")
	}
	if ls.OnBusy != "wait" {
		ls.Wait = 0
	}
	if l.Timeout != nil {
		ls.Wait = e.duration(l.Timeout, 0, lock.WaitForever, "lock timeout")
	}
	if lockTimeout != nil && ls.Wait != 0 {
		// -lock-timeout bounds every wait; on_busy "skip"/"fail" locks
		// that do not wait keep trying once.
		ls.Wait = *lockTimeout
	}
	ls.Limit = e.integer(l.Limit, 1, "lock limit")
	if ls.Limit < 1 {
		e.diags = append(e.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid lock limit",
			Detail: "The lock limit must be at least 1.", Subject: l.Limit.Range().Ptr()})
	}
	return ls
}

// checkCondition evaluates a check condition: true proceeds, false skips.
func checkCondition(scope *config.Scope, expr hcl.Expression) (bool, hcl.Diagnostics) {
	e := &evaluator{scope: scope}
	v := e.value(expr, cty.Bool, "check condition")
	if v == cty.NilVal {
		return false, e.diags
	}
	v, _ = v.UnmarkDeep()
	return v.True(), e.diags
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
	bad := func(detail string) (map[string]cty.Value, bool, hcl.Diagnostics) {
		return nil, true, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid for_each argument",
			Detail: detail, Subject: expr.Range().Ptr()})
	}
	if v.ContainsMarked() {
		// Instance keys appear in addresses, output and lock holders.
		return bad("The for_each value is derived from a sensitive value; instance keys are shown everywhere, so it cannot be used.")
	}
	if v.IsNull() {
		return bad("The for_each value must not be null.")
	}
	ty := v.Type()
	items = map[string]cty.Value{}
	switch {
	case ty.IsMapType() || ty.IsObjectType():
		for k, el := range v.AsValueMap() {
			items[k] = el
		}
	case ty.IsSetType():
		sv, err := convert.Convert(v, cty.Set(cty.String))
		if err != nil {
			return bad("The for_each set must hold strings.")
		}
		for _, el := range sv.AsValueSlice() {
			if el.IsNull() {
				return bad("The for_each set must not contain null.")
			}
			items[el.AsString()] = el
		}
	default:
		return bad(fmt.Sprintf("The for_each value must be a map or a set of strings, not %s; use toset() for a list.", ty.FriendlyName()))
	}
	return items, true, diags
}
