package config

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
)

// Minimum durations checked at validate time.
const (
	MinLockTTL = time.Second // a lock's ttl
	MinOnceTTL = time.Second // a once marker's ttl
)

// OnBusyValues are the values a lock's on_busy may take.
var OnBusyValues = []string{"wait", "skip", "fail"}

// types evaluates every expression not already reported in a scope of
// unknowns (variables of their declared types, step results, each), the way
// packer validates, so type mistakes show up without running anything.
func (c *checker) types(getenv func(string) string, stop *atomic.Bool) {
	scope := &Scope{BaseDir: c.w.Dir, Cwd: c.w.Dir, Variables: c.w.UnknownVariables(), Getenv: getenv}
	scope.funcs = stoppable(Functions(c.w.Dir, getenv), stop)
	scope.Locals = map[string]cty.Value{}
	for _, name := range c.w.localOrder() {
		scope.Locals[name] = cty.DynamicVal
		if e := c.w.Locals[name].Expr; !c.bad[e] {
			v, _ := c.eval(scope.EvalContext(), e, cty.DynamicPseudoType)
			scope.Locals[name] = v
		}
	}
	scope.Steps = map[string]cty.Value{}
	for name, s := range c.w.Steps {
		scope.Steps[name] = UnknownStepResult(s.ForEach != nil)
	}
	base := scope.EvalContext()
	for _, name := range sortedKeys(c.w.Steps) {
		c.stepTypes(base, c.w.Steps[name])
	}
	for _, name := range sortedKeys(c.w.Outputs) {
		c.eval(base, c.w.Outputs[name].Value, cty.DynamicPseudoType)
	}
	for _, name := range sortedKeys(c.w.Variables) {
		for _, v := range c.w.Variables[name].Validations {
			c.eval(base, v.Condition, cty.Bool)
			c.eval(base, v.ErrorMessage, cty.String)
		}
	}
}

// stoppable wraps every function of fns so that it fails once stop is set:
// an abandoned evaluation then winds down at its next function call.
func stoppable(fns map[string]function.Function, stop *atomic.Bool) map[string]function.Function {
	out := make(map[string]function.Function, len(fns))
	for name, f := range fns {
		out[name] = function.New(&function.Spec{
			Description: f.Description(),
			Params:      f.Params(),
			VarParam:    f.VarParam(),
			Type:        f.ReturnTypeForValues,
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				if stop.Load() {
					return cty.NilVal, errors.New("evaluation was abandoned")
				}
				return f.Call(args)
			},
		})
	}
	return out
}

// eval evaluates e unless it is nil or already reported, recording
// diagnostics; the value is unknown when evaluation was skipped or failed.
func (c *checker) eval(ctx *hcl.EvalContext, e hcl.Expression, want cty.Type) (cty.Value, bool) {
	if e == nil || c.bad[e] {
		return cty.UnknownVal(want), false
	}
	v, d := evalIn(ctx, e, want)
	c.diags = append(c.diags, d...)
	return v, !d.HasErrors()
}

func (c *checker) stepTypes(base *hcl.EvalContext, s *Step) {
	ctx := base
	if s.ForEach != nil {
		c.forEach(base, s.ForEach)
		ctx = base.NewChild()
		ctx.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{
			"key": cty.UnknownVal(cty.String), "value": cty.DynamicVal,
		})}
	}
	c.command(ctx, s.Command)
	c.eval(ctx, s.Shell, cty.String)
	c.eval(ctx, s.Env, cty.Map(cty.String))
	c.eval(ctx, s.Dir, cty.String)
	c.duration(ctx, s.Timeout, time.Millisecond)
	c.duration(ctx, s.KillTimeout, 0)
	for _, l := range s.Locks {
		c.key(ctx, l.Key, "lock")
		c.duration(ctx, l.TTL, MinLockTTL)
		c.duration(ctx, l.Timeout, 0)
		c.onBusy(ctx, l.OnBusy)
		c.atLeastOne(ctx, l.Limit, "Invalid lock limit", "The limit of a lock is how many holders it admits at once")
	}
	if s.Once != nil {
		c.key(ctx, s.Once.Key, "once")
		c.duration(ctx, s.Once.TTL, MinOnceTTL)
	}
	for _, ch := range s.Checks {
		c.eval(ctx, ch.Condition, cty.Bool)
		c.command(ctx, ch.Command)
	}
	if s.Retry != nil {
		c.atLeastOne(ctx, s.Retry.Attempts, "Invalid retry attempts", "The attempts of a retry block count every run of the step, the first included")
		c.duration(ctx, s.Retry.Delay, 0)
	}
}

