package config

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// ShellScript is a shell template compiled for `sh -c`: the literal text of
// the template (what the workflow's author wrote) is the script, and every
// ${...} interpolation is a positional parameter that the script refers to
// as "${N}", quoted for the context it sits in. Values therefore reach the
// shell as data and are never parsed as code. Template directives decide
// which literal text is written: %{if} writes one branch, %{for} writes its
// body once per element, each interpolation inside becoming a parameter.
type ShellScript struct {
	Script string   // the program for sh -c; "" when !ScriptKnown
	Args   []string // $1, $2, …; complete only when Known
	// Values are the arguments as evaluated, unknown while they depend on
	// steps that have not run, marked when they derive from sensitive values.
	Values []cty.Value
	// ScriptKnown is false when a directive's condition or collection is not
	// known yet; Known when the script and every argument are.
	ScriptKnown, Known bool
	Sensitive          bool // an argument or a directive derives from a sensitive value
}

// Argv returns the command that runs the script with shell (such as
// "/bin/sh"): shell -c SCRIPT sh ARG1 ARG2 …; the "sh" is $0.
func (s *ShellScript) Argv(shell string) []string {
	out := make([]string, 0, 4+len(s.Args))
	out = append(out, shell, "-c", s.Script, "sh")
	return append(out, s.Args...)
}

// EvalShell compiles the shell template expr in s. Interpolations that
// cannot be passed as data where they sit (after a backslash, in arithmetic,
// in a here-document with a quoted delimiter) and evaluation errors are
// error diagnostics on their range. A shell attribute must be written as a
// template: a quoted string, a heredoc, or a conditional choosing between
// them.
func (s *Scope) EvalShell(expr hcl.Expression) (*ShellScript, hcl.Diagnostics) {
	return EvalShellIn(s.EvalContext(), expr)
}

// EvalShellIn is Scope.EvalShell in a context made by EvalContext.
func EvalShellIn(ctx *hcl.EvalContext, expr hcl.Expression) (*ShellScript, hcl.Diagnostics) {
	sh, diags := compileShell(withLimits(ctx), expr, false)
	return sh, sizeDiags(diags)
}

// CompileShellTemplate parses src as a template (the text of `exec -c`, for
// instance) and compiles it in s (nil: an empty scope, so the template can
// use functions but no references). filename names the source in
// diagnostics.
func CompileShellTemplate(src []byte, filename string, s *Scope) (*ShellScript, hcl.Diagnostics) {
	if d := CheckSource(src, filename); d.HasErrors() {
		return nil, d
	}
	expr, diags := hclsyntax.ParseTemplate(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	instrumentExpr(expr)
	if s == nil {
		s = &Scope{}
	}
	sc, d := s.EvalShell(expr)
	return sc, append(diags, d...)
}

// shellCompiler walks a template, writing literal text as code and each
// interpolation as a parameter reference.
type shellCompiler struct {
	ctx     *hcl.EvalContext
	static  bool // validate: walk every branch once, values unknown
	lex     *shellLexer
	script  strings.Builder
	values  []cty.Value
	unknown bool // the script text is not known
	marked  bool // a directive depends on a sensitive value
	diags   hcl.Diagnostics
}

func compileShell(ctx *hcl.EvalContext, expr hcl.Expression, static bool) (*ShellScript, hcl.Diagnostics) {
	c := &shellCompiler{ctx: ctx, static: static, lex: &shellLexer{}}
	c.top(expr)
	out := &ShellScript{ScriptKnown: !c.unknown, Values: c.values, Sensitive: c.marked}
	if c.diags.HasErrors() {
		return out, c.diags
	}
	out.Known = out.ScriptKnown
	if out.ScriptKnown {
		out.Script = c.script.String()
	}
	for _, v := range c.values {
		v, marks := v.Unmark()
		out.Sensitive = out.Sensitive || len(marks) > 0
		if !v.IsKnown() {
			out.Known = false
			continue
		}
		out.Args = append(out.Args, v.AsString())
	}
	if !out.Known {
		out.Args = nil
	}
	return out, c.diags
}

func (c *shellCompiler) errorf(rng hcl.Range, summary, format string, args ...any) {
	c.diags = append(c.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary,
		Detail: fmt.Sprintf(format, args...), Subject: rng.Ptr()})
}

// top compiles the whole attribute value.
func (c *shellCompiler) top(expr hcl.Expression) {
	if k, ok := expr.(*constExpr); ok && k.val.Type() == cty.String && !k.val.IsNull() {
		c.literal(k.val.AsString())
		return
	}
	switch t := unwrapCharge(expr).(type) {
	case *hclsyntax.TemplateExpr, *hclsyntax.TemplateWrapExpr:
		c.template(t)
	case *hclsyntax.LiteralValueExpr:
		if t.Val.Type() == cty.String && !t.Val.IsNull() {
			c.literal(t.Val.AsString())
			return
		}
		c.notTemplate(expr)
	case *hclsyntax.ConditionalExpr:
		c.choose(t.Condition, t.TrueResult, t.FalseResult, c.top)
	default:
		c.notTemplate(expr)
	}
}

// notTemplate reports a shell attribute that is not a template, after any
// error its value has (a wrong type, a failing call), which comes first.
func (c *shellCompiler) notTemplate(expr hcl.Expression) {
	if _, diags := evalIn(c.ctx, expr, cty.String); diags.HasErrors() {
		c.diags = append(c.diags, diags...)
		return
	}
	c.errorf(expr.Range(), "Shell script is not a template",
		"The shell attribute must be written here as a string template (a quoted string or a heredoc): "+
			"lockstep runs its literal text as shell code and passes every ${...} interpolation to the shell "+
			"as data, which it cannot do for a value computed elsewhere. Write the script here, or use command.")
}

