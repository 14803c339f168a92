package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

var fileSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "lockstep"},
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "step", LabelNames: []string{"name"}},
		{Type: "output", LabelNames: []string{"name"}},
		{Type: "lock", LabelNames: []string{"name"}},
	},
}

// decodeBody decodes one file's top-level blocks into w, reporting
// duplicates of names already declared by earlier files.
func (w *Workflow) decodeBody(body hcl.Body, getenv func(string) string) hcl.Diagnostics {
	content, diags := body.Content(fileSchema)
	for _, b := range content.Blocks {
		switch b.Type {
		case "lockstep":
			s, d := decodeSettings(b, w.files, w.Dir, getenv)
			diags = append(diags, d...)
			if w.Settings != nil {
				diags = append(diags, duplicate("lockstep block", "", w.Settings.DeclRange, b.DefRange))
				continue
			}
			w.Settings = s
		case "variable":
			v, d := decodeVariable(b)
			diags = append(diags, d...)
			if prev, ok := w.Variables[v.Name]; ok {
				diags = append(diags, duplicate("variable", v.Name, prev.DeclRange, v.DeclRange))
				continue
			}
			w.Variables[v.Name] = v
		case "locals":
			ls, d := decodeLocals(b)
			diags = append(diags, d...)
			for _, l := range ls {
				if prev, ok := w.Locals[l.Name]; ok {
					diags = append(diags, duplicate("local value", l.Name, prev.DeclRange, l.DeclRange))
					continue
				}
				w.Locals[l.Name] = l
			}
		case "step":
			s, d := decodeStep(b)
			diags = append(diags, d...)
			if prev, ok := w.Steps[s.Name]; ok {
				diags = append(diags, duplicate("step", s.Name, prev.DeclRange, s.DeclRange))
				continue
			}
			w.Steps[s.Name] = s
		case "lock":
			l, d := decodeWorkflowLock(b)
			diags = append(diags, d...)
			if prev, ok := w.Locks[l.Name]; ok {
				diags = append(diags, duplicate("lock", l.Name, prev.DeclRange, l.DeclRange))
				continue
			}
			w.Locks[l.Name] = l
		case "output":
			o, d := decodeOutput(b)
			diags = append(diags, d...)
			if prev, ok := w.Outputs[o.Name]; ok {
				diags = append(diags, duplicate("output", o.Name, prev.DeclRange, o.DeclRange))
				continue
			}
			w.Outputs[o.Name] = o
		}
	}
	return diags
}

func duplicate(kind, name string, prev, this hcl.Range) *hcl.Diagnostic {
	if name == "" {
		return &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Duplicate %s", kind),
			Detail:   fmt.Sprintf("A workflow may have only one %s; it was previously declared at %s.", kind, prev),
			Subject:  this.Ptr(),
		}
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Duplicate %s declaration", kind),
		Detail: fmt.Sprintf("A %s named %q was previously declared at %s. Names must be unique within a workflow.",
			kind, name, prev),
		Subject: this.Ptr(),
	}
}

// checkName reports a block label that is not a valid identifier.
func checkName(kind, name string, rng hcl.Range) hcl.Diagnostics {
	if hclsyntax.ValidIdentifier(name) {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Invalid %s name", kind),
		Detail: fmt.Sprintf("The name %q is not valid: a name must start with a letter or underscore and "+
			"may contain only letters, digits, underscores and dashes.", name),
		Subject: rng.Ptr(),
	}}
}

func labelRange(b *hcl.Block) hcl.Range {
	if len(b.LabelRanges) > 0 {
		return b.LabelRanges[0]
	}
	return b.DefRange
}

