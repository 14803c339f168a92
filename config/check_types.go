package config

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// types evaluates every expression not already reported in a scope of
// unknowns (variables of their declared types, step results, each), the way
// packer validates, so type mistakes show up without running anything.
func (c *checker) types(getenv func(string) string, stop *atomic.Bool) {
	scope := &Scope{BaseDir: c.w.Dir, Cwd: c.w.Dir, Variables: c.w.UnknownVariables(), Getenv: getenv, FS: c.w.FS()}
	scope.funcs = stoppable(functionsFS(c.w.files, c.w.Dir, getenv), stop)
	scope.Locals = map[string]cty.Value{}
	c.diags = append(c.diags, c.w.evalLocals(scope.EvalContext(), scope.Locals, func(e hcl.Expression) bool { return c.bad[e] })...)
	scope.Steps = map[string]cty.Value{}
	for name, s := range c.w.Steps {
		scope.Steps[name] = UnknownStepResult(s.ForEach != nil)
	}
	scope.Locks = map[string]cty.Value{}
	for name := range c.w.Locks {
		scope.Locks[name] = UnknownLockValue(cty.UnknownVal(cty.String))
	}
	base := scope.EvalContext()
	c.stepsTypes(base, sortedKeys(c.w.Steps))
	for _, name := range sortedKeys(c.w.Locks) {
		c.block(base, base, c.w.Locks[name].Attrs)
	}
	c.scopeConflicts(base)
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
	v, d := evalIn(limitsFor(ctx, e), e, want)
	c.diags = append(c.diags, d...)
	return v, !d.HasErrors()
}

// stepsTypes checks the named steps on up to GOMAXPROCS goroutines, each
// with a checker of its own: they only read the workflow, c.bad and base,
// and their diagnostics are appended in the order of names. A workflow of a
// few hundred steps is checked on this goroutine.
func (c *checker) stepsTypes(base *hcl.EvalContext, names []string) {
	workers := max(1, min(runtime.GOMAXPROCS(0), len(names)/stepsPerWorker))
	parts := make([]hcl.Diagnostics, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*len(names)/workers, (w+1)*len(names)/workers
		wg.Go(func() {
			parts[w] = safely("type-checking", func() hcl.Diagnostics {
				wc := &checker{w: c.w, bad: c.bad}
				for _, name := range names[lo:hi] {
					wc.stepTypes(base, c.w.Steps[name])
				}
				return wc.diags
			})
		})
	}
	wg.Wait()
	for _, d := range parts {
		c.diags = append(c.diags, d...)
	}
}

// stepsPerWorker is the fewest steps worth a goroutine of their own in
// stepsTypes.
const stepsPerWorker = 256

func (c *checker) stepTypes(base *hcl.EvalContext, s *Step) {
	ctx := base
	if s.ForEach != nil {
		ctx = base.NewChild()
		ctx.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{
			"key": cty.UnknownVal(cty.String), "value": cty.DynamicVal,
		})}
	}
	c.block(ctx, base, s.Attrs)
	for _, l := range s.Locks {
		c.block(ctx, nil, l.Attrs)
	}
	if s.Once != nil {
		c.block(ctx, nil, s.Once.Attrs)
	}
	for _, ch := range s.Checks {
		c.block(ctx, nil, ch.Attrs)
	}
	if s.Retry != nil {
		c.block(ctx, nil, s.Retry.Attrs)
	}
}

// block evaluates every attribute of a block against unknowns and checks
// each value, then the block's rule, as the runner will when they are
// known. for_each is evaluated in outer (each does not exist there yet).
func (c *checker) block(ctx, outer *hcl.EvalContext, attrs Attrs) {
	b := attrs.Schema()
	vals, rngs := make([]cty.Value, len(b.Attrs)), make([]hcl.Range, len(b.Attrs))
	attrs.Each(func(a *Attribute, e hcl.Expression) {
		at := ctx
		if a.Type == TypeForEach {
			at = outer
		}
		if v, ok := c.attr(at, a, e); ok {
			i := b.index[a.Name]
			vals[i], rngs[i] = v, e.Range()
		}
	})
	c.diags = append(c.diags, b.CheckRule(b.getter(vals, rngs))...)
}

// attr evaluates e, the expression of attribute a, against unknowns and
// checks its value as the runner will when it is known. It returns the
// value and whether it passed.
func (c *checker) attr(ctx *hcl.EvalContext, a *Attribute, e hcl.Expression) (cty.Value, bool) {
	if a.Type == TypeShell {
		c.shell(ctx, e)
		return cty.NilVal, false
	}
	v, ok := c.eval(ctx, e, a.CtyType())
	if !ok {
		return cty.NilVal, false
	}
	d := a.Check(v, e.Range())
	c.diags = append(c.diags, d...)
	return v, !d.HasErrors()
}

// shell compiles a shell template against unknowns, reporting
// interpolations that could not reach the shell as data and evaluation
// errors in every branch of its directives.
func (c *checker) shell(ctx *hcl.EvalContext, e hcl.Expression) {
	if c.bad[e] {
		return
	}
	_, diags := compileShell(withLimits(ctx), e, true)
	c.diags = append(c.diags, sizeDiags(diags)...)
}
