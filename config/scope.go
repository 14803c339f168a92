package config

import (
	"fmt"
	"reflect"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// StepResultType is the type of one step result, step.NAME (or
// step.NAME["key"] for a for_each step).
var StepResultType = cty.Object(map[string]cty.Type{
	"status":    cty.String,
	"exit_code": cty.Number,
	"output":    cty.String,
})

// UnknownStepResult is the value a step result has before the step ran:
// unknown of StepResultType, or for a for_each step (forEach true) an
// unknown map of them.
func UnknownStepResult(forEach bool) cty.Value {
	if forEach {
		return cty.UnknownVal(cty.Map(StepResultType))
	}
	return cty.UnknownVal(StepResultType)
}

// StepResult builds a known step result value, the one value of
// step.NAME that config and the runner share. A negative exitCode (no
// command ran) is a null exit_code.
func StepResult(status string, exitCode int, output string) cty.Value {
	code := cty.NullVal(cty.Number)
	if exitCode >= 0 {
		code = cty.NumberIntVal(int64(exitCode))
	}
	return cty.ObjectVal(map[string]cty.Value{
		"status":    cty.StringVal(status),
		"exit_code": code,
		"output":    cty.StringVal(output),
	})
}

// EvalContext builds the hcl.EvalContext for this scope, including Functions.
// Nil maps in s stand for empty ones. The function table is built once per
// Scope value and reused, and so are the objects of var and local, which
// must not change once the scope is in use (EvalLocals fills Locals first):
// a copy of a scope shares them, so that contexts for many steps cost
// little more than their step results.
func (s *Scope) EvalContext() *hcl.EvalContext {
	if s.funcs == nil {
		s.funcs = functionsFS(fileSystem{fsys: s.FS}, s.BaseDir, s.Getenv)
	}
	if s.objs == nil {
		s.objs = &objCache{}
	}
	vars := map[string]cty.Value{
		"var":   s.objs.object(&s.objs.vars, s.Variables),
		"local": s.objs.object(&s.objs.locals, s.Locals),
		"step":  objectOf(s.Steps),
		"lock":  objectOf(s.Locks),
		"path":  s.objs.path(s.BaseDir, s.Cwd),
	}
	if s.Each != nil {
		vars["each"] = cty.ObjectVal(map[string]cty.Value{"key": s.Each.Key, "value": s.Each.Value})
	}
	return &hcl.EvalContext{Variables: vars, Functions: s.funcs}
}

// objCache holds the objects of a scope's var and local maps (and path),
// built once and shared by the scope's copies. An entry is rebuilt when its
// map is another map or has another length.
type objCache struct {
	mu                 sync.Mutex
	vars, locals, root cacheEntry
}

type cacheEntry struct {
	ptr uintptr
	n   int
	key string
	v   cty.Value
}

func (c *objCache) object(e *cacheEntry, m map[string]cty.Value) cty.Value {
	p := reflect.ValueOf(m).Pointer()
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.v == cty.NilVal || e.ptr != p || e.n != len(m) {
		e.ptr, e.n, e.v = p, len(m), objectOf(m)
	}
	return e.v
}

func (c *objCache) path(root, cwd string) cty.Value {
	c.mu.Lock()
	defer c.mu.Unlock()
	if key := root + "\x00" + cwd; c.root.v == cty.NilVal || c.root.key != key {
		c.root.key, c.root.v = key, cty.ObjectVal(map[string]cty.Value{
			"root": cty.StringVal(root),
			"cwd":  cty.StringVal(cwd),
		})
	}
	return c.root.v
}

func objectOf(m map[string]cty.Value) cty.Value {
	if len(m) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(m)
}

// EvalExpr evaluates expr and converts the result to want (cty.DynamicPseudoType
// for no conversion). Diagnostics carry the expression's range. The result may
// be unknown when the scope holds unknown values. A nil expr yields a null of
// want and no diagnostics.
func (s *Scope) EvalExpr(expr hcl.Expression, want cty.Type) (cty.Value, hcl.Diagnostics) {
	if expr == nil {
		return cty.NullVal(want), nil
	}
	return evalIn(limitsFor(s.EvalContext(), expr), expr, want)
}

// EvalIn is Scope.EvalExpr in a context made by EvalContext, for callers
// that evaluate many expressions in one scope and build the context once.
func EvalIn(ctx *hcl.EvalContext, expr hcl.Expression, want cty.Type) (cty.Value, hcl.Diagnostics) {
	if expr == nil {
		return cty.NullVal(want), nil
	}
	return evalIn(limitsFor(ctx, expr), expr, want)
}

func evalIn(ctx *hcl.EvalContext, expr hcl.Expression, want cty.Type) (v cty.Value, diags hcl.Diagnostics) {
	defer func() {
		if r := recover(); r != nil {
			v = cty.UnknownVal(want)
			diags = append(diags, &hcl.Diagnostic{
				Severity:   hcl.DiagError,
				Summary:    "Internal error",
				Detail:     fmt.Sprintf("Evaluating this expression failed unexpectedly (%v). This is a bug in lockstep.", r),
				Subject:    expr.Range().Ptr(),
				Expression: expr,
			})
		}
	}()
	v, diags = expr.Value(ctx)
	if diags.HasErrors() {
		return cty.UnknownVal(want), sizeDiags(diags)
	}
	if want == cty.DynamicPseudoType {
		return v, diags
	}
	conv, err := convert.Convert(v, want)
	if err != nil {
		return cty.UnknownVal(want), append(diags, &hcl.Diagnostic{
			Severity:    hcl.DiagError,
			Summary:     "Incorrect value type",
			Detail:      fmt.Sprintf("This value must be %s: %s.", friendly(want), errText(err)),
			Subject:     expr.Range().Ptr(),
			Expression:  expr,
			EvalContext: ctx,
		})
	}
	return conv, diags
}

// friendly names a type with its article, as a sentence needs it.
func friendly(t cty.Type) string {
	switch {
	case t == cty.String:
		return "a string"
	case t == cty.Number:
		return "a number"
	case t == cty.Bool:
		return "a bool"
	case t.Equals(cty.List(cty.String)):
		return "a list of strings"
	case t.Equals(cty.Map(cty.String)):
		return "a map of strings"
	}
	return "of type " + t.FriendlyName()
}

// EvalLocals evaluates every local of w in dependency order into s.Locals.
// Locals may refer to variables, other locals, path and functions, never to
// steps, each or locks. A local that fails to evaluate, or that is larger
// than MaxValueSize (or would make the locals together larger than
// MaxEvalSize), is set to an unknown value so that the others still
// evaluate; its diagnostics are returned.
func (w *Workflow) EvalLocals(s *Scope) hcl.Diagnostics {
	if s.Locals == nil {
		s.Locals = map[string]cty.Value{}
	}
	inner := *s
	inner.Steps, inner.Each, inner.Locks = nil, nil, nil
	base := inner.EvalContext()
	s.funcs = inner.funcs
	return w.evalLocals(base, s.Locals, nil)
}

// evalLocals evaluates the locals of w in base into locals, each in a
// context holding only the locals it refers to (so that the work stays
// linear in the number of locals). Locals for which skip is true are
// unknown.
func (w *Workflow) evalLocals(base *hcl.EvalContext, locals map[string]cty.Value, skip func(hcl.Expression) bool) hcl.Diagnostics {
	var diags hcl.Diagnostics
	total := 0
	for _, name := range w.localOrder() {
		l := w.Locals[name]
		locals[name] = cty.DynamicVal
		if skip != nil && skip(l.Expr) {
			continue
		}
		ctx := base.NewChild()
		ctx.Variables = map[string]cty.Value{"local": localsFor(l.Expr, locals)}
		v, d := evalIn(limitsFor(ctx, l.Expr), l.Expr, cty.DynamicPseudoType)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		n := valueSize(v, MaxValueSize)
		total += n
		switch {
		case n > MaxValueSize:
			diags = append(diags, tooLargeValue(l, fmt.Sprintf("The local value %q is at least %s, more than the %s limit on values.",
				name, byteText(n), sizeText(MaxValueSize))))
		case total > MaxEvalSize:
			diags = append(diags, tooLargeValue(l, fmt.Sprintf("With the local value %q the local values together hold "+
				"more than the %s limit.", name, sizeText(MaxEvalSize))))
		default:
			locals[name] = v
		}
	}
	return diags
}

func tooLargeValue(l *Local, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Value too large",
		Detail:  detail + " lockstep bounds what expressions may build so that a workflow cannot exhaust memory.",
		Subject: l.Expr.Range().Ptr()}
}

// localsFor returns the object of the locals expr refers to, from locals.
func localsFor(expr hcl.Expression, locals map[string]cty.Value) cty.Value {
	var refs map[string]cty.Value
	for _, tr := range expr.Variables() {
		if r := parseRef(tr); r.root == "local" && r.name != "" {
			if v, ok := locals[r.name]; ok {
				if refs == nil {
					refs = map[string]cty.Value{}
				}
				refs[r.name] = v
			}
		}
	}
	return objectOf(refs)
}
