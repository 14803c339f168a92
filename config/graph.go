package config

import (
	"container/heap"
	"sort"

	"github.com/hashicorp/hcl/v2"
)

// Expressions returns every evaluated expression of a step that is set: its
// own attributes (for_each, command, shell, env, …) and then those of its
// lock, once, check and retry blocks, each in the order of its schema.
// description and depends_on, decoded at load time, are not among them.
func (s *Step) Expressions() []hcl.Expression {
	var out []hcl.Expression
	s.EachAttr(func(_ *Attribute, e hcl.Expression) { out = append(out, e) })
	return out
}

// EachAttr calls f for every evaluated attribute of the step and of its
// blocks that is set, in the order of Expressions.
func (s *Step) EachAttr(f func(a *Attribute, e hcl.Expression)) {
	s.Attrs.Each(f)
	for _, l := range s.Locks {
		l.Attrs.Each(f)
	}
	if s.Once != nil {
		s.Once.Attrs.Each(f)
	}
	for _, c := range s.Checks {
		c.Attrs.Each(f)
	}
	if s.Retry != nil {
		s.Retry.Attrs.Each(f)
	}
}

// stepDeps computes the steps that s depends on: depends_on plus step
// references in its expressions, excluding itself and undeclared steps.
// vars returns an expression's traversals (expr.Variables(), or a cached copy).
func (w *Workflow) stepDeps(s *Step, vars func(hcl.Expression) []hcl.Traversal) []string {
	seen := map[string]bool{}
	for _, tr := range s.DependsOn {
		if r := parseRef(tr); r.name != "" {
			seen[r.name] = true
		}
	}
	s.EachAttr(func(a *Attribute, e hcl.Expression) {
		if a.Refs&RefSteps == 0 {
			return
		}
		for _, tr := range vars(e) {
			if r := parseRef(tr); r.root == "step" && r.name != "" {
				seen[r.name] = true
			}
		}
	})
	delete(seen, s.Name)
	for n := range seen {
		if _, ok := w.Steps[n]; !ok {
			delete(seen, n)
		}
	}
	return sortedKeys(seen)
}

// Dependencies returns the names of the steps that step name depends on,
// through depends_on and through references in any of its expressions,
// sorted. Undeclared steps and self-references are left out; an unknown
// name has none.
func (w *Workflow) Dependencies(name string) []string {
	if w.deps != nil {
		return w.deps[name]
	}
	s, ok := w.Steps[name]
	if !ok {
		return nil
	}
	return w.stepDeps(s, hcl.Expression.Variables)
}

// Order returns every step name in a deterministic topological order: a step
// comes after all its dependencies; ties are broken by name. The workflow must
// have loaded without errors (so it has no cycles); steps caught in a cycle
// are left out.
func (w *Workflow) Order() []string {
	deps := map[string][]string{}
	for name := range w.Steps {
		deps[name] = w.Dependencies(name)
	}
	return topoOrder(deps)
}

// topoOrder is Kahn's algorithm with a name-ordered ready queue.
func topoOrder(deps map[string][]string) []string {
	waiting := map[string]int{}
	dependents := map[string][]string{}
	ready := &nameHeap{}
	for n, ds := range deps {
		waiting[n] = len(ds)
		for _, d := range ds {
			dependents[d] = append(dependents[d], n)
		}
		if len(ds) == 0 {
			*ready = append(*ready, n)
		}
	}
	heap.Init(ready)
	out := make([]string, 0, len(deps))
	for ready.Len() > 0 {
		n := heap.Pop(ready).(string)
		out = append(out, n)
		for _, d := range dependents[n] {
			waiting[d]--
			if waiting[d] == 0 {
				heap.Push(ready, d)
			}
		}
	}
	return out
}

type nameHeap []string

func (h nameHeap) Len() int           { return len(h) }
func (h nameHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h nameHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *nameHeap) Push(x any)        { *h = append(*h, x.(string)) }
func (h *nameHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// localDeps returns the locals each local refers to (declared ones only).
func (w *Workflow) localDeps() map[string][]string {
	deps := map[string][]string{}
	for name, l := range w.Locals {
		seen := map[string]bool{}
		for _, tr := range l.Expr.Variables() {
			if r := parseRef(tr); r.root == "local" && r.name != "" && r.name != name {
				if _, ok := w.Locals[r.name]; ok {
					seen[r.name] = true
				}
			}
		}
		deps[name] = sortedKeys(seen)
	}
	return deps
}

// localOrder is the evaluation order of locals; locals in a cycle come last
// (their evaluation fails with an unknown-value error rather than looping).
func (w *Workflow) localOrder() []string {
	order := topoOrder(w.localDeps())
	if len(order) < len(w.Locals) {
		in := map[string]bool{}
		for _, n := range order {
			in[n] = true
		}
		for _, n := range sortedKeys(w.Locals) {
			if !in[n] {
				order = append(order, n)
			}
		}
	}
	return order
}

// cycles returns the strongly connected components of more than one node,
// each sorted by name, the list sorted by first member (Tarjan's algorithm).
func cycles(deps map[string][]string) [][]string {
	t := &tarjan{deps: deps, index: map[string]int{}, low: map[string]int{}, on: map[string]bool{}}
	for _, n := range sortedKeys(deps) {
		if _, seen := t.index[n]; !seen {
			t.visit(n)
		}
	}
	sort.Slice(t.out, func(i, j int) bool { return t.out[i][0] < t.out[j][0] })
	return t.out
}

type tarjan struct {
	deps  map[string][]string
	index map[string]int
	low   map[string]int
	on    map[string]bool
	stack []string
	next  int
	out   [][]string
}

func (t *tarjan) visit(n string) {
	t.index[n], t.low[n] = t.next, t.next
	t.next++
	t.stack = append(t.stack, n)
	t.on[n] = true
	for _, d := range t.deps[n] {
		if _, seen := t.index[d]; !seen {
			t.visit(d)
			t.low[n] = min(t.low[n], t.low[d])
		} else if t.on[d] {
			t.low[n] = min(t.low[n], t.index[d])
		}
	}
	if t.low[n] != t.index[n] {
		return
	}
	var comp []string
	for {
		m := t.stack[len(t.stack)-1]
		t.stack = t.stack[:len(t.stack)-1]
		t.on[m] = false
		comp = append(comp, m)
		if m == n {
			break
		}
	}
	if len(comp) > 1 {
		sort.Strings(comp)
		t.out = append(t.out, comp)
	}
}
