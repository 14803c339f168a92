package runner

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/lockstep-dev/lockstep/lock"
)

// Workflow-level locks at run time (DESIGN section 2). The scheduling loop
// owns them: before it starts an instance of a step in the scope of such a
// lock, the lock must be held (admit). The first instance that needs a lock
// not held yet starts its acquisition, in a goroutine that posts the outcome
// back to the loop, and is parked meanwhile; other steps go on. Once held, a
// keeper renews the lock (between steps too), lock.NAME becomes known to
// the steps started later, and every instance of its scope watches and
// confirms it like its own locks but never releases it. The loop releases
// it when no step of its scope can still start and none still runs
// (settleLocks): after the last one, after failures and skips, on stop and
// interrupt; Run waits for the releases before it returns. On an interrupt
// it is freed at the backend as soon as the commands of its scope are gone,
// even while their last output waits for a stalled stdout (scopeChanged).

// wlState is where a workflow-level lock is in a run.
type wlState int

const (
	wlIdle      wlState = iota // not acquired yet
	wlAcquiring                // an acquisition is in flight
	wlHeld                     // held and renewed (or lost, see wlock.outcome)
	wlEnded                    // released, refused, or given up: never taken again
)

// wlock is a workflow-level lock during a run. Only the loop's goroutine
// uses it.
type wlock struct {
	spec   LockSpec
	steps  []string // its scope: the planned steps it is held around, in plan order
	state  wlState
	held   *heldLock          // when wlHeld
	cancel context.CancelFunc // ends the acquisition in flight
	quit   chan struct{}      // closed on release: ends the loss watch
	scope  scopeCount         // its instances running, shared with them
	// outcome, once the lock was refused or lost, is how an instance of its
	// scope that would start ends instead.
	outcome *wlOutcome
}

func (w *wlock) addr() string { return LockAddress(w.spec.Name) }

// wlOutcome is how the instances of a lock's scope end when the lock was
// refused (busy, superseded, unavailable) or lost.
type wlOutcome struct {
	status  string
	reason  Reason
	message string
	err     error
	busy    *lock.BusyError
	key     string // the lock's key as it may be shown
}

// wlSchedule is the part of the schedule that concerns workflow-level locks.
type wlSchedule struct {
	locks     []*wlock            // those with a planned step in scope, by name
	of        map[string][]*wlock // step name -> the locks around it, in key order
	events    chan wlEvent        // acquisitions ended and losses, from their goroutines
	acquiring int                 // acquisitions in flight
	parked    []*instance         // instances waiting for a lock being acquired
	doomed    map[string]bool     // steps that will start no instance that runs
	skip      map[string]*wlOutcome
	lost      bool // a lock was lost: the run ends as lock-lost
	releases  sync.WaitGroup
}

// scopeCount counts the running instances of a workflow-level lock's scope
// and, of those, the interrupted ones whose command is gone. The loop adds
// an instance as it starts it; the instance counts itself stopped and ended
// on its own goroutine, and frees the lock at the backend when the run was
// interrupted and none of them can still run a command (scopeChanged).
type scopeCount struct {
	mu              sync.Mutex
	active, stopped int
	freeing         bool          // the lock is released (or being), by scopeChanged or releaseLock
	freed           chan struct{} // closed when scopeChanged's release ended
}

// wlEvent is posted to the loop when an acquisition ends (lease or err) or
// a held lock is lost.
type wlEvent struct {
	w    *wlock
	held *heldLock // acquired, confirmed and kept
	err  error
	lost bool
}

// LockAddress is the address of the workflow-level lock name, lock.NAME: the
// Step of its events and of its holder record.
func LockAddress(name string) string { return "lock." + name }

// IsLockAddress reports whether an event's Step is a workflow-level lock's
// address rather than a step instance's.
func IsLockAddress(addr string) bool { return strings.HasPrefix(addr, "lock.") }

