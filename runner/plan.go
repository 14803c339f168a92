package runner

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/lockstep-dev/lockstep/config"
)

// Plan is the step graph of a workflow, restricted to the targets and their
// dependencies. It is immutable and safe to share.
type Plan struct {
	Workflow *config.Workflow
	// Order lists the planned step names so that every step comes after its
	// dependencies (the workflow's deterministic order).
	Order []string
	// Deps maps each planned step to the steps it waits for, sorted.
	Deps map[string][]string
	// Keys restricts a for_each step to some instance keys (from targets such
	// as step.restart["web-1"]). A step absent from Keys runs every instance.
	Keys map[string]map[string]bool

	dependents map[string][]string
	index      map[string]int
}

// NewPlan builds the plan of wf, which must have loaded without errors. targets
// are step addresses (step.NAME or step.NAME["key"]); none means every step. A
// target brings in every step it depends on, transitively. A malformed or
// unknown target is an error diagnostic.
func NewPlan(wf *config.Workflow, targets []string) (*Plan, hcl.Diagnostics) {
	p := &Plan{Workflow: wf, Deps: map[string][]string{}, Keys: map[string]map[string]bool{},
		dependents: map[string][]string{}, index: map[string]int{}}
	want, diags := p.selectTargets(targets)
	if diags.HasErrors() {
		return nil, diags
	}
	for _, name := range wf.Order() {
		if want != nil && !want[name] {
			continue
		}
		p.index[name] = len(p.Order)
		p.Order = append(p.Order, name)
		deps := wf.Dependencies(name)
		p.Deps[name] = deps
		for _, d := range deps {
			p.dependents[d] = append(p.dependents[d], name)
		}
	}
	return p, diags
}

// selectTargets returns the set of steps to plan, or nil for all of them.
func (p *Plan) selectTargets(targets []string) (map[string]bool, hcl.Diagnostics) {
	if len(targets) == 0 {
		return nil, nil
	}
	var diags hcl.Diagnostics
	want := map[string]bool{}
	var visit func(string)
	visit = func(name string) {
		if want[name] {
			return
		}
		want[name] = true
		for _, d := range p.Workflow.Dependencies(name) {
			visit(d)
		}
	}
	whole := map[string]bool{}
	for _, t := range targets {
		name, key, hasKey, err := ParseAddress(t)
		if err == nil && p.Workflow.Steps[name] == nil {
			err = fmt.Errorf("the workflow has no step %q", name)
		}
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid target",
				Detail: fmt.Sprintf("The target %q is not valid: %v.", t, err)})
			continue
		}
		visit(name)
		if !hasKey {
			whole[name] = true
			continue
		}
		if p.Keys[name] == nil {
			p.Keys[name] = map[string]bool{}
		}
		p.Keys[name][key] = true
	}
	for name := range whole {
		delete(p.Keys, name) // a whole-step target wins over instance targets
	}
	return want, diags
}

// Dependents returns the planned steps that wait for step name.
func (p *Plan) Dependents(name string) []string { return p.dependents[name] }

// MayOverlap reports whether two step instances of the plan could run at the
// same time with the given parallelism: true when some step has for_each or
// two planned steps are not ordered by their dependencies. The CLI prefixes
// output lines with the step address when it is true.
func (p *Plan) MayOverlap(parallelism int) bool {
	if parallelism == 1 || len(p.Order) == 0 {
		return false
	}
	for _, name := range p.Order {
		if p.Workflow.Steps[name].ForEach != nil {
			return true
		}
	}
	// Steps are sequential only when each depends, directly or not, on the one
	// before it in the order.
	for i := 1; i < len(p.Order); i++ {
		if !p.reaches(p.Order[i], p.Order[i-1]) {
			return true
		}
	}
	return false
}

// reaches reports whether from depends on to, directly or transitively.
func (p *Plan) reaches(from, to string) bool {
	seen := map[string]bool{}
	stack := []string{from}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, d := range p.Deps[n] {
			if d == to {
				return true
			}
			if !seen[d] {
				seen[d] = true
				stack = append(stack, d)
			}
		}
	}
	return false
}

// Address returns the address of a step instance: step.NAME, or
// step.NAME["key"] for a for_each instance (hasKey).
func Address(name, key string, hasKey bool) string {
	if !hasKey {
		return "step." + name
	}
	return "step." + name + "[" + strconv.Quote(key) + "]"
}

// ParseAddress parses step.NAME or step.NAME["key"].
func ParseAddress(s string) (name, key string, hasKey bool, err error) {
	trav, diags := hclsyntax.ParseTraversalAbs([]byte(s), "target", hcl.InitialPos)
	if diags.HasErrors() {
		return "", "", false, fmt.Errorf("expected step.NAME or step.NAME[\"key\"]")
	}
	if len(trav) < 2 || len(trav) > 3 || trav.RootName() != "step" {
		return "", "", false, fmt.Errorf("expected step.NAME or step.NAME[\"key\"]")
	}
	attr, ok := trav[1].(hcl.TraverseAttr)
	if !ok {
		return "", "", false, fmt.Errorf("expected step.NAME or step.NAME[\"key\"]")
	}
	if len(trav) == 2 {
		return attr.Name, "", false, nil
	}
	idx, ok := trav[2].(hcl.TraverseIndex)
	if !ok || !idx.Key.Type().Equals(ctyString) || !idx.Key.IsKnown() || idx.Key.IsNull() {
		return "", "", false, fmt.Errorf("an instance key must be a quoted string")
	}
	return attr.Name, idx.Key.AsString(), true, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
