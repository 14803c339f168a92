package config

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// Evaluation is bounded by memory, not only by time: a few hundred bytes of
// HCL doubling a file() would otherwise build gigabytes. Three bounds apply:
//
//   - no value that a function, a template or a for expression produces, and
//     no local value, may be larger than MaxValueSize;
//   - the values produced while evaluating one expression (function results,
//     the parts of templates that join several values, the elements of for
//     expressions) may add up to at most MaxEvalSize;
//   - the local values of a workflow together may hold at most MaxEvalSize.
//
// Functions check their result, and those whose result can be much larger
// than their arguments (join, replace, format, indent, split, …) estimate it
// first and refuse before building it. Templates and for expressions are
// instrumented when a file is parsed: their parts are passed through an
// internal function that counts against the evaluation's budget.

// MaxValueSize is the largest value an expression may build: the bytes of
// its strings plus 16 bytes per element or attribute of a collection.
const MaxValueSize = 16 << 20

// MaxEvalSize bounds what one evaluation may produce in all, and what the
// local values of a workflow may hold together.
const MaxEvalSize = 64 << 20

// elementCost is what a collection element counts for in valueSize.
const elementCost = 16

// sizeText renders a size limit ("16 MiB").
func sizeText(n int) string { return fmt.Sprintf("%d MiB", n>>20) }

// SizeError is the error of a function or evaluation step whose value would
// exceed a limit.
type SizeError struct {
	What  string // "the result of join", "the values of this expression", …
	Size  int    // at least this many bytes
	Limit int
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("%s would be larger than the %s limit on values (at least %s)", e.What, sizeText(e.Limit),
		byteText(e.Size))
}

func byteText(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// valueSize approximates the memory v holds; it stops counting once the
// total passes limit. Unknown and null values count nothing.
func valueSize(v cty.Value, limit int) int {
	v, _ = v.Unmark()
	if !v.IsKnown() || v.IsNull() {
		return 0
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		return len(v.AsString())
	case ty.IsPrimitiveType():
		return 8
	case ty.IsCapsuleType():
		return elementCost
	}
	total := 0
	for it := v.ElementIterator(); it.Next() && total <= limit; {
		k, el := it.Element()
		total += elementCost + valueSize(el, limit-total)
		if ty.IsMapType() || ty.IsObjectType() {
			total += len(k.AsString())
		}
	}
	return total
}

// checkValueSize returns a *SizeError when v is larger than MaxValueSize.
func checkValueSize(what string, v cty.Value) error {
	if n := valueSize(v, MaxValueSize); n > MaxValueSize {
		return &SizeError{What: what, Size: n, Limit: MaxValueSize}
	}
	return nil
}

// limitFuncName is the internal function that instrumented templates and for
// expressions call; a name no workflow can write.
const limitFuncName = "\x00limit"

// evalBudget is what one evaluation may still produce.
type evalBudget struct{ left atomic.Int64 }

// limitFunc returns its argument unchanged, after checking it against
// MaxValueSize and charging its size to b.
func limitFunc(b *evalBudget) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType, AllowNull: true,
			AllowUnknown: true, AllowDynamicType: true, AllowMarked: true}},
		Type: func(args []cty.Value) (cty.Type, error) { return args[0].Type(), nil },
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			n := valueSize(args[0], MaxValueSize)
			if n > MaxValueSize {
				return cty.NilVal, &SizeError{What: "this value", Size: n, Limit: MaxValueSize}
			}
			if b.left.Add(-int64(n)) < 0 {
				return cty.NilVal, &SizeError{What: "the values built by this expression together",
					Size: MaxEvalSize + 1, Limit: MaxEvalSize}
			}
			return args[0], nil
		},
	})
}

// limitsFor returns ctx ready to evaluate e: a child with a fresh budget
// when e may hold instrumented parts, ctx itself when it cannot (most
// attributes: literals, references, simple templates and calls), which
// saves the child on the common path.
func limitsFor(ctx *hcl.EvalContext, e hcl.Expression) *hcl.EvalContext {
	if plain(e, 0) {
		return ctx
	}
	return withLimits(ctx)
}

// plain reports whether e certainly holds no instrumented template or for
// expression: only literals, references, operators, calls and templates of
// at most one interpolation, a few levels deep.
func plain(e hcl.Expression, depth int) bool {
	if depth > 6 {
		return false
	}
	all := func(es ...hclsyntax.Expression) bool {
		for _, x := range es {
			if x != nil && !plain(x, depth+1) {
				return false
			}
		}
		return true
	}
	switch t := e.(type) {
	case *hclsyntax.LiteralValueExpr, *hclsyntax.ScopeTraversalExpr, *constExpr:
		return true
	case *hclsyntax.TemplateExpr:
		return all(t.Parts...)
	case *hclsyntax.TemplateWrapExpr:
		return all(t.Wrapped)
	case *hclsyntax.TupleConsExpr:
		return all(t.Exprs...)
	case *hclsyntax.BinaryOpExpr:
		return all(t.LHS, t.RHS)
	case *hclsyntax.UnaryOpExpr:
		return all(t.Val)
	case *hclsyntax.ConditionalExpr:
		return all(t.Condition, t.TrueResult, t.FalseResult)
	case *hclsyntax.FunctionCallExpr:
		return t.Name != limitFuncName && all(t.Args...)
	case *hclsyntax.IndexExpr:
		return all(t.Collection, t.Key)
	case *hclsyntax.RelativeTraversalExpr:
		return all(t.Source)
	case *hclsyntax.ObjectConsExpr:
		for _, it := range t.Items {
			if !all(it.KeyExpr, it.ValueExpr) {
				return false
			}
		}
		return true
	case *hclsyntax.ObjectConsKeyExpr:
		return all(t.Wrapped)
	}
	return false
}

