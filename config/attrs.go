package config

import (
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Attrs holds the attributes of one decoded block as written: an expression
// per attribute of the block's schema, nil when the attribute is absent.
// Values exist only when a Scope evaluates them (Scope.EvalAttrs). Static
// attributes (description, depends_on, steps, …) are decoded when the
// workflow is loaded, into fields of their block, and not kept here.
type Attrs struct {
	schema *Block
	exprs  []hcl.Expression
}

// Schema returns the description of the block the attributes belong to.
func (a Attrs) Schema() *Block { return a.schema }

// Get returns the expression of the attribute called name, or nil when it
// is absent. It panics when the schema has no such attribute.
func (a Attrs) Get(name string) hcl.Expression {
	i, ok := a.schema.index[name]
	if !ok {
		panic("config: block " + a.schema.Type + " has no attribute " + name)
	}
	if a.exprs == nil {
		return nil
	}
	return a.exprs[i]
}

// Each calls f for every attribute that is set and evaluated (static
// attributes such as description and depends_on are decoded at load time
// and left out), in the order of the schema.
func (a Attrs) Each(f func(attr *Attribute, expr hcl.Expression)) {
	for i, e := range a.exprs {
		if e != nil && !a.schema.Attrs[i].Static() {
			f(a.schema.Attrs[i], e)
		}
	}
}

// decodeAttrs takes the attributes of content by schema. Unknown
// attributes were already reported by Content.
func decodeAttrs(schema *Block, content *hcl.BodyContent) Attrs {
	out := Attrs{schema: schema}
	for name, a := range content.Attributes {
		i, ok := schema.index[name]
		if !ok {
			continue
		}
		if schema.Attrs[i].Static() {
			continue
		}
		if out.exprs == nil {
			out.exprs = make([]hcl.Expression, len(schema.Attrs))
		}
		// A JSON string becomes the template it holds, as native syntax has
		// it: same value, and templates can then be compiled (shell),
		// bounded (limits.go) and compared (check_scopes.go).
		out.exprs[i] = nativeTemplate(a.Expr)
	}
	return out
}

// decodeBlock applies schema to body and returns its attributes with the
// content (for the nested blocks and the attributes' own ranges).
func decodeBlock(schema *Block, body hcl.Body) (Attrs, *hcl.BodyContent, hcl.Diagnostics) {
	if sb, ok := body.(*hclsyntax.Body); ok {
		if attrs, content, ok := decodeNative(schema, sb); ok {
			return attrs, content, nil
		}
	}
	content, diags := body.Content(schema.BodySchema())
	return decodeAttrs(schema, content), content, diags
}

// decodeNative is decodeBlock for a native body that matches its schema
// (the common case), without the copies hcl's Content makes; ok is false
// when something does not match, and Content then reports it.
func decodeNative(schema *Block, body *hclsyntax.Body) (Attrs, *hcl.BodyContent, bool) {
	out := Attrs{schema: schema}
	content := &hcl.BodyContent{Attributes: make(hcl.Attributes, len(body.Attributes)), MissingItemRange: body.MissingItemRange()}
	for name, a := range body.Attributes {
		i, ok := schema.index[name]
		if !ok {
			return Attrs{}, nil, false
		}
		content.Attributes[name] = a.AsHCLAttribute()
		if schema.Attrs[i].Static() {
			continue
		}
		if out.exprs == nil {
			out.exprs = make([]hcl.Expression, len(schema.Attrs))
		}
		out.exprs[i] = compact(a.Expr)
	}
	for _, a := range schema.Attrs {
		if _, ok := body.Attributes[a.Name]; a.Required && !ok {
			return Attrs{}, nil, false
		}
	}
	for _, b := range body.Blocks {
		if !slices.Contains(schema.Blocks, b.Type) || len(b.Labels) > 0 {
			return Attrs{}, nil, false
		}
		content.Blocks = append(content.Blocks, b.AsHCLBlock())
	}
	return out, content, true
}
