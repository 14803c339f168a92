package runner

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/lockstep-dev/lockstep/config"
)

// PreviewValue is a value as plan shows it: known, sensitive, or waiting on
// earlier steps or on the acquisition of workflow-level locks.
type PreviewValue struct {
	Text      string   // display form (JSON) when known and not sensitive
	Known     bool     // the value is known before the run
	Sensitive bool     // derived from a sensitive value; Text is the placeholder
	After     []string // steps whose results it waits on, when not known
	// AfterLocks are the workflow-level locks whose acquisition it waits on
	// (lock.NAME.fencing_token), when not known.
	AfterLocks []string
	Raw        string // the plain string when known, not sensitive and a string
	Default    bool   // the attribute is absent: Text shows the value it takes
}

// String renders the value for people.
func (v PreviewValue) String() string {
	switch {
	case v.Sensitive:
		return SensitivePlaceholder
	case v.Known:
		return v.Text
	case len(v.After) > 0 || len(v.AfterLocks) > 0:
		parts := prefixSteps(v.After)
		for _, l := range v.AfterLocks {
			parts = append(parts, "lock."+l+" is acquired")
		}
		return "(known after " + strings.Join(parts, ", ") + ")"
	}
	return "(known at run time)"
}

func prefixSteps(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "step." + n
	}
	return out
}

// PreviewAttr is one attribute of a block as planned, by the block's schema.
type PreviewAttr struct {
	Name  string
	Value PreviewValue
	Set   bool // written in the workflow; otherwise Value is its default
	// Quiet attributes are left out of plan's text while they are absent.
	Quiet bool
}

// PreviewBlock is the attributes of a block as planned, in schema order
// (every evaluated attribute, absent ones with their defaults).
type PreviewBlock []PreviewAttr

// Get returns the attribute called name, or nil.
func (b PreviewBlock) Get(name string) *PreviewAttr {
	for i := range b {
		if b[i].Name == name {
			return &b[i]
		}
	}
	return nil
}

// Value returns the value of the attribute called name when it is set, or
// nil.
func (b PreviewBlock) Value(name string) *PreviewValue {
	if a := b.Get(name); a != nil && a.Set {
		return &a.Value
	}
	return nil
}

// PreviewLock is a lock as planned: a step's lock block, or a workflow-level
// lock with its scope.
type PreviewLock struct {
	Label string // a step lock's label
	Name  string // a workflow-level lock's name
	Attrs PreviewBlock
	// Steps is a workflow-level lock's scope (step names); nil means the
	// whole run.
	Steps []string
}

// Key returns the lock's key.
func (l PreviewLock) Key() PreviewValue { return l.Attrs.Get("key").Value }

// PreviewCheck is a check block as planned: the condition's source text and
// its value now (it is evaluated again when the step runs), and the command.
type PreviewCheck struct {
	Condition       *PreviewValue
	ConditionSource string
	Command         *PreviewValue
}

// PreviewInstance is one step instance as plan shows it.
type PreviewInstance struct {
	Address     string
	Step        string
	Description string
	DependsOn   []string // step names
	// ForEachAfter is set when the for_each value waits on earlier steps; the
	// address is then step.NAME[*], standing for every instance.
	ForEachAfter []string
	// Attrs are the step's own attributes (command or shell, env, dir,
	// timeout, kill_timeout).
	Attrs PreviewBlock
	// Command is the argv (a list) or, with Shell, the compiled script;
	// ShellArgs are then its positional parameters.
	Command   *PreviewValue
	Shell     bool
	ShellArgs *PreviewValue
	Locks     []PreviewLock
	Once      PreviewBlock // nil when the step has no once block
	Checks    []PreviewCheck
	Retry     PreviewBlock // nil when the step has no retry block
	// WorkflowLocks names the workflow-level locks whose scope holds the step.
	WorkflowLocks []string
	Diags         hcl.Diagnostics
}

// OnceKey returns the once key, or nil when the step has none.
func (pi *PreviewInstance) OnceKey() *PreviewValue { return pi.Once.Value("key") }

// Preview evaluates every planned step instance against scope (BaseScope:
// steps unknown), in execution order, without running anything. for_each
// values that are known expand into their instances.
func (p *Plan) Preview(scope *config.Scope) []*PreviewInstance {
	var out []*PreviewInstance
	p.PreviewEach(scope, func(pi *PreviewInstance) { out = append(out, pi) })
	return out
}

