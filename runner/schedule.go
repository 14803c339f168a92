package runner

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/lockstep-dev/lockstep/config"
)

// instance is one step instance ready to run.
type instance struct {
	step   *config.Step
	key    string
	hasKey bool
	addr   string
	order  int
	scope  *config.Scope // private copy with this instance's each
}

// stepState tracks one planned step during a run.
type stepState struct {
	waiting int // dependencies not finished yet
	pending int // instances not finished yet
	results []*InstanceResult
	forEach bool
	status  string // set when finished
}

// schedule is the state of the scheduling loop; only Run's goroutine uses it.
type schedule struct {
	r        *Runner
	scope    *config.Scope
	steps    map[string]*stepState
	ready    []string    // steps whose dependencies finished, by plan order
	queue    []*instance // instances waiting for a free slot
	running  int
	stopping bool
	reason   Reason // why instances are not started while stopping
	done     chan *InstanceResult
	all      []*InstanceResult
}

// Run executes the plan: each step instance once its dependencies finished,
// up to Parallelism at once. Cancelling ctx stops running steps (SIGTERM,
// then SIGKILL after their kill_timeout), starts nothing new and releases every
// lock before Run returns; the result's outcome is then OutcomeInterrupted.
// Run never returns nil.
func (r *Runner) Run(ctx context.Context) *Result {
	start := time.Now()
	res := &Result{RunID: r.opts.RunID}
	scope, diags := r.baseScope()
	res.Diags = diags
	if diags.HasErrors() {
		res.Outcome = OutcomeFailed
		return res
	}
	r.emit(Event{Type: EventRunStart, Message: r.plan.Workflow.Dir})
	s := &schedule{r: r, scope: scope, steps: map[string]*stepState{}, done: make(chan *InstanceResult)}
	for _, name := range r.plan.Order {
		st := &stepState{waiting: len(r.plan.Deps[name])}
		s.steps[name] = st
		if st.waiting == 0 {
			s.ready = append(s.ready, name)
		}
	}
	s.loop(ctx)
	sort.SliceStable(s.all, func(i, j int) bool {
		if s.all[i].order != s.all[j].order {
			return s.all[i].order < s.all[j].order
		}
		return s.all[i].Key < s.all[j].Key
	})
	res.Instances = s.all
	res.Outputs = evalOutputs(r.plan.Workflow, scope)
	for _, in := range s.all {
		res.Outcome = max(res.Outcome, outcomeOf(in))
	}
	if ctx.Err() != nil {
		res.Outcome = OutcomeInterrupted
	}
	res.Duration = time.Since(start)
	r.emit(Event{Type: EventRunDone, Status: res.Outcome.String(), Duration: res.Duration, Result: res})
	return res
}

func (s *schedule) loop(ctx context.Context) {
	ctxDone := ctx.Done()
	for {
		for len(s.ready) > 0 {
			name := s.ready[0]
			s.ready = s.ready[1:]
			s.startStep(name)
		}
		for !s.stopping && s.running < s.r.opts.Parallelism && len(s.queue) > 0 {
			in := s.queue[0]
			s.queue = s.queue[1:]
			s.running++
			go func() { s.done <- s.r.runInstance(ctx, in) }()
		}
		if s.running == 0 {
			if len(s.queue) == 0 && len(s.ready) == 0 {
				return
			}
			if s.stopping {
				s.dropQueue()
				continue
			}
		}
		select {
		case in := <-s.done:
			s.running--
			s.finishInstance(in)
		case <-ctxDone:
			ctxDone = nil
			s.stop(ReasonInterrupted)
		}
	}
}

func (s *schedule) stop(reason Reason) {
	if !s.stopping {
		s.stopping, s.reason = true, reason
	}
}

// dropQueue marks every queued instance not run.
func (s *schedule) dropQueue() {
	q := s.queue
	s.queue = nil
	for _, in := range q {
		s.finishInstance(s.notRun(in.step.Name, in.addr, in.key, in.order, s.reason))
	}
}

func (s *schedule) notRun(name, addr, key string, order int, reason Reason) *InstanceResult {
	res := &InstanceResult{Address: addr, Step: name, Key: key, Status: StatusNotRun, Reason: reason,
		ExitCode: -1, order: order}
	s.r.emit(Event{Type: EventStepDone, Step: addr, Status: StatusNotRun, Reason: reason, ExitCode: -1})
	return res
}

