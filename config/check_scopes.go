package config

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// One run must never take the same key twice at once: a step lock whose key
// equals the key of a workflow-level lock held around the step (or of
// another lock of the same step, or two workflow-level locks over common
// steps) would wait for its own run, forever. validate warns when two such
// keys can be equal. Keys are compared as far as they are known statically:
// known values exactly, templates by their literal structure, where each
// interpolation not known yet matches any text; an interpolation of the
// same variable or local at the same place on both sides counts as the same
// text (so "${local.p}/a" and "${local.p}/b" never collide).

// keySeg is a piece of a key pattern: literal text, or a hole (an
// interpolation not known statically) identified by its source.
type keySeg struct {
	lit  string
	hole string // "" for literal text; else an identity (same text, same value)
}

// lockKey is a lock as the scope check sees it.
type lockKey struct {
	pattern []keySeg
	shared  bool // mode is known to be "shared"
	rng     hcl.Range
	name    string // how messages name it: lock.env, the lock "db" of step.a
	step    string // the step it belongs to ("" for a workflow-level lock)
}

// scopeConflicts warns about keys one run could take twice.
func (c *checker) scopeConflicts(base *hcl.EvalContext) {
	var wlocks []lockKey
	names := sortedKeys(c.w.Locks)
	for _, name := range names {
		l := c.w.Locks[name]
		wlocks = append(wlocks, c.lockKey(base, l.Attrs, "lock."+name, ""))
	}
	for i := range wlocks {
		for j := i + 1; j < len(wlocks); j++ {
			a, b := strings.TrimPrefix(wlocks[i].name, "lock."), strings.TrimPrefix(wlocks[j].name, "lock.")
			if c.scopesOverlap(a, b) {
				c.keyConflict(wlocks[i], wlocks[j])
			}
		}
	}
	for _, name := range c.stepNames() {
		s := c.w.Steps[name]
		var scopes []int // the workflow-level locks held around s
		for k := range wlocks {
			if c.w.InLockScope(names[k], name) {
				scopes = append(scopes, k)
			}
		}
		if len(s.Locks) == 0 || len(s.Locks) == 1 && len(scopes) == 0 {
			continue
		}
		var own []lockKey
		for i, l := range s.Locks {
			what := fmt.Sprintf("lock %d of step.%s", i+1, name)
			if l.Label != "" {
				what = fmt.Sprintf("the lock %q of step.%s", l.Label, name)
			}
			own = append(own, c.lockKey(base, l.Attrs, what, name))
		}
		for i := range own {
			for j := i + 1; j < len(own); j++ {
				c.keyConflict(own[i], own[j])
			}
			for _, k := range scopes {
				c.keyConflict(wlocks[k], own[i])
			}
		}
	}
}

func (c *checker) scopesOverlap(a, b string) bool {
	for _, s := range c.w.LockScope(a) {
		if c.w.InLockScope(b, s) {
			return true
		}
	}
	return false
}

// lockKey builds the pattern of a lock block's key.
func (c *checker) lockKey(base *hcl.EvalContext, attrs Attrs, name, step string) lockKey {
	k := lockKey{name: name, step: step}
	e := attrs.Get("key")
	if e == nil || c.bad[e] {
		return k
	}
	k.rng = e.Range()
	k.pattern = keyPattern(base, e, step)
	if m := attrs.Get("mode"); m != nil && !c.bad[m] {
		v, diags := m.Value(base)
		k.shared = !diags.HasErrors() && v.IsWhollyKnown() && !v.IsMarked() && v.Type() == cty.String &&
			!v.IsNull() && v.AsString() == "shared"
	}
	return k
}

// keyPattern evaluates what it can of a key expression in ctx.
func keyPattern(ctx *hcl.EvalContext, e hcl.Expression, step string) []keySeg {
	if v, ok := knownString(ctx, e); ok {
		return []keySeg{{lit: v}}
	}
	t, ok := unwrapCharge(e).(*hclsyntax.TemplateExpr)
	if !ok {
		return holeOf(ctx, e, step)
	}
	var out []keySeg
	for _, p := range t.Parts {
		if v, ok := knownString(ctx, p); ok {
			out = append(out, keySeg{lit: v})
		} else {
			out = append(out, holeOf(ctx, p, step)...)
		}
	}
	return out
}

// holeOf is the pattern of an interpolation not known statically: its known
// prefix (templates keep the text before their first unknown part), then a
// hole.
func holeOf(ctx *hcl.EvalContext, e hcl.Expression, step string) []keySeg {
	h := keySeg{hole: holeID(e, step)}
	v, diags := e.Value(limitsFor(ctx, e))
	if v, _ = v.Unmark(); diags.HasErrors() || v.IsKnown() || v.Type() != cty.String {
		return []keySeg{h}
	}
	if p := v.Range().StringPrefix(); p != "" {
		return []keySeg{{lit: p}, h}
	}
	return []keySeg{h}
}