// withLimits returns a child of ctx for one evaluation, with a fresh budget.
func withLimits(ctx *hcl.EvalContext) *hcl.EvalContext {
	b := &evalBudget{}
	b.left.Store(MaxEvalSize)
	child := ctx.NewChild()
	child.Functions = map[string]function.Function{limitFuncName: limitFunc(b)}
	return child
}

// sizeDiags rewrites the diagnostics of calls that hit a size limit so that
// they name the limit, not the internal function.
func sizeDiags(diags hcl.Diagnostics) hcl.Diagnostics {
	for i, d := range diags {
		extra, ok := hcl.DiagnosticExtra[hclsyntax.FunctionCallDiagExtra](d)
		if !ok {
			continue
		}
		var se *SizeError
		if !errors.As(extra.FunctionCallError(), &se) {
			continue
		}
		what := "This expression"
		if name := extra.CalledFunctionName(); name != limitFuncName {
			what = fmt.Sprintf("The call to %s", name)
		}
		nd := *d
		nd.Summary = "Value too large"
		nd.Detail = fmt.Sprintf("%s would build a value larger than the %s limit on values (at least %s). "+
			"lockstep bounds what expressions may build so that a workflow cannot exhaust memory.",
			what, sizeText(se.Limit), byteText(se.Size))
		diags[i] = &nd
	}
	return diags
}

// instrumentBody instruments every template and for expression under body.
func instrumentBody(body hcl.Body) {
	if sb, ok := body.(*hclsyntax.Body); ok {
		hclsyntax.VisitAll(sb, func(n hclsyntax.Node) hcl.Diagnostics {
			instrumentNode(n)
			return nil
		})
	}
}

// instrumentExpr instruments one expression (a template parsed on its own).
func instrumentExpr(e hcl.Expression) {
	if n, ok := e.(hclsyntax.Node); ok {
		hclsyntax.VisitAll(n, func(n hclsyntax.Node) hcl.Diagnostics {
			instrumentNode(n)
			return nil
		})
	}
}

// instrumentNode passes the parts of a template that joins several values,
// and the keys and values of a for expression, through limitFunc. A
// template with one interpolation cannot grow a value beyond its literal
// text, so it is left as it is (and costs nothing more to evaluate).
func instrumentNode(n hclsyntax.Node) {
	switch t := n.(type) {
	case *hclsyntax.TemplateExpr:
		dynamic := 0
		for _, p := range t.Parts {
			if _, lit := p.(*hclsyntax.LiteralValueExpr); !lit {
				dynamic++
			}
		}
		if dynamic < 2 {
			return
		}
		for i, p := range t.Parts {
			if _, lit := p.(*hclsyntax.LiteralValueExpr); !lit {
				t.Parts[i] = limitCall(p)
			}
		}
	case *hclsyntax.TemplateJoinExpr:
		// A %{ for } directive: the strings it joins are bounded
		// together before the join builds them into one.
		t.Tuple = limitCall(t.Tuple)
	case *hclsyntax.ForExpr:
		t.ValExpr = limitCall(t.ValExpr)
		if t.KeyExpr != nil {
			t.KeyExpr = limitCall(t.KeyExpr)
		}
	}
}

func limitCall(e hclsyntax.Expression) hclsyntax.Expression {
	if c, ok := e.(*hclsyntax.FunctionCallExpr); ok && c.Name == limitFuncName {
		return e
	}
	rng := e.Range()
	start := hcl.Range{Filename: rng.Filename, Start: rng.Start, End: rng.Start}
	end := hcl.Range{Filename: rng.Filename, Start: rng.End, End: rng.End}
	return &hclsyntax.FunctionCallExpr{Name: limitFuncName, Args: []hclsyntax.Expression{e},
		NameRange: start, OpenParenRange: start, CloseParenRange: end}
}

// unwrapCharge returns the expression an instrumented part wraps, or e.
func unwrapCharge(e hcl.Expression) hclsyntax.Expression {
	if c, ok := e.(*hclsyntax.FunctionCallExpr); ok && c.Name == limitFuncName && len(c.Args) == 1 {
		return c.Args[0]
	}
	se, _ := e.(hclsyntax.Expression)
	return se
}
