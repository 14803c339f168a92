package config

import (
	"fmt"

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

// StepResult builds a known step result value.
func StepResult(status string, exitCode int, output string) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"status":    cty.StringVal(status),
		"exit_code": cty.NumberIntVal(int64(exitCode)),
		"output":    cty.StringVal(output),
	})
}

// EvalContext builds the hcl.EvalContext for this scope, including Functions.
// Nil maps in s stand for empty ones. The function table is built once per
// Scope value and reused.
func (s *Scope) EvalContext() *hcl.EvalContext {
	if s.funcs == nil {
		s.funcs = Functions(s.BaseDir, s.Getenv)
	}
	vars := map[string]cty.Value{
		"var":   objectOf(s.Variables),
		"local": objectOf(s.Locals),
		"step":  objectOf(s.Steps),
		"path": cty.ObjectVal(map[string]cty.Value{
			"root": cty.StringVal(s.BaseDir),
			"cwd":  cty.StringVal(s.Cwd),
		}),
	}
	if s.Each != nil {
		vars["each"] = cty.ObjectVal(map[string]cty.Value{"key": s.Each.Key, "value": s.Each.Value})
	}
	return &hcl.EvalContext{Variables: vars, Functions: s.funcs}
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
	return evalIn(s.EvalContext(), expr, want)
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
		return cty.UnknownVal(want), diags
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
// steps or each. A local that fails to evaluate is set to an unknown value so
// that the others still evaluate; its diagnostics are returned.
func (w *Workflow) EvalLocals(s *Scope) hcl.Diagnostics {
	if s.Locals == nil {
		s.Locals = map[string]cty.Value{}
	}
	inner := *s
	inner.Steps, inner.Each = nil, nil
	var diags hcl.Diagnostics
	for _, name := range w.localOrder() {
		inner.Locals = s.Locals
		v, d := inner.EvalExpr(w.Locals[name].Expr, cty.DynamicPseudoType)
		diags = append(diags, d...)
		if d.HasErrors() {
			v = cty.DynamicVal
		}
		s.Locals[name] = v
	}
	s.funcs = inner.funcs
	return diags
}