func (c *checker) forEach(ctx *hcl.EvalContext, e hcl.Expression) {
	v, ok := c.eval(ctx, e, cty.DynamicPseudoType)
	if !ok {
		return
	}
	ty := v.Type()
	valid := ty == cty.DynamicPseudoType || ty.IsMapType() || ty.IsObjectType() ||
		(ty.IsSetType() && (ty.ElementType() == cty.String || ty.ElementType() == cty.DynamicPseudoType))
	if !valid {
		c.errorf(e.Range(), "Invalid for_each argument",
			"The for_each argument must be a map or a set of strings, but this value is %s. "+
				"Use toset() to make a set from a list of strings.", friendly(ty))
		return
	}
	if v.IsKnown() && v.IsNull() {
		c.errorf(e.Range(), "Invalid for_each argument", "The for_each argument must not be null.")
	}
}

// key checks a lock or once key: a string, and not empty when known.
func (c *checker) key(ctx *hcl.EvalContext, e hcl.Expression, kind string) {
	v, ok := c.eval(ctx, e, cty.String)
	if ok && v.IsKnown() && (v.IsNull() || v.AsString() == "") {
		c.errorf(e.Range(), "Empty "+kind+" key", "A %s key names what is coordinated, so it must be a non-empty string.", kind)
	}
}

func (c *checker) command(ctx *hcl.EvalContext, e hcl.Expression) {
	v, ok := c.eval(ctx, e, cty.List(cty.String))
	if ok && v.IsKnown() && (v.IsNull() || v.LengthInt() == 0) {
		c.errorf(e.Range(), "Empty command", "A command must name at least the program to run.")
	}
}

// duration checks e as a duration of at least min when its value is known,
// and that it is a string when it is not.
func (c *checker) duration(ctx *hcl.EvalContext, e hcl.Expression, min time.Duration) {
	v, ok := c.eval(ctx, e, cty.DynamicPseudoType)
	if !ok {
		return
	}
	if v.IsKnown() {
		_, d := ParseDuration(v, e.Range(), min)
		c.diags = append(c.diags, d...)
		return
	}
	if v.Type() == cty.Number {
		// ParseDuration would only say "not known yet" of an unknown number
		// (var.n with type = number); the mistake is the type.
		c.errorf(e.Range(), "Invalid duration",
			"This value is a number, and a number is not a duration: write a string with a unit, such as \"30s\".")
		return
	}
	if _, err := convert.Convert(cty.UnknownVal(v.Type()), cty.String); err != nil {
		c.errorf(e.Range(), "Invalid duration", "A duration must be a string such as \"30s\" or \"1h30m\": %s.", errText(err))
	}
}

func (c *checker) onBusy(ctx *hcl.EvalContext, e hcl.Expression) {
	v, ok := c.eval(ctx, e, cty.String)
	if !ok || !v.IsKnown() {
		return
	}
	if v.IsNull() {
		c.errorf(e.Range(), "Invalid on_busy value", "The on_busy argument must be \"wait\", \"skip\" or \"fail\", not null.")
		return
	}
	if s := v.AsString(); !contains(OnBusyValues, s) {
		c.errorf(e.Range(), "Invalid on_busy value",
			"The on_busy argument must be \"wait\", \"skip\" or \"fail\"; %q is none of them.%s", s, didYouMean(s, OnBusyValues))
	}
}

// atLeastOne checks e as a whole number of at least 1.
func (c *checker) atLeastOne(ctx *hcl.EvalContext, e hcl.Expression, summary, why string) {
	v, ok := c.eval(ctx, e, cty.Number)
	if !ok || !v.IsKnown() {
		return
	}
	if v.IsNull() {
		c.errorf(e.Range(), summary, "%s, so it must be a whole number from 1 to 1048576, not null.", why)
		return
	}
	bf := v.AsBigFloat()
	if n, _ := bf.Int64(); !bf.IsInt() || n < 1 || n > 1<<20 {
		c.errorf(e.Range(), summary, "%s, so it must be a whole number from 1 to 1048576; it is %s.", why, bf.Text('g', 10))
	}
}
