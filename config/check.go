package config

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// checker runs the static analysis of a decoded workflow. Expressions with a
// reference or function error are marked bad and not evaluated, so one
// mistake gives one diagnostic.
type checker struct {
	w     *Workflow
	bad   map[hcl.Expression]bool
	vars  map[hcl.Expression][]hcl.Traversal // each checked expression's references
	diags hcl.Diagnostics
	names []string // sorted step names, for suggestions
}

// refContext says where an expression sits, which decides what it may use.
type refContext struct {
	what      string // "local value", "step", "output", "variable validation", "for_each", "lock"
	step      *Step  // the enclosing step, if any
	variable  string // the variable a validation belongs to
	refs      Refs   // what the attribute may refer to, from its schema
	allowEach bool
}

// check runs every static check on w and records each step's dependencies.
// The diagnostics are unsorted; Load sorts them.
func (w *Workflow) check(getenv func(string) string) hcl.Diagnostics {
	c := &checker{w: w, bad: map[hcl.Expression]bool{}, vars: map[hcl.Expression][]hcl.Traversal{}}
	for _, name := range sortedKeys(w.Locals) {
		l := w.Locals[name]
		c.vars[l.Expr] = c.expr(l.Expr, refContext{what: "local value"})
	}
	w.deps = make(map[string][]string, len(w.Steps))
	for _, name := range c.stepNames() {
		w.deps[name] = c.step(w.Steps[name])
	}
	for _, name := range sortedKeys(w.Locks) {
		c.workflowLock(w.Locks[name])
	}
	if len(w.Locks) > 0 {
		c.fenceVars()
	}
	for _, name := range sortedKeys(w.Outputs) {
		c.expr(w.Outputs[name].Value, refContext{what: "output", refs: OutputSchema.Attr("value").Refs})
	}
	for _, name := range sortedKeys(w.Variables) {
		for _, v := range w.Variables[name].Validations {
			c.expr(v.Condition, refContext{what: "variable validation", variable: name})
			c.expr(v.ErrorMessage, refContext{what: "variable validation", variable: name})
		}
	}
	c.stepCycles()
	c.localCycles()
	c.diags = append(c.diags, c.typesWithDeadline(getenv)...)
	return c.diags
}

// checkTimeout bounds the evaluation part of the checks. HCL has no
// evaluation budget, and nested for expressions over ranges can take
// arbitrarily long; past the deadline Load reports instead of hanging.
var checkTimeout = 10 * time.Second

// typesWithDeadline runs the type checks on a goroutine of their own, which
// only reads the workflow, and abandons them after checkTimeout.
func (c *checker) typesWithDeadline(getenv func(string) string) hcl.Diagnostics {
	tc := &checker{w: c.w, bad: c.bad}
	done := make(chan hcl.Diagnostics, 1)
	stop := new(atomic.Bool)
	go func() {
		done <- safely("type-checking", func() hcl.Diagnostics {
			tc.types(getenv, stop)
			return tc.diags
		})
	}()
	timer := time.NewTimer(checkTimeout)
	defer timer.Stop()
	select {
	case d := <-done:
		return d
	case <-timer.C:
		stop.Store(true)
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Workflow too expensive to check",
			Detail: fmt.Sprintf("Evaluating the workflow's expressions took longer than %s. An expression probably "+
				"builds a huge value, for example nested for expressions over large ranges.", checkTimeout),
		}}
	}
}

// sortDiags orders diagnostics by file and position, stably, so output is
// deterministic whatever order the checks ran in.
func sortDiags(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		}
		return a.Start.Byte < b.Start.Byte
	})
}

func (c *checker) errorf(rng hcl.Range, summary, format string, args ...any) {
	c.diags = append(c.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  rng.Ptr(),
	})
}

// step checks the references of every attribute of s, each by what its
// schema allows, and returns the steps s depends on: depends_on and the
// steps its attributes refer to (declared ones, not itself), sorted.
func (c *checker) step(s *Step) []string {
	c.stepList(s.DependsOn, s)
	seen := map[string]bool{}
	for _, tr := range s.DependsOn {
		seen[parseRef(tr).name] = true
	}
	s.EachAttr(func(a *Attribute, e hcl.Expression) {
		ctx := refContext{what: "step", step: s, refs: a.Refs, allowEach: s.ForEach != nil && a.Refs&RefEach != 0}
		if a.Type == TypeForEach {
			ctx.what = "for_each"
		}
		for _, tr := range c.expr(e, ctx) {
			if r := parseRef(tr); a.Refs&RefSteps != 0 && r.root == "step" {
				seen[r.name] = true
			}
		}
	})
	delete(seen, s.Name)
	for n := range seen {
		if _, ok := c.w.Steps[n]; !ok {
			delete(seen, n)
		}
	}
	return sortedKeys(seen)
}

