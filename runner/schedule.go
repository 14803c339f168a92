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

	// wlocks are the workflow-level locks around the step, held when the
	// instance starts (admit); the instance watches, confirms and exposes
	// them but never releases them: the schedule does.
	wlocks   []*heldLock
	wlWait   time.Duration // time spent waiting for them (lock wait)
	parked   time.Time     // when it first waited for one; zero if never
	waitsFor string        // the key of the lock it is parked on
	// runHolds are the keys of every workflow-level lock the run held when
	// the instance was admitted (lock.Request.Holds of its waits).
	runHolds []string
	// wscope are the workflow-level locks of wlocks (the same order).
	wscope []*wlock
	// stopped, when it has workflow-level locks, says that the instance
	// was interrupted and nothing of its command runs any more (it only
	// writes what is left of its output): see wlock.scopeChanged. Called
	// on the instance's goroutine, which alone uses hasStopped.
	stopped    func()
	hasStopped bool
}

// stepState tracks one planned step during a run.
type stepState struct {
	waiting int // dependencies not finished yet
	pending int // instances not finished yet
	results []*InstanceResult
	forEach bool
	status  string // set when finished
	active  int    // instances running now
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
	wl       wlSchedule // the workflow-level locks (wlocks.go)
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
	s := &schedule{r: r, scope: scope, steps: map[string]*stepState{}, done: make(chan *InstanceResult)}
	if res.Diags = append(res.Diags, s.initLocks()...); res.Diags.HasErrors() {
		res.Outcome = OutcomeFailed
		return res
	}
	r.emit(Event{Type: EventRunStart, Message: r.plan.Workflow.Dir})
	for _, name := range r.plan.Order {
		st := &stepState{waiting: len(r.plan.Deps[name])}
		s.steps[name] = st
		if st.waiting == 0 {
			s.ready = append(s.ready, name)
		}
	}
	s.loop(ctx)
	s.endLocks(ctx)
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
	if s.wl.lost {
		res.Outcome = max(res.Outcome, OutcomeLockLost)
	}
	if ctx.Err() != nil {
		res.Outcome = OutcomeInterrupted
	}
	r.troubles.Wait() // every keeper stopped: the last trouble events come first
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
		s.settleLocks(ctx) // a lock no step needs now is released before others start
		s.launch(ctx)
		s.settleLocks(ctx) // and after what admission refused
		if len(s.ready) > 0 {
			// Admission refused an instance (a workflow-level lock was
			// refused or lost) and finishing its step readied dependents:
			// start them now, nothing else may ever wake the loop.
			continue
		}
		if s.running == 0 && s.wl.acquiring == 0 {
			if len(s.queue) == 0 && len(s.ready) == 0 && len(s.wl.parked) == 0 {
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
			s.steps[in.Step].active--
			s.finishInstance(in)
		case ev := <-s.wl.events:
			s.lockEvent(ctx, ev)
		case <-ctxDone:
			ctxDone = nil
			s.stop(ReasonInterrupted)
		}
	}
}

// launch starts queued instances while slots are free; an instance waiting
// for a workflow-level lock is parked instead (admit).
func (s *schedule) launch(ctx context.Context) {
	for !s.stopping && s.running < s.r.opts.Parallelism && len(s.queue) > 0 {
		in := s.queue[0]
		s.queue = s.queue[1:]
		if !s.admit(ctx, in) {
			continue
		}
		s.running++
		s.steps[in.step.Name].active++
		if len(in.wscope) == 0 {
			go func() { s.done <- s.r.runInstance(ctx, in) }()
			continue
		}
		// The scope's count of running instances is kept apart from the
		// loop (which may wait to write an event while stdout stalls), so
		// that the instances themselves can free its locks.
		for i, w := range in.wscope {
			w.scopeChanged(ctx, s.r, in.wlocks[i], 1, 0)
		}
		in.stopped = func() {
			in.hasStopped = true
			for i, w := range in.wscope {
				w.scopeChanged(ctx, s.r, in.wlocks[i], 0, 1)
			}
		}
		go func() {
			res := s.r.runInstance(ctx, in)
			stopped := 0
			if in.hasStopped {
				stopped = -1
			}
			for i, w := range in.wscope {
				w.scopeChanged(ctx, s.r, in.wlocks[i], -1, stopped)
			}
			s.done <- res
		}()
	}
}

func (s *schedule) stop(reason Reason) {
	if !s.stopping {
		s.stopping, s.reason = true, reason
	}
}

// dropQueue marks every queued or parked instance not run.
func (s *schedule) dropQueue() {
	q := append(s.wl.parked, s.queue...)
	s.queue, s.wl.parked = nil, nil
	for _, in := range q {
		res := in.result(StatusNotRun, s.reason)
		s.ended(res, in.waitsFor)
		s.finishInstance(res)
	}
}

func (s *schedule) notRun(name, addr, key string, order int, reason Reason) *InstanceResult {
	res := &InstanceResult{Address: addr, Step: name, Key: key, Status: StatusNotRun, Reason: reason,
		ExitCode: -1, order: order}
	s.ended(res, "")
	return res
}

// result is the result of an instance that ends without running.
func (in *instance) result(status string, reason Reason) *InstanceResult {
	return &InstanceResult{Address: in.addr, Step: in.step.Name, Key: in.key, Status: status, Reason: reason,
		ExitCode: -1, order: in.order}
}

// ended emits the events of an instance that ends without starting:
// step_skipped when it is skipped, then step_done. lockKey, when not "",
// is the key of the workflow-level lock it waited for or that decided its
// end: the events carry it so that a waiting line for it can be cleared.
func (s *schedule) ended(res *InstanceResult, lockKey string) {
	if res.Status == StatusSkipped {
		s.r.emit(Event{Type: EventStepSkipped, Step: res.Address, Lock: lockKey, Status: res.Status,
			Reason: res.Reason, Message: res.Message})
	}
	s.r.emit(Event{Type: EventStepDone, Step: res.Address, Lock: lockKey, Status: res.Status, Reason: res.Reason,
		Message: res.Message, ExitCode: -1, LockWait: res.LockWait, Duration: res.Duration, Err: res.Err})
}

// startStep expands a step whose dependencies finished into instances, or
// marks it not run or skipped.
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
	if s.skipByLock(name) {
		return
	}
	scope := scopeFor(s.scope, s.r.plan.Deps[name])
	if step.ForEach == nil {
		st.pending = 1
		s.queue = append(s.queue, &instance{step: step, addr: Address(name, "", false), order: order, scope: scope})
		return
	}
	s.expandForEach(step, scope)
}

// expandForEach queues the instances of a for_each step.
func (s *schedule) expandForEach(step *config.Step, scope *config.Scope) {
	name, order, st := step.Name, s.r.plan.index[step.Name], s.steps[step.Name]
	st.forEach = true
	items, _, diags := forEachItems(scope, step.ForEach)
	if diags.HasErrors() {
		st.pending = 1
		in := &InstanceResult{Address: Address(name, "", false), Step: name, Status: StatusFailed, Reason: ReasonEval,
			ExitCode: -1, Diags: diags, Err: errors.New(diagsError(diags)), order: order}
		s.ended(in, "")
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
	if st.status == StatusFailed || st.status == StatusNotRun {
		s.doom(s.r.plan.Dependents(name)...)
	}
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
