package config

import (
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

func decodeStep(b *hcl.Block) (*Step, hcl.Diagnostics) {
	s := &Step{Name: b.Labels[0], DeclRange: b.DefRange}
	diags := checkName("step", s.Name, labelRange(b))
	lockBlocks, rest, d := splitLocks(b.Body)
	diags = append(diags, d...)
	attrs, content, d := decodeBlock(StepSchema, rest)
	diags = append(diags, d...)
	s.Attrs, s.ForEach = attrs, attrs.Get("for_each")
	if a, ok := content.Attributes["description"]; ok {
		diags = append(diags, literalString(a, &s.Description)...)
	}
	if a, ok := content.Attributes["depends_on"]; ok {
		s.DependsOn, d = decodeStepList(a)
		diags = append(diags, d...)
	}
	diags = append(diags, s.checkCommand(content.Attributes, b.DefRange)...)
	diags = append(diags, s.decodeLocks(lockBlocks)...)
	diags = append(diags, s.decodeStepBlocks(content.Blocks)...)
	return s, diags
}

func (s *Step) decodeStepBlocks(blocks hcl.Blocks) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, cb := range blocks {
		switch cb.Type {
		case "once":
			attrs, _, d := decodeBlock(OnceSchema, cb.Body)
			diags = append(diags, d...)
			if s.Once != nil {
				diags = append(diags, onlyOne("once", s.Once.DeclRange, cb.DefRange))
				continue
			}
			s.Once = &Once{Attrs: attrs, DeclRange: cb.DefRange}
		case "check":
			attrs, _, d := decodeBlock(CheckSchema, cb.Body)
			diags = append(diags, d...)
			ch := &Check{Condition: attrs.Get("condition"), Command: attrs.Get("command"), Attrs: attrs, DeclRange: cb.DefRange}
			if ch.Condition == nil && ch.Command == nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Empty check block",
					Detail:   "A check block must set condition, command or both.",
					Subject:  cb.DefRange.Ptr(),
				})
			}
			s.Checks = append(s.Checks, ch)
		case "retry":
			attrs, _, d := decodeBlock(RetrySchema, cb.Body)
			diags = append(diags, d...)
			if s.Retry != nil {
				diags = append(diags, onlyOne("retry", s.Retry.DeclRange, cb.DefRange))
				continue
			}
			s.Retry = &Retry{Attrs: attrs, DeclRange: cb.DefRange}
		}
	}
	return diags
}

func onlyOne(kind string, prev, this hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Duplicate %s block", kind),
		Detail:   fmt.Sprintf("A step may have only one %s block; the first was declared at %s.", kind, prev),
		Subject:  this.Ptr(),
	}
}

func decodeLock(b *hcl.Block) (*Lock, hcl.Diagnostics) {
	l := &Lock{DeclRange: b.DefRange}
	var diags hcl.Diagnostics
	if len(b.Labels) > 0 {
		l.Label = b.Labels[0]
		diags = append(diags, checkName("lock", l.Label, labelRange(b))...)
	}
	attrs, _, d := decodeBlock(LockSchema, b.Body)
	l.Attrs = attrs
	return l, append(diags, d...)
}

// splitLocks takes the lock blocks out of a step body. HCL schemas fix a
// block's label count, but a lock's label is optional, so native-syntax
// locks are picked out by hand; in JSON a lock object holding a "key"
// property is unlabelled, and otherwise each property is a labelled lock.
func splitLocks(body hcl.Body) ([]*hcl.Block, hcl.Body, hcl.Diagnostics) {
	if sb, ok := body.(*hclsyntax.Body); ok {
		rest := *sb
		rest.Blocks = nil
		var locks []*hcl.Block
		var diags hcl.Diagnostics
		for _, blk := range sb.Blocks {
			if blk.Type != "lock" {
				rest.Blocks = append(rest.Blocks, blk)
				continue
			}
			if len(blk.Labels) > 1 {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Extraneous label for lock",
					Detail:   "A lock block has at most one label, its name.",
					Subject:  blk.LabelRanges[1].Ptr(),
				})
				continue
			}
			locks = append(locks, blk.AsHCLBlock())
		}
		return locks, &rest, diags
	}
	return splitJSONLocks(body)
}