// startStep expands a step whose dependencies finished into instances, or
// marks it not run.
func (s *schedule) startStep(name string) {
	st := s.steps[name]
	step := s.r.plan.Workflow.Steps[name]
	order := s.r.plan.index[name]
	reason := ReasonNone
	for _, d := range s.r.plan.Deps[name] {
		if ds := s.steps[d].status; ds == StatusFailed || ds == StatusNotRun {
			reason = ReasonDependency
		}
	}
	if reason == ReasonNone && s.stopping {
		reason = s.reason
	}
	if reason != ReasonNone {
		st.pending = 1
		s.finishInstance(s.notRun(name, Address(name, "", false), "", order, reason))
		return
	}
	scope := scopeFor(s.scope, s.r.plan.Deps[name])
	if step.ForEach == nil {
		st.pending = 1
		s.queue = append(s.queue, &instance{step: step, addr: Address(name, "", false), order: order, scope: scope})
		return
	}
	st.forEach = true
	items, _, diags := forEachItems(scope, step.ForEach)
	if diags.HasErrors() {
		st.pending = 1
		in := &InstanceResult{Address: Address(name, "", false), Step: name, Status: StatusFailed, Reason: ReasonEval,
			ExitCode: -1, Diags: diags, Err: errors.New(diagsError(diags)), order: order}
		s.r.emit(Event{Type: EventStepDone, Step: in.Address, Status: in.Status, Reason: in.Reason, ExitCode: -1, Err: in.Err})
		s.finishInstance(in)
		return
	}
	keys := sortedKeys(items)
	if only := s.r.plan.Keys[name]; only != nil {
		keys = keys[:0:0]
		for _, k := range sortedKeys(items) {
			if only[k] {
				keys = append(keys, k)
			}
		}
	}
	if len(keys) == 0 {
		s.finishStep(name)
		return
	}
	st.pending = len(keys)
	for _, k := range keys {
		sc := *scope
		sc.Each = &config.EachValue{Key: cty.StringVal(k), Value: items[k]}
		s.queue = append(s.queue, &instance{step: step, key: k, hasKey: true, addr: Address(name, k, true), order: order, scope: &sc})
	}
}

// finishInstance records a finished instance and finishes its step when it
// was the last one.
func (s *schedule) finishInstance(in *InstanceResult) {
	s.all = append(s.all, in)
	st := s.steps[in.Step]
	st.results = append(st.results, in)
	st.pending--
	if in.Status == StatusFailed && !s.r.opts.KeepGoing {
		s.stop(ReasonFailFast)
	}
	if st.pending == 0 {
		s.finishStep(in.Step)
	}
}

// finishStep publishes a step's result to the scope and readies the
// dependents whose dependencies have all finished.
func (s *schedule) finishStep(name string) {
	st := s.steps[name]
	st.status = StatusSucceeded
	allSkipped := len(st.results) > 0
	for _, in := range st.results {
		switch in.Status {
		case StatusFailed:
			st.status = StatusFailed
		case StatusNotRun:
			if st.status != StatusFailed {
				st.status = StatusNotRun
			}
		}
		allSkipped = allSkipped && in.Status == StatusSkipped
	}
	if allSkipped {
		st.status = StatusSkipped
	}
	s.scope.Steps[name] = s.stepValue(name, st)
	for _, d := range s.r.plan.Dependents(name) {
		ds := s.steps[d]
		ds.waiting--
		if ds.waiting == 0 {
			s.ready = append(s.ready, d)
		}
	}
	sort.SliceStable(s.ready, func(i, j int) bool { return s.r.plan.index[s.ready[i]] < s.r.plan.index[s.ready[j]] })
}

func (s *schedule) stepValue(name string, st *stepState) cty.Value {
	if !st.forEach {
		if len(st.results) == 1 {
			return stepValue(st.results[0])
		}
		return cty.DynamicVal
	}
	m := map[string]cty.Value{}
	for _, in := range st.results {
		if in.Key != "" || in.Address != Address(name, "", false) {
			m[in.Key] = stepValue(in)
		}
	}
	if len(m) == 0 {
		return cty.MapValEmpty(config.StepResultType)
	}
	return cty.MapVal(m)
}

// evalOutputs evaluates every output block against the final scope.
func evalOutputs(wf *config.Workflow, scope *config.Scope) []OutputValue {
	var out []OutputValue
	for _, name := range sortedKeys(wf.Outputs) {
		o := wf.Outputs[name]
		ov := OutputValue{Name: name, Description: o.Description, Sensitive: o.Sensitive}
		if o.Value != nil {
			v, diags := scope.EvalExpr(o.Value, cty.DynamicPseudoType)
			ov.Diags = diags
			if !diags.HasErrors() {
				ov.Value = v
				ov.Sensitive = ov.Sensitive || v.ContainsMarked()
			}
		}
		out = append(out, ov)
	}
	return out
}

// diagsError summarises error diagnostics in one line for an error value.
func diagsError(diags hcl.Diagnostics) string {
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			return d.Error()
		}
	}
	return "evaluation failed"
}