// initLocks evaluates the workflow-level locks whose scope holds a planned
// step (their keys may use variables, locals and functions only).
func (s *schedule) initLocks() hcl.Diagnostics {
	wf := s.r.plan.Workflow
	s.wl.of, s.wl.doomed, s.wl.skip = map[string][]*wlock{}, map[string]bool{}, map[string]*wlOutcome{}
	s.wl.events = make(chan wlEvent)
	var diags hcl.Diagnostics
	for _, name := range sortedKeys(wf.Locks) {
		var steps []string
		for _, st := range s.r.plan.Order {
			if wf.InLockScope(name, st) {
				steps = append(steps, st)
			}
		}
		if len(steps) == 0 {
			continue
		}
		spec, d := EvalWorkflowLock(s.scope, wf, name, s.r.opts.LockTimeout)
		diags = append(diags, d...)
		w := &wlock{spec: spec, steps: steps, scope: scopeCount{freed: make(chan struct{})}}
		s.wl.locks = append(s.wl.locks, w)
		for _, st := range steps {
			s.wl.of[st] = append(s.wl.of[st], w)
		}
	}
	for _, ws := range s.wl.of {
		// Several locks starting at one step are taken in key order, as a
		// step's own locks are: two runs cannot deadlock on them.
		sort.SliceStable(ws, func(i, j int) bool { return ws[i].spec.Key < ws[j].spec.Key })
	}
	return diags
}

// admit reports whether in may start now: every workflow-level lock around
// its step is held. Otherwise it starts the acquisition of the first lock not
// held (in key order) and parks in until that ends, or finishes in as a
// refused or lost lock says.
func (s *schedule) admit(ctx context.Context, in *instance) bool {
	ws := s.wl.of[in.step.Name]
	// A lock that was refused or lost says why the step does not run; one
	// only released (its scope could no longer run: because of that
	// refusal, say) does not.
	for _, w := range ws {
		if w.outcome != nil {
			s.refused(in, w)
			return false
		}
	}
	for _, w := range ws {
		if w.state == wlEnded {
			s.refused(in, w)
			return false
		}
	}
	for _, w := range ws {
		if w.state == wlHeld {
			continue
		}
		s.park(in, w) // first: the lock wait counts from before the acquisition starts
		if w.state == wlIdle {
			s.acquireLock(ctx, w)
		}
		return false
	}
	// Every workflow-level lock the run holds now, in this step's scope or
	// not: its waits may close a cycle with another run through any of them.
	in.runHolds = s.heldKeys()
	if len(ws) > 0 {
		in.wlocks, in.wscope = make([]*heldLock, len(ws)), ws
		for i, w := range ws {
			in.wlocks[i] = w.held
		}
		in.scope.Locks = s.scope.Locks // with lock.NAME known
		if !in.parked.IsZero() {
			in.wlWait = time.Since(in.parked)
		}
	}
	return true
}

func (s *schedule) park(in *instance, w *wlock) {
	if in.parked.IsZero() {
		in.parked = time.Now()
	}
	in.waitsFor = s.r.keyText(w.spec)
	s.wl.parked = append(s.wl.parked, in)
}

// unpark puts the parked instances back at the head of the queue, in order,
// to be admitted again.
func (s *schedule) unpark() {
	if len(s.wl.parked) > 0 {
		s.queue = append(s.wl.parked, s.queue...)
		s.wl.parked = nil
	}
}

// refused finishes an instance whose workflow-level lock w was refused or
// lost: it does not start.
func (s *schedule) refused(in *instance, w *wlock) {
	o := w.outcome
	if o == nil { // given up without an outcome, which only a stop does
		reason := s.reason
		if reason == ReasonNone {
			reason = ReasonInterrupted
		}
		o = &wlOutcome{status: StatusNotRun, reason: reason, key: s.r.keyText(w.spec)}
	}
	res := in.result(o.status, o.reason)
	res.Message, res.Err, res.Busy = o.message, o.err, o.busy
	if !in.parked.IsZero() {
		res.LockWait = time.Since(in.parked)
		res.Duration = res.LockWait
	}
	s.ended(res, o.key)
	s.finishInstance(res)
}

// skipByLock finishes a step that a refused workflow-level lock skips (its
// scope and their dependents) and reports whether it did.
func (s *schedule) skipByLock(name string) bool {
	o := s.wl.skip[name]
	if o == nil {
		return false
	}
	s.steps[name].pending = 1
	res := &InstanceResult{Address: Address(name, "", false), Step: name, Status: o.status, Reason: o.reason,
		Message: o.message, Busy: o.busy, ExitCode: -1, order: s.r.plan.index[name]}
	s.ended(res, o.key)
	s.finishInstance(res)
	return true
}