// PreviewEach is Preview handing each instance to f, in order and from
// this goroutine, as soon as it is evaluated, so that a large plan need not
// be held in memory. Instances are evaluated previewBatch at a time, in
// parallel (each on its own copy of the scope).
func (p *Plan) PreviewEach(scope *config.Scope, f func(*PreviewInstance)) {
	b := previewBatcher{out: f}
	base := scope
	for _, name := range p.Order {
		st := p.Workflow.Steps[name]
		scope := scopeFor(base, p.Deps[name])
		if st.ForEach == nil {
			b.add(func() *PreviewInstance { return p.previewInstance(scope, st, Address(name, "", false)) })
			continue
		}
		items, known, diags := forEachItems(scope, st.ForEach)
		if !known {
			b.add(func() *PreviewInstance {
				pi := p.previewInstance(scope, st, "step."+name+"[*]")
				pi.ForEachAfter = config.StepRefs(st.ForEach)
				return pi
			})
			continue
		}
		if diags.HasErrors() {
			b.add(func() *PreviewInstance {
				return &PreviewInstance{Address: Address(name, "", false), Step: name, Diags: diags}
			})
			continue
		}
		for _, k := range sortedKeys(items) {
			if only := p.Keys[name]; only != nil && !only[k] {
				continue
			}
			sc := *scope
			sc.Each = &config.EachValue{Key: cty.StringVal(k), Value: items[k]}
			b.add(func() *PreviewInstance { return p.previewInstance(&sc, st, Address(name, k, true)) })
		}
	}
	b.flush()
}

// InstanceCount returns how many instances PreviewEach will produce: one per
// planned step, or one per known for_each element (as targeted).
func (p *Plan) InstanceCount(scope *config.Scope) int {
	n := 0
	for _, name := range p.Order {
		st := p.Workflow.Steps[name]
		if st.ForEach == nil {
			n++
			continue
		}
		items, known, diags := forEachItems(scopeFor(scope, p.Deps[name]), st.ForEach)
		if !known || diags.HasErrors() {
			n++
			continue
		}
		for k := range items {
			if only := p.Keys[name]; only == nil || only[k] {
				n++
			}
		}
	}
	return n
}

// PreviewLocks evaluates the workflow-level locks against scope, by name.
func (p *Plan) PreviewLocks(scope *config.Scope) ([]PreviewLock, hcl.Diagnostics) {
	pv := &previewer{scope: scope}
	var out []PreviewLock
	for _, name := range sortedKeys(p.Workflow.Locks) {
		l := p.Workflow.Locks[name]
		pl := PreviewLock{Name: name, Attrs: pv.block(l.Attrs)}
		if l.Steps != nil {
			pl.Steps = p.Workflow.LockScope(name)
		}
		out = append(out, pl)
	}
	return out, pv.diags
}

func (p *Plan) previewInstance(scope *config.Scope, st *config.Step, addr string) *PreviewInstance {
	pv := &previewer{scope: scope}
	pi := &PreviewInstance{Address: addr, Step: st.Name, Description: st.Description, DependsOn: p.Deps[st.Name]}
	if st.ForEach != nil && scope.Each == nil {
		// Instances unknown: evaluate with each unknown so keys show as such.
		sc := *scope
		sc.Each = &config.EachValue{Key: cty.UnknownVal(cty.String), Value: cty.DynamicVal}
		pv.scope = &sc
	}
	pi.Attrs = pv.block(st.Attrs)
	if pi.Command = pi.Attrs.Value("command"); pi.Command == nil {
		pi.Command, pi.Shell, pi.ShellArgs = pi.Attrs.Value("shell"), true, pv.shellArgs
	}
	for _, l := range st.Locks {
		pi.Locks = append(pi.Locks, PreviewLock{Label: l.Label, Attrs: pv.block(l.Attrs)})
	}
	if st.Once != nil {
		pi.Once = pv.block(st.Once.Attrs)
	}
	for _, c := range st.Checks {
		b := pv.block(c.Attrs)
		pc := PreviewCheck{Condition: b.Value("condition"), Command: b.Value("command")}
		if c.Condition != nil {
			pc.ConditionSource = sourceText(p.Workflow.Files, c.Condition.Range())
		}
		pi.Checks = append(pi.Checks, pc)
	}
	if st.Retry != nil {
		pi.Retry = pv.block(st.Retry.Attrs)
	}
	for _, name := range sortedKeys(p.Workflow.Locks) {
		if p.Workflow.InLockScope(name, st.Name) {
			pi.WorkflowLocks = append(pi.WorkflowLocks, name)
		}
	}
	pi.Diags = pv.diags
	return pi
}

