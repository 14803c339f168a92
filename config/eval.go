package config

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Values are the attributes of one block evaluated for a run: a Go value
// for each attribute of its schema (Attribute.GoValue), the Default when
// the attribute is absent or could not be evaluated. The getters panic on a
// name the schema does not have.
type Values struct {
	schema    *Block
	vals      []any
	set       []bool
	sensitive []bool
}

func (v *Values) index(name string) int {
	i, ok := v.schema.index[name]
	if !ok {
		panic("config: block " + v.schema.Type + " has no attribute " + name)
	}
	return i
}

// Get returns the Go value of the attribute (nil when absent without a
// default).
func (v *Values) Get(name string) any { return v.vals[v.index(name)] }

// IsSet reports whether the attribute was given and evaluated.
func (v *Values) IsSet(name string) bool { return v.set[v.index(name)] }

// Sensitive reports whether the value derives from a sensitive value.
func (v *Values) Sensitive(name string) bool { return v.sensitive[v.index(name)] }

// String returns a string attribute, "" when absent without a default.
func (v *Values) String(name string) string { s, _ := v.Get(name).(string); return s }

// Duration returns a duration attribute, 0 when absent without a default.
func (v *Values) Duration(name string) time.Duration { d, _ := v.Get(name).(time.Duration); return d }

// Int returns a whole-number attribute, 0 when absent without a default.
func (v *Values) Int(name string) int { n, _ := v.Get(name).(int); return n }

// Bool returns a bool attribute, false when absent without a default.
func (v *Values) Bool(name string) bool { b, _ := v.Get(name).(bool); return b }

// Strings returns a list attribute (command), nil when absent.
func (v *Values) Strings(name string) []string { l, _ := v.Get(name).([]string); return l }

// StringMap returns a map attribute (env), nil when absent.
func (v *Values) StringMap(name string) map[string]string {
	m, _ := v.Get(name).(map[string]string)
	return m
}

// Shell returns a compiled shell attribute, nil when absent.
func (v *Values) Shell(name string) *ShellScript { s, _ := v.Get(name).(*ShellScript); return s }

// EvalAttrs evaluates every attribute of attrs in s for a run, checking each
// value as validate does (Attribute.Check) and requiring it to be known.
// Absent attributes take their Default. An attribute that fails keeps its
// Default and adds error diagnostics with its range. for_each is left out
// (the runner expands instances before a body is evaluated). The result is
// never nil.
func (s *Scope) EvalAttrs(attrs Attrs) (*Values, hcl.Diagnostics) {
	b := attrs.schema
	out := &Values{schema: b, vals: make([]any, len(b.Attrs)), set: make([]bool, len(b.Attrs)),
		sensitive: make([]bool, len(b.Attrs))}
	for i, a := range b.Attrs {
		out.vals[i] = a.Default
	}
	var diags hcl.Diagnostics
	vals, rngs := make([]cty.Value, len(b.Attrs)), make([]hcl.Range, len(b.Attrs))
	attrs.Each(func(a *Attribute, e hcl.Expression) {
		if a.Type == TypeForEach {
			return
		}
		x, v, d := s.evalAttr(a, e)
		diags = append(diags, d...)
		if !d.HasErrors() {
			i := b.index[a.Name]
			out.vals[i], out.set[i], out.sensitive[i] = x, true, v.ContainsMarked()
			vals[i], rngs[i] = v, e.Range()
		}
	})
	if d := b.CheckRule(b.getter(vals, rngs)); d.HasErrors() {
		diags = append(diags, d...)
	}
	return out, diags
}

// EvalAttr evaluates one expression of attribute a for a run, as EvalAttrs
// does, and returns its Go value (nil on error).
func (s *Scope) EvalAttr(a *Attribute, e hcl.Expression) (any, hcl.Diagnostics) {
	x, _, diags := s.evalAttr(a, e)
	return x, diags
}

// evalAttr returns the Go value of the attribute and its cty value (for a
// shell script, a string marked when it involves a sensitive value).
func (s *Scope) evalAttr(a *Attribute, e hcl.Expression) (any, cty.Value, hcl.Diagnostics) {
	if a.Type == TypeShell {
		sh, diags := s.EvalShell(e)
		if diags.HasErrors() {
			return nil, cty.NilVal, diags
		}
		if !sh.Known {
			return nil, cty.NilVal, append(diags, notKnown(a, e))
		}
		v := cty.StringVal(sh.Script)
		if sh.Sensitive {
			v = v.Mark(SensitiveMark)
		}
		return sh, v, diags
	}
	v, diags := s.EvalExpr(e, a.CtyType())
	if diags.HasErrors() {
		return nil, cty.NilVal, diags
	}
	if d := a.Check(v, e.Range()); d.HasErrors() {
		return nil, cty.NilVal, append(diags, d...)
	}
	if !v.IsWhollyKnown() {
		return nil, cty.NilVal, append(diags, notKnown(a, e))
	}
	return a.GoValue(v), v, diags
}

func notKnown(a *Attribute, e hcl.Expression) *hcl.Diagnostic {
	when := "when the step starts"
	if a.block == WorkflowLockSchema {
		when = "when the lock is acquired"
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Value not known",
		Detail: fmt.Sprintf("The %s is not known %s.", a.Label(), when), Subject: e.Range().Ptr()}
}