// settleLocks gives up every workflow-level lock that no step can need any
// more: released when held, cancelled when being acquired.
func (s *schedule) settleLocks(ctx context.Context) {
	for _, w := range s.wl.locks {
		if w.state == wlEnded || s.needed(w) {
			continue
		}
		switch w.state {
		case wlIdle:
			w.state = wlEnded
		case wlAcquiring:
			w.state = wlEnded // acquired() releases a lease that still arrives
			w.cancel()
		case wlHeld:
			s.releaseLock(ctx, w)
		}
	}
}

// needed reports whether a step of w's scope runs now or may still start.
func (s *schedule) needed(w *wlock) bool {
	for _, name := range w.steps {
		st := s.steps[name]
		if st.active > 0 || st.status == "" && !s.wl.doomed[name] && !s.stopping {
			return true
		}
	}
	return false
}

// scopeChanged adds active running instances of w's scope and stopped ones
// (interrupted, their command's group gone), and frees w at the backend
// (h, the lease the instances were given) once the run was interrupted and
// every running instance of the scope is stopped: no command of it runs,
// and none starts after an interrupt (runProcess). A stalled stdout (a
// paused terminal, a hung CI log pipe) keeps those instances writing what
// is left of their output, and the loop perhaps waiting to write an event;
// it must not keep the lock held. The event is sent later by releaseLock,
// in its usual place, as a step's own releaseEarly does.
func (w *wlock) scopeChanged(ctx context.Context, r *Runner, h *heldLock, active, stopped int) {
	c := &w.scope
	c.mu.Lock()
	c.active += active
	c.stopped += stopped
	free := ctx.Err() != nil && c.active == c.stopped && !c.freeing
	if free {
		c.freeing = true
	}
	c.mu.Unlock()
	if free {
		h.freed, h.done = r.release(ctx, w.addr(), h), true
		close(c.freed)
	}
}

// releaseLock stops renewing w and releases it in the background (after
// scopeChanged's release, when that ran); Run waits for it (endLocks).
func (s *schedule) releaseLock(ctx context.Context, w *wlock) {
	h := w.held
	w.state = wlEnded
	close(w.quit)
	c := &w.scope
	c.mu.Lock()
	early := c.freeing
	c.freeing = true // no instance of the scope runs: none frees it now
	c.mu.Unlock()
	s.wl.releases.Add(1)
	go func() {
		defer s.wl.releases.Done()
		if early {
			<-c.freed
		}
		s.r.releaseHeld(ctx, w.addr(), h)
	}()
}

// endLocks releases what is still held once the loop ended and waits for
// every release.
func (s *schedule) endLocks(ctx context.Context) {
	for _, w := range s.wl.locks {
		if w.state == wlHeld {
			s.releaseLock(ctx, w)
		}
	}
	s.wl.releases.Wait()
}

// doom marks names and every step depending on them, transitively, as
// starting no instance that runs (a dependency failed, or a lock of theirs
// was refused or lost), so that the locks around them are not kept for them.
func (s *schedule) doom(names ...string) {
	if len(s.wl.locks) == 0 {
		return
	}
	stack := append([]string(nil), names...)
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if !s.wl.doomed[n] {
			s.wl.doomed[n] = true
			stack = append(stack, s.r.plan.Dependents(n)...)
		}
	}
}

// skipAfter marks the steps of w's scope not started yet, and every step
// depending on them, to be skipped as w's outcome says.
func (s *schedule) skipAfter(w *wlock) {
	stack := append([]string(nil), w.steps...)
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if s.wl.skip[n] == nil && s.steps[n].status == "" {
			s.wl.skip[n] = w.outcome
			stack = append(stack, s.r.plan.Dependents(n)...)
		}
	}
}

// heldKeys returns the keys of the workflow-level locks the run holds now,
// sorted: what an acquisition the run starts now is to pass as
// lock.Request.Holds for the detection of wait-for cycles across runs.
func (s *schedule) heldKeys() []string {
	var keys []string
	for _, w := range s.wl.locks {
		if w.state == wlHeld {
			keys = append(keys, w.spec.Key)
		}
	}
	sort.Strings(keys)
	return keys
}

// withWorkflowLocks returns held followed by the workflow-level locks around
// in (a new slice when there are any): what the instance watches and
// confirms.
func (in *instance) withWorkflowLocks(held []*heldLock) []*heldLock {
	if len(in.wlocks) == 0 {
		return held
	}
	all := make([]*heldLock, 0, len(held)+len(in.wlocks))
	return append(append(all, held...), in.wlocks...)
}
