package config

import (
	"sort"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
)

// StepAttributes are the attributes of a step result, step.NAME.ATTR.
var StepAttributes = []string{"status", "exit_code", "output"}

// ref is one reference found in an expression, parsed the way Terraform's
// addrs.ParseRef does: a root object, the name under it, and the rest.
type ref struct {
	root  string // var, local, step, each, path, lock or anything else
	name  string // var/local/step name, each/path attribute; "" when missing
	index bool   // step.NAME[...] with a literal key
	attr  string // step.NAME[.KEY].ATTR or lock.NAME.ATTR; "" when absent
	rng   hcl.Range
	nameR hcl.Range
}

// parseRef splits a traversal into a ref. It never fails: malformed shapes
// leave fields empty for the checker to report.
func parseRef(tr hcl.Traversal) ref {
	r := ref{root: tr.RootName(), rng: tr.SourceRange(), nameR: tr.SourceRange()}
	rest := tr[1:]
	if len(rest) == 0 {
		return r
	}
	if a, ok := rest[0].(hcl.TraverseAttr); ok {
		r.name, r.nameR = a.Name, a.SrcRange
	} else {
		return r
	}
	rest = rest[1:]
	if r.root == "lock" && len(rest) > 0 {
		if a, ok := rest[0].(hcl.TraverseAttr); ok {
			r.attr = a.Name
		} else {
			r.attr = "[index]"
		}
		return r
	}
	if r.root != "step" || len(rest) == 0 {
		return r
	}
	if _, ok := rest[0].(hcl.TraverseIndex); ok {
		r.index = true
		rest = rest[1:]
	}
	if len(rest) > 0 {
		if a, ok := rest[0].(hcl.TraverseAttr); ok {
			r.attr = a.Name
		} else {
			r.attr = "[index]"
		}
	}
	return r
}

// StepRefs returns the names of the steps that expr refers to, sorted. The
// runner uses it to say "known after step.X". A nil expr has none.
func StepRefs(expr hcl.Expression) []string {
	if expr == nil {
		return nil
	}
	seen := map[string]bool{}
	for _, tr := range expr.Variables() {
		if r := parseRef(tr); r.root == "step" && r.name != "" {
			seen[r.name] = true
		}
	}
	return sortedKeys(seen)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// didYouMean returns ` Did you mean "x"?` for the closest candidate within
// a small edit distance, or "" (as hcl's own suggestions do).
func didYouMean(given string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := levenshtein.Distance(given, c, nil); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return ` Did you mean "` + best + `"?`
}

// LockRefs returns the names of the workflow-level locks that expr refers
// to (lock.NAME.…), sorted, for "known after lock.NAME is acquired". A nil
// expr has none.
func LockRefs(expr hcl.Expression) []string {
	if expr == nil {
		return nil
	}
	var seen map[string]bool
	for _, tr := range expr.Variables() {
		if r := parseRef(tr); r.root == "lock" && r.name != "" && r.attr != "key" {
			if seen == nil {
				seen = map[string]bool{}
			}
			seen[r.name] = true
		}
	}
	return sortedKeys(seen)
}