func knownString(ctx *hcl.EvalContext, e hcl.Expression) (string, bool) {
	v, diags := e.Value(limitsFor(ctx, e))
	if diags.HasErrors() || !v.IsWhollyKnown() || v.IsNull() || v.IsMarked() {
		return "", false
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil {
		return "", false
	}
	return s.AsString(), true
}

// holeID names what an unknown interpolation stands for: the same variable
// or local reads the same everywhere in a run; each and step results only
// within one step; anything else is unique.
func holeID(e hcl.Expression, step string) string {
	st, ok := unwrapCharge(e).(*hclsyntax.ScopeTraversalExpr)
	if !ok {
		return fmt.Sprintf("%p", e)
	}
	var b strings.Builder
	for _, tr := range st.Traversal {
		switch t := tr.(type) {
		case hcl.TraverseRoot:
			b.WriteString(t.Name)
		case hcl.TraverseAttr:
			b.WriteString("." + t.Name)
		default:
			return fmt.Sprintf("%p", e)
		}
	}
	if root := st.Traversal.RootName(); root != "var" && root != "local" && root != "path" {
		return step + ":" + b.String()
	}
	return b.String()
}

// keyConflict warns when a and b can be the same key.
func (c *checker) keyConflict(a, b lockKey) {
	if a.pattern == nil || b.pattern == nil || (a.shared && b.shared) || !mayEqual(a.pattern, b.pattern) {
		return
	}
	c.diags = append(c.diags, &hcl.Diagnostic{
		Severity: hcl.DiagWarning,
		Summary:  "One key taken twice in a run",
		Detail: fmt.Sprintf("The key of %s can be the same as the key of %s (%s), and one run holds both at once. "+
			"The second acquisition would then wait for the first, held by the same run, forever (or until its "+
			"timeout). Give the two locks keys that cannot be equal.", b.name, a.name, a.rng),
		Subject: b.rng.Ptr(),
	})
}

// mayEqual reports whether patterns p and q can produce the same text. What
// both start (and end) with identically is set aside first; the rest is
// compared as glob patterns where a hole matches any text.
func mayEqual(p, q []keySeg) bool {
	p, q = trimCommon(p, q, false)
	p, q = trimCommon(p, q, true)
	a, b := globOf(p), globOf(q)
	// match[i][j]: a[i:] and b[j:] can produce the same text.
	match := make([][]bool, len(a)+1)
	for i := range match {
		match[i] = make([]bool, len(b)+1)
	}
	match[len(a)][len(b)] = true
	for i := len(a); i >= 0; i-- {
		for j := len(b); j >= 0; j-- {
			if i == len(a) && j == len(b) {
				continue
			}
			m := false
			if i < len(a) && a[i] == glob {
				m = match[i+1][j] || (j < len(b) && match[i][j+1])
			}
			if !m && j < len(b) && b[j] == glob {
				m = match[i][j+1] || (i < len(a) && match[i+1][j])
			}
			if !m && i < len(a) && j < len(b) && a[i] != glob && a[i] == b[j] {
				m = match[i+1][j+1]
			}
			match[i][j] = m
		}
	}
	return match[0][0]
}

// glob stands for a hole in a pattern flattened to bytes.
const glob = -1

func globOf(p []keySeg) []int {
	var out []int
	for _, s := range p {
		if s.hole != "" {
			if len(out) == 0 || out[len(out)-1] != glob {
				out = append(out, glob)
			}
			continue
		}
		for i := 0; i < len(s.lit); i++ {
			out = append(out, int(s.lit[i]))
		}
	}
	return out
}

// trimCommon removes what p and q both start with (or end with, when back),
// literal text and identical holes alike.
func trimCommon(p, q []keySeg, back bool) ([]keySeg, []keySeg) {
	p, q = append([]keySeg(nil), p...), append([]keySeg(nil), q...)
	for len(p) > 0 && len(q) > 0 {
		i, j := 0, 0
		if back {
			i, j = len(p)-1, len(q)-1
		}
		x, y := p[i], q[j]
		switch {
		case x.hole != "" && x.hole == y.hole:
			p, q = drop(p, back), drop(q, back)
		case x.hole == "" && y.hole == "":
			n := commonLen(x.lit, y.lit, back)
			if n == 0 {
				return p, q
			}
			p[i].lit, q[j].lit = cut(x.lit, n, back), cut(y.lit, n, back)
			if p[i].lit == "" {
				p = drop(p, back)
			}
			if q[j].lit == "" {
				q = drop(q, back)
			}
		default:
			return p, q
		}
	}
	return p, q
}

func drop(p []keySeg, back bool) []keySeg {
	if back {
		return p[:len(p)-1]
	}
	return p[1:]
}

func commonLen(a, b string, back bool) int {
	n := 0
	for n < len(a) && n < len(b) {
		if back && a[len(a)-1-n] != b[len(b)-1-n] || !back && a[n] != b[n] {
			break
		}
		n++
	}
	return n
}

func cut(s string, n int, back bool) string {
	if back {
		return s[:len(s)-n]
	}
	return s[n:]
}