// stepList checks a list of step.NAME references: depends_on of step self,
// or a workflow-level lock's steps (self nil).
func (c *checker) stepList(list []hcl.Traversal, self *Step) {
	for _, tr := range list {
		r := parseRef(tr)
		switch _, ok := c.w.Steps[r.name]; {
		case self != nil && r.name == self.Name:
			c.errorf(r.rng, "Self-referential step", "The step %q depends on itself.", self.Name)
		case !ok:
			c.errorf(r.rng, "Reference to undeclared step",
				"No step named %q is declared in this workflow.%s", r.name, didYouMean(r.name, c.stepNames()))
		}
	}
}

// stepNames is the sorted list of step names, computed once.
func (c *checker) stepNames() []string {
	if c.names == nil {
		c.names = sortedKeys(c.w.Steps)
	}
	return c.names
}

// workflowLock checks a workflow-level lock: its steps and the references of
// its attributes.
func (c *checker) workflowLock(l *WorkflowLock) {
	c.stepList(l.Steps, nil)
	l.Attrs.Each(func(a *Attribute, e hcl.Expression) {
		c.expr(e, refContext{what: "lock", refs: a.Refs})
	})
}

// expr checks the references and function calls of e (a nil e is fine) and
// returns its references. It also instruments e's templates and for
// expressions for the evaluation limits (limits.go), in the same walk.
func (c *checker) expr(e hcl.Expression, ctx refContext) []hcl.Traversal {
	if e == nil {
		return nil
	}
	n := len(c.diags)
	trs := e.Variables()
	for _, tr := range trs {
		c.ref(parseRef(tr), ctx)
	}
	c.functions(e)
	if len(c.diags) > n {
		c.bad[e] = true
	}
	return trs
}

var (
	funcNamesOnce sync.Once
	funcNames     map[string]bool
	funcList      []string
)

func knownFunction(name string) (bool, []string) {
	funcNamesOnce.Do(func() {
		funcNames = map[string]bool{}
		for n := range Functions(".", func(string) string { return "" }) {
			funcNames[n] = true
		}
		funcList = sortedKeys(funcNames)
	})
	return funcNames[name], funcList
}

// functions reports calls to unknown functions in native-syntax expressions
// (JSON expressions are caught when they are evaluated), and instruments the
// expression for the evaluation limits.
func (c *checker) functions(e hcl.Expression) {
	node, ok := e.(hclsyntax.Node)
	if !ok {
		return
	}
	hclsyntax.VisitAll(node, func(n hclsyntax.Node) hcl.Diagnostics {
		instrumentNode(n)
		call, ok := n.(*hclsyntax.FunctionCallExpr)
		if !ok || call.Name == limitFuncName {
			return nil
		}
		if known, all := knownFunction(call.Name); !known {
			c.errorf(call.NameRange, "Call to unknown function",
				"There is no function named %q.%s", call.Name, didYouMean(call.Name, all))
		}
		return nil
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// stepCycles reports every cycle among steps, naming each member.
func (c *checker) stepCycles() {
	for _, cyc := range cycles(c.w.deps) {
		ranges := make([]hcl.Range, len(cyc))
		for i, n := range cyc {
			ranges[i] = c.w.Steps[n].DeclRange
		}
		c.cycle("steps", "step.", "run", cyc, ranges)
	}
}

func (c *checker) localCycles() {
	for _, cyc := range cycles(c.w.localDeps()) {
		ranges := make([]hcl.Range, len(cyc))
		for i, n := range cyc {
			ranges[i] = c.w.Locals[n].DeclRange
			c.bad[c.w.Locals[n].Expr] = true
		}
		c.cycle("local values", "local.", "be evaluated", cyc, ranges)
	}
	for _, name := range sortedKeys(c.w.Locals) {
		l := c.w.Locals[name]
		for _, tr := range c.vars[l.Expr] {
			if r := parseRef(tr); r.root == "local" && r.name == name {
				c.errorf(r.rng, "Self-referential local value", "The local value %q refers to itself.", name)
				c.bad[l.Expr] = true
			}
		}
	}
}

func (c *checker) cycle(kind, prefix, verb string, names []string, ranges []hcl.Range) {
	first := 0
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s%s (%s)", prefix, n, ranges[i])
		a, b := ranges[i], ranges[first]
		if a.Filename < b.Filename || (a.Filename == b.Filename && a.Start.Byte < b.Start.Byte) {
			first = i
		}
	}
	c.errorf(ranges[first], "Dependency cycle between "+kind,
		"These %s depend on each other, so none of them can %s first: %s. "+
			"Remove a reference or a depends_on entry to break the cycle.", kind, verb, strings.Join(parts, ", "))
}