func (c *shellCompiler) template(e hclsyntax.Expression) {
	switch t := unwrapCharge(e).(type) {
	case *hclsyntax.TemplateExpr:
		for _, p := range t.Parts {
			c.part(p)
		}
	case *hclsyntax.TemplateWrapExpr:
		c.interp(t.Wrapped)
	default:
		c.part(e)
	}
}

func (c *shellCompiler) part(p hclsyntax.Expression) {
	switch t := unwrapCharge(p).(type) {
	case *hclsyntax.LiteralValueExpr:
		if t.Val.Type() == cty.String && t.Val.IsKnown() && !t.Val.IsNull() {
			c.literal(t.Val.AsString())
			return
		}
	case *hclsyntax.ConditionalExpr:
		if isIfDirective(t) {
			c.choose(t.Condition, t.TrueResult, t.FalseResult, func(e hcl.Expression) {
				c.template(e.(hclsyntax.Expression))
			})
			return
		}
	case *hclsyntax.TemplateJoinExpr:
		if fe, ok := unwrapCharge(t.Tuple).(*hclsyntax.ForExpr); ok {
			c.forDirective(fe)
			return
		}
	}
	c.interp(p)
}

// isIfDirective tells %{if c}…%{endif} from an interpolated ${c ? a : b}:
// the directive's range starts at "%{", before its condition.
func isIfDirective(e *hclsyntax.ConditionalExpr) bool {
	return e.SrcRange.Start.Byte < e.Condition.Range().Start.Byte
}

func (c *shellCompiler) literal(text string) {
	c.lex.feed(text)
	c.script.WriteString(text)
	c.checkSize(hcl.Range{})
}

func (c *shellCompiler) checkSize(rng hcl.Range) {
	if c.script.Len() > MaxValueSize {
		c.errorf(rng, "Value too large", "The shell script would be larger than the %s limit on values.", sizeText(MaxValueSize))
		c.script.Reset()
		c.unknown = true
	}
}

// interp writes the reference to a new positional parameter holding the
// value of e.
func (c *shellCompiler) interp(e hclsyntax.Expression) {
	v, diags := e.Value(c.ctx)
	c.diags = append(c.diags, diags...)
	if diags.HasErrors() {
		return
	}
	if v.IsKnown() && v.IsNull() {
		c.errorf(e.Range(), "Invalid template interpolation value",
			"The expression result is null. Cannot include a null value in a string template.")
		return
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil {
		c.errorf(e.Range(), "Invalid template interpolation value",
			"Cannot include the given value in a string template: %s.", errText(err))
		return
	}
	ref, why := c.lex.shellRef(len(c.values) + 1)
	if why != "" {
		c.errorf(e.Range(), "Interpolation cannot be passed as data",
			"Every interpolation in a shell script reaches the shell as data, in a positional parameter; this one "+
				"cannot, because %s.", why)
		return
	}
	c.values = append(c.values, s)
	c.script.WriteString(ref)
	c.lex.interpolated()
	c.checkSize(e.Range())
}

// choose writes the branch cond selects. With cond unknown, validate walks
// both (the second on a copy of the quoting state); a run cannot know the
// script yet.
func (c *shellCompiler) choose(cond, yes, no hcl.Expression, walk func(hcl.Expression)) {
	v, diags := cond.Value(c.ctx)
	c.diags = append(c.diags, diags...)
	if diags.HasErrors() {
		return
	}
	v, err := convert.Convert(v, cty.Bool)
	if err != nil {
		c.errorf(cond.Range(), "Invalid template condition", "The condition must be a bool: %s.", errText(err))
		return
	}
	v, marks := v.Unmark()
	c.marked = c.marked || len(marks) > 0
	switch {
	case !v.IsKnown():
		if !c.static {
			c.unknown = true
		}
		saved := c.lex.clone()
		walk(no)
		c.lex = saved
		walk(yes)
	case v.IsNull():
		c.errorf(cond.Range(), "Invalid template condition", "The condition must not be null.")
	case v.True():
		walk(yes)
	default:
		walk(no)
	}
}

// forDirective writes the body of %{for} once per element.
func (c *shellCompiler) forDirective(fe *hclsyntax.ForExpr) {
	coll, diags := fe.CollExpr.Value(c.ctx)
	c.diags = append(c.diags, diags...)
	if diags.HasErrors() {
		return
	}
	coll, marks := coll.Unmark()
	c.marked = c.marked || len(marks) > 0
	outer := c.ctx
	defer func() { c.ctx = outer }()
	switch {
	case !coll.IsKnown():
		if !c.static {
			c.unknown = true
		}
		c.ctx = forChild(outer, fe, cty.DynamicVal, cty.DynamicVal)
		c.template(fe.ValExpr)
	case coll.IsNull() || !coll.CanIterateElements():
		c.errorf(fe.CollExpr.Range(), "Iteration over non-iterable value",
			"A for directive needs a list, set, map or object to iterate over.")
	default:
		for it := coll.ElementIterator(); it.Next() && !c.diags.HasErrors(); {
			k, v := it.Element()
			c.ctx = forChild(outer, fe, k, v)
			c.template(fe.ValExpr)
		}
	}
}

func forChild(ctx *hcl.EvalContext, fe *hclsyntax.ForExpr, k, v cty.Value) *hcl.EvalContext {
	child := ctx.NewChild()
	child.Variables = map[string]cty.Value{fe.ValVar: v}
	if fe.KeyVar != "" {
		child.Variables[fe.KeyVar] = k
	}
	return child
}