func decodeVariable(b *hcl.Block) (*Variable, hcl.Diagnostics) {
	v := &Variable{Name: b.Labels[0], Type: cty.DynamicPseudoType, DeclRange: b.DefRange}
	diags := checkName("variable", v.Name, labelRange(b))
	content, d := b.Body.Content(VariableSchema.BodySchema())
	diags = append(diags, d...)
	if a, ok := content.Attributes["type"]; ok {
		ty, defaults, d := typeexpr.TypeConstraintWithDefaults(a.Expr)
		diags = append(diags, d...)
		if !d.HasErrors() {
			v.Type, v.TypeDefaults = ty, defaults
			v.parseHCL = ty != cty.String
		}
	}
	if a, ok := content.Attributes["description"]; ok {
		diags = append(diags, literalString(a, &v.Description)...)
	}
	if a, ok := content.Attributes["sensitive"]; ok {
		diags = append(diags, literalBool(a, &v.Sensitive)...)
	}
	if a, ok := content.Attributes["default"]; ok {
		diags = append(diags, v.decodeDefault(a)...)
	}
	for _, vb := range content.Blocks {
		vc, d := vb.Body.Content(ValidationSchema.BodySchema())
		diags = append(diags, d...)
		val := &Validation{DeclRange: vb.DefRange}
		if a, ok := vc.Attributes["condition"]; ok {
			val.Condition = a.Expr
		}
		if a, ok := vc.Attributes["error_message"]; ok {
			val.ErrorMessage = a.Expr
		}
		if val.Condition != nil && val.ErrorMessage != nil {
			v.Validations = append(v.Validations, val)
		}
	}
	return v, diags
}

// decodeDefault evaluates a variable's default as a constant and converts it
// to the variable's type.
func (v *Variable) decodeDefault(a *hcl.Attribute) hcl.Diagnostics {
	val, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		return diags
	}
	if v.TypeDefaults != nil {
		val = v.TypeDefaults.Apply(val)
	}
	conv, err := convert.Convert(val, v.Type)
	if err != nil {
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid default value for variable",
			Detail: fmt.Sprintf("This default value is not compatible with the variable's type constraint: %s.",
				errText(err)),
			Subject: a.Expr.Range().Ptr(),
		})
	}
	v.Default = conv
	return diags
}

func decodeLocals(b *hcl.Block) ([]*Local, hcl.Diagnostics) {
	attrs, diags := b.Body.JustAttributes()
	var ls []*Local
	for _, a := range sortedAttrs(attrs) {
		diags = append(diags, checkName("local value", a.Name, a.NameRange)...)
		ls = append(ls, &Local{Name: a.Name, Expr: a.Expr, DeclRange: a.Range})
	}
	return ls, diags
}

func decodeOutput(b *hcl.Block) (*Output, hcl.Diagnostics) {
	o := &Output{Name: b.Labels[0], DeclRange: b.DefRange}
	diags := checkName("output", o.Name, labelRange(b))
	content, d := b.Body.Content(OutputSchema.BodySchema())
	diags = append(diags, d...)
	if a, ok := content.Attributes["value"]; ok {
		o.Value = a.Expr
	}
	if a, ok := content.Attributes["description"]; ok {
		diags = append(diags, literalString(a, &o.Description)...)
	}
	if a, ok := content.Attributes["sensitive"]; ok {
		diags = append(diags, literalBool(a, &o.Sensitive)...)
	}
	return o, diags
}

// literalString decodes a constant string attribute (no references, no
// function calls).
func literalString(a *hcl.Attribute, dst *string) hcl.Diagnostics {
	v, diags := literal(a, cty.String)
	if !diags.HasErrors() && !v.IsNull() {
		*dst = v.AsString()
	}
	return diags
}

func literalBool(a *hcl.Attribute, dst *bool) hcl.Diagnostics {
	v, diags := literal(a, cty.Bool)
	if !diags.HasErrors() && !v.IsNull() {
		*dst = v.True()
	}
	return diags
}

func literal(a *hcl.Attribute, want cty.Type) (cty.Value, hcl.Diagnostics) {
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	conv, err := convert.Convert(v, want)
	if err != nil {
		return cty.NilVal, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Incorrect attribute value type",
			Detail:   fmt.Sprintf("The %s attribute must be a %s: %s.", a.Name, want.FriendlyName(), errText(err)),
			Subject:  a.Expr.Range().Ptr(),
		})
	}
	return conv, diags
}