func splitJSONLocks(body hcl.Body) ([]*hcl.Block, hcl.Body, hcl.Diagnostics) {
	plain := &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "lock"}}}
	c, rest, diags := body.PartialContent(plain)
	var locks []*hcl.Block
	for _, blk := range c.Blocks {
		attrs, _ := blk.Body.JustAttributes()
		if _, ok := attrs["key"]; ok || len(attrs) == 0 {
			locks = append(locks, blk)
			continue
		}
		labelled := &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "lock", LabelNames: []string{"name"}}}}
		lc, _, d := body.PartialContent(labelled)
		diags = append(diags, d...)
		return lc.Blocks, rest, diags
	}
	return locks, rest, diags
}

// decodeStepList decodes a list of step.NAME references (depends_on, a
// workflow-level lock's steps).
func decodeStepList(a *hcl.Attribute) ([]hcl.Traversal, hcl.Diagnostics) {
	exprs, diags := hcl.ExprList(a.Expr)
	var out []hcl.Traversal
	for _, e := range exprs {
		tr, d := hcl.AbsTraversalForExpr(e)
		valid := !d.HasErrors() && tr.RootName() == "step" && len(tr) == 2
		if valid {
			_, valid = tr[1].(hcl.TraverseAttr)
		}
		if !valid {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid " + a.Name + " reference",
				Detail:   "Each element of " + a.Name + " must be a step reference such as step.migrate, with no attribute or index.",
				Subject:  e.Range().Ptr(),
			})
			continue
		}
		out = append(out, tr)
	}
	return out, diags
}

func sortedAttrs(attrs hcl.Attributes) []*hcl.Attribute {
	out := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool {
		ri, rj := out[i].Range, out[j].Range
		if ri.Filename != rj.Filename {
			return ri.Filename < rj.Filename
		}
		if ri.Start.Byte != rj.Start.Byte {
			return ri.Start.Byte < rj.Start.Byte
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// checkCommand reports a step with both or neither of command and shell.
func (s *Step) checkCommand(attrs hcl.Attributes, def hcl.Range) hcl.Diagnostics {
	command, shell := s.Attrs.Get("command"), s.Attrs.Get("shell")
	switch {
	case command != nil && shell != nil:
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Conflicting command and shell",
			Detail:   fmt.Sprintf("The step %q sets both command and shell; a step runs exactly one of them.", s.Name),
			Subject:  attrs["shell"].NameRange.Ptr(),
		}}
	case command == nil && shell == nil:
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Missing command",
			Detail:   fmt.Sprintf("The step %q has neither command nor shell; a step must run exactly one of them.", s.Name),
			Subject:  def.Ptr(),
		}}
	}
	return nil
}

// decodeLocks decodes a step's lock blocks, reporting duplicate labels.
func (s *Step) decodeLocks(lockBlocks []*hcl.Block) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, lb := range lockBlocks {
		l, d := decodeLock(lb)
		diags = append(diags, d...)
		if l.Label != "" {
			for _, prev := range s.Locks {
				if prev.Label == l.Label {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Duplicate lock label",
						Detail: fmt.Sprintf("A lock labelled %q was previously declared in this step at %s. "+
							"Lock labels must be unique within a step.", l.Label, prev.DeclRange),
						Subject: lb.DefRange.Ptr(),
					})
				}
			}
		}
		s.Locks = append(s.Locks, l)
	}
	return diags
}

// nativeTemplate returns a JSON string expression parsed as the template it
// holds (as HCL's JSON syntax does when it evaluates one), so that the shell
// compiler can tell its literal text from its interpolations; any other
// expression is returned as it is.
func nativeTemplate(e hcl.Expression) hcl.Expression {
	if _, ok := e.(hclsyntax.Expression); ok {
		return e
	}
	v, diags := e.Value(nil) // JSON strings are returned verbatim without a context
	if diags.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		return e
	}
	rng := e.Range()
	start := hcl.Pos{Line: rng.Start.Line, Column: rng.Start.Column + 1, Byte: rng.Start.Byte + 1}
	t, diags := hclsyntax.ParseTemplate([]byte(v.AsString()), rng.Filename, start)
	if diags.HasErrors() {
		return e
	}
	instrumentExpr(t)
	return t
}