type previewer struct {
	scope     *config.Scope
	ctx       *hcl.EvalContext // scope's, built on first use
	diags     hcl.Diagnostics
	shellArgs *PreviewValue // the arguments of the last shell script previewed
}

func (pv *previewer) context() *hcl.EvalContext {
	if pv.ctx == nil {
		pv.ctx = pv.scope.EvalContext()
	}
	return pv.ctx
}

// block previews every evaluated attribute of attrs, by its schema: the
// value of those set, the default of the others.
func (pv *previewer) block(attrs config.Attrs) PreviewBlock {
	var out PreviewBlock
	vals := map[string]cty.Value{}
	for _, a := range attrs.Schema().Attrs {
		if a.Static() || a.Type == config.TypeForEach {
			continue
		}
		e := attrs.Get(a.Name)
		if e == nil {
			out = append(out, PreviewAttr{Name: a.Name, Quiet: a.Quiet || (a.Default == nil && a.Absent == ""),
				Value: PreviewValue{Known: true, Text: a.ShowDefault(), Default: true}})
			continue
		}
		pval, v := pv.attr(a, e)
		out = append(out, PreviewAttr{Name: a.Name, Set: true, Value: pval})
		if v != cty.NilVal {
			vals[a.Name] = v
		}
	}
	pv.diags = append(pv.diags, attrs.Schema().CheckRule(func(name string) (cty.Value, *hcl.Range) {
		if v, ok := vals[name]; ok {
			rng := attrs.Get(name).Range()
			return v, &rng
		}
		return cty.NilVal, nil
	})...)
	return out
}

// attr evaluates one attribute for display and checks it as the run will;
// it returns the value too (cty.NilVal when it failed).
func (pv *previewer) attr(a *config.Attribute, expr hcl.Expression) (PreviewValue, cty.Value) {
	if a.Type == config.TypeShell {
		return pv.shell(expr), cty.NilVal
	}
	v, diags := config.EvalIn(pv.context(), expr, a.CtyType())
	if !diags.HasErrors() {
		diags = append(diags, a.Check(v, expr.Range())...)
	}
	if diags.HasErrors() {
		pv.diags = append(pv.diags, diags...)
		return PreviewValue{Text: "(invalid)", Known: true}, cty.NilVal
	}
	return pv.value(v, expr), v
}

// value renders an evaluated value; expr tells what an unknown waits on.
func (pv *previewer) value(v cty.Value, expr hcl.Expression) PreviewValue {
	if v.ContainsMarked() {
		return PreviewValue{Sensitive: true, Known: v.IsWhollyKnown(), Text: SensitivePlaceholder}
	}
	if !v.IsWhollyKnown() {
		return PreviewValue{After: config.StepRefs(expr), AfterLocks: config.LockRefs(expr)}
	}
	out := PreviewValue{Known: true, Text: "null"}
	if !v.IsNull() {
		out.Text = FormatValue(v)
		if v.Type() == cty.String {
			out.Raw = v.AsString()
		}
	}
	return out
}

// shell previews a shell template compiled as the run will: the script,
// and its arguments in pv.shellArgs.
func (pv *previewer) shell(expr hcl.Expression) PreviewValue {
	sh, diags := config.EvalShellIn(pv.context(), expr)
	if diags.HasErrors() {
		pv.diags = append(pv.diags, diags...)
		pv.shellArgs = nil
		return PreviewValue{Text: "(invalid)", Known: true}
	}
	args := cty.EmptyTupleVal
	if len(sh.Values) > 0 {
		args = cty.TupleVal(sh.Values)
	}
	a := pv.value(args, expr)
	pv.shellArgs = &a
	if !sh.ScriptKnown {
		return PreviewValue{After: config.StepRefs(expr), AfterLocks: config.LockRefs(expr)}
	}
	if sh.Sensitive && !a.Sensitive {
		return PreviewValue{Sensitive: true, Known: true, Text: SensitivePlaceholder}
	}
	return pv.value(cty.StringVal(sh.Script), expr)
}

// sourceText returns the source of rng, or its position when the file is
// not known.
func sourceText(files map[string]*hcl.File, rng hcl.Range) string {
	if f := files[rng.Filename]; f != nil && rng.End.Byte <= len(f.Bytes) && rng.Start.Byte <= rng.End.Byte {
		return string(f.Bytes[rng.Start.Byte:rng.End.Byte])
	}
	return rng.String()
}
