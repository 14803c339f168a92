package config

import (
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

var stepSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "description"}, {Name: "depends_on"}, {Name: "for_each"},
		{Name: "command"}, {Name: "shell"}, {Name: "env"}, {Name: "dir"},
		{Name: "timeout"}, {Name: "kill_timeout"},
	},
	// lock blocks are taken out by splitLocks before this schema is applied;
	// "lock" is listed so that HCL suggests it for a misspelt block type.
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "lock"}, {Type: "once"}, {Type: "check"}, {Type: "retry"},
	},
}

var lockSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "key", Required: true}, {Name: "ttl"}, {Name: "timeout"}, {Name: "on_busy"}, {Name: "limit"},
	},
}

var onceSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "key", Required: true}, {Name: "ttl"}},
}

var checkSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "condition"}, {Name: "command"}},
}

var retrySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "attempts"}, {Name: "delay"}},
}

func decodeStep(b *hcl.Block) (*Step, hcl.Diagnostics) {
	s := &Step{Name: b.Labels[0], DeclRange: b.DefRange}
	diags := checkName("step", s.Name, labelRange(b))
	lockBlocks, rest, d := splitLocks(b.Body)
	diags = append(diags, d...)
	content, d := rest.Content(stepSchema)
	diags = append(diags, d...)

	attrs := content.Attributes
	if a, ok := attrs["description"]; ok {
		diags = append(diags, literalString(a, &s.Description)...)
	}
	if a, ok := attrs["depends_on"]; ok {
		s.DependsOn, d = decodeDependsOn(a)
		diags = append(diags, d...)
	}
	s.ForEach, s.Command, s.Shell = attrExpr(content, "for_each"), attrExpr(content, "command"), attrExpr(content, "shell")
	s.Env, s.Dir = attrExpr(content, "env"), attrExpr(content, "dir")
	s.Timeout, s.KillTimeout = attrExpr(content, "timeout"), attrExpr(content, "kill_timeout")
	diags = append(diags, s.checkCommand(attrs, b.DefRange)...)
	diags = append(diags, s.decodeLocks(lockBlocks)...)
	diags = append(diags, s.decodeStepBlocks(content.Blocks)...)
	return s, diags
}

func (s *Step) decodeStepBlocks(blocks hcl.Blocks) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, cb := range blocks {
		switch cb.Type {
		case "once":
			c, d := cb.Body.Content(onceSchema)
			diags = append(diags, d...)
			o := &Once{Key: attrExpr(c, "key"), TTL: attrExpr(c, "ttl"), DeclRange: cb.DefRange}
			if s.Once != nil {
				diags = append(diags, onlyOne("once", s.Once.DeclRange, cb.DefRange))
				continue
			}
			s.Once = o
		case "check":
			c, d := cb.Body.Content(checkSchema)
			diags = append(diags, d...)
			ch := &Check{Condition: attrExpr(c, "condition"), Command: attrExpr(c, "command"), DeclRange: cb.DefRange}
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
			c, d := cb.Body.Content(retrySchema)
			diags = append(diags, d...)
			r := &Retry{Attempts: attrExpr(c, "attempts"), Delay: attrExpr(c, "delay"), DeclRange: cb.DefRange}
			if s.Retry != nil {
				diags = append(diags, onlyOne("retry", s.Retry.DeclRange, cb.DefRange))
				continue
			}
			s.Retry = r
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

func attrExpr(c *hcl.BodyContent, name string) hcl.Expression {
	if a, ok := c.Attributes[name]; ok {
		return a.Expr
	}
	return nil
}

func decodeLock(b *hcl.Block) (*Lock, hcl.Diagnostics) {
	l := &Lock{DeclRange: b.DefRange}
	var diags hcl.Diagnostics
	if len(b.Labels) > 0 {
		l.Label = b.Labels[0]
		diags = append(diags, checkName("lock", l.Label, labelRange(b))...)
	}
	c, d := b.Body.Content(lockSchema)
	diags = append(diags, d...)
	l.Key, l.TTL, l.Timeout = attrExpr(c, "key"), attrExpr(c, "ttl"), attrExpr(c, "timeout")
	l.OnBusy, l.Limit = attrExpr(c, "on_busy"), attrExpr(c, "limit")
	return l, diags
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

func decodeDependsOn(a *hcl.Attribute) ([]hcl.Traversal, hcl.Diagnostics) {
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
				Summary:  "Invalid depends_on reference",
				Detail:   "Each element of depends_on must be a step reference such as step.migrate, with no attribute or index.",
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
	switch {
	case s.Command != nil && s.Shell != nil:
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Conflicting command and shell",
			Detail:   fmt.Sprintf("The step %q sets both command and shell; a step runs exactly one of them.", s.Name),
			Subject:  attrs["shell"].NameRange.Ptr(),
		}}
	case s.Command == nil && s.Shell == nil:
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
