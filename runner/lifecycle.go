package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
)

// releaseTimeout bounds releasing the locks after a step, on a context that
// survives cancellation of the run.
const releaseTimeout = 5 * time.Second

// heldLock is an acquired lock of a running step instance.
type heldLock struct {
	spec   lockSpec
	lease  *lock.Lease
	keeper *lock.Keeper
	// done: released at the backend already (releaseEarly); freed: and
	// that release succeeded, so releaseHeld only says so.
	done, freed bool
}

// stepRun is one step instance going through DESIGN section 3 — evaluate,
// lock, once, checks, command with retries, once marker, release — and all
// the state that lifecycle needs. run (Runner.Run) and exec
// (Runner.RunCommand) both go through it: there is no other copy.
type stepRun struct {
	r    *Runner
	in   *instance
	spec *instanceSpec
	res  *InstanceResult
	held []*heldLock
	lost *lostWatch
}

func (res *InstanceResult) fail(reason Reason, err error) {
	res.Status, res.Reason, res.Err = StatusFailed, reason, err
}

func (res *InstanceResult) skip(reason Reason, msg string) {
	res.Status, res.Reason, res.Message = StatusSkipped, reason, msg
}

// runInstance evaluates one step instance of the plan and runs it.
func (r *Runner) runInstance(ctx context.Context, in *instance) *InstanceResult {
	sr := r.newStepRun(in)
	r.emit(Event{Type: EventStepStart, Step: in.addr})
	// The wait for the workflow-level locks around it counts as its lock
	// wait, and as part of its duration.
	start := time.Now().Add(-in.wlWait)
	sr.res.LockWait = in.wlWait
	if err := ctx.Err(); err != nil {
		sr.res.fail(ReasonInterrupted, err) // cancelled after it was scheduled
	} else if spec, diags := evalInstance(in.scope, in.step, r.opts.LockTimeout); diags.HasErrors() {
		sr.res.Diags = diags
		sr.res.fail(ReasonEval, errors.New(diagsError(diags)))
	} else {
		sr.spec = spec
		sr.run(ctx)
	}
	return sr.finish(start)
}

func (r *Runner) newStepRun(in *instance) *stepRun {
	res := &InstanceResult{Address: in.addr, Step: in.step.Name, Key: in.key, ExitCode: -1, order: in.order}
	return &stepRun{r: r, in: in, res: res}
}

// finish emits the instance's end and returns its result.
func (sr *stepRun) finish(start time.Time) *InstanceResult {
	res := sr.res
	res.Duration = time.Since(start)
	if res.Status == StatusSkipped {
		sr.r.emit(Event{Type: EventStepSkipped, Step: sr.in.addr, Status: res.Status, Reason: res.Reason, Message: res.Message})
	}
	sr.r.emit(Event{Type: EventStepDone, Step: sr.in.addr, Status: res.Status, Reason: res.Reason, Message: res.Message,
		ExitCode: res.ExitCode, LockWait: res.LockWait, Duration: res.Duration, Err: res.Err})
	return res
}

// run is the lifecycle after evaluation: locks, once, checks, command, once
// marker, release.
func (sr *stepRun) run(ctx context.Context) {
	defer sr.releaseAll(ctx)
	if !sr.acquireAll(ctx) {
		return
	}
	sr.lost = sr.watchLost()
	defer sr.lost.stop()
	if sr.onceDone(ctx) || !sr.runChecks(ctx) {
		return
	}
	sr.runCommand(ctx)
	if sr.res.Status != StatusSucceeded {
		return
	}
	select {
	case <-sr.lost.ch:
		// Lost in the same instant the command exited: it may have run
		// without the lock at its end, so it never counts as done.
		sr.res.fail(ReasonLockLost, sr.lost.err())
		return
	default:
	}
	if sr.spec.OnceKey != "" {
		sr.markOnce(ctx)
	}
}

// acquireAll takes every lock in key order. On failure or skip it sets res,
// keeps the locks it did take in held (for release) and returns false.
func (sr *stepRun) acquireAll(ctx context.Context) bool {
	for _, ls := range sr.spec.Locks {
		h, err := sr.acquire(ctx, ls)
		if err != nil {
			sr.lockFailed(ctx, ls, err)
			return false
		}
		sr.held = append(sr.held, h)
		sr.r.emit(Event{Type: EventLockAcquired, Step: sr.in.addr, Lock: sr.r.keyText(ls), Label: ls.Label,
			Fence: h.lease.Fence, Limit: ls.Limit})
	}
	return true
}

// acquire takes one lock and starts its keeper, which confirms the lease
// (lock.Keeper.Confirm: at least a third of the TTL left, else one timed
// renewal) so that nothing starts on a grant that a pause or a slow link
// made void. Such a grant is released and the request queues again within
// what is left of its wait (issue 8.2).
func (sr *stepRun) acquire(ctx context.Context, ls lockSpec) (*heldLock, error) {
	start := time.Now()
	defer func() { sr.res.LockWait += time.Since(start) }()
	w := &waitEvents{r: sr.r, step: sr.in.addr, ls: ls}
	req := ls.Request(sr.holder())
	req.OnWait, req.OnQueue, req.Holds = w.onWait, w.onQueue, sr.heldKeys()
	return sr.r.acquireConfirmed(ctx, sr.in.addr, ls, req)
}

// acquireConfirmed takes req's lock for addr (a step instance or a
// workflow-level lock) and starts its keeper, which confirms the lease
// (lock.Keeper.Confirm: at least a third of the TTL left, else one timed
// renewal) so that nothing starts on a grant that a pause or a slow link
// made void. Such a grant is released and the request queues again within
// what is left of its wait (issue 8.2).
func (r *Runner) acquireConfirmed(ctx context.Context, addr string, ls lockSpec, req lock.Request) (*heldLock, error) {
	start, wait := time.Now(), req.Wait
	for {
		if wait > 0 {
			req.Wait = max(wait-time.Since(start), time.Millisecond)
		}
		lease, err := r.opts.Locker.Acquire(ctx, req)
		if err != nil {
			return nil, err
		}
		// The lease is kept until the command is gone, also through the
		// grace period after a signal: letting it lapse while the group
		// still runs would let the next holder in beside it.
		h := &heldLock{spec: ls, lease: lease}
		h.keeper = lock.Keep(context.WithoutCancel(ctx), r.opts.Locker, lease, r.keepOptions(addr, ls))
		err = h.keeper.Confirm(ctx, lease.TTL/3)
		if err == nil {
			return h, nil
		}
		r.release(ctx, addr, h)
		if !errors.Is(err, lock.ErrNotHeld) {
			return nil, err
		}
		r.log.Debug("the grant was void when confirmed; queueing again", "holder", addr, "lock", r.keyText(ls))
	}
}

// heldKeys lists the keys this instance holds while it waits for another:
// the backend follows them to find a wait-for cycle across runs (lock.Request
// Holds).
func (sr *stepRun) heldKeys() []string {
	keys := slices.Clone(sr.in.runHolds)
	for _, h := range sr.held {
		keys = append(keys, h.lease.Key)
	}
	return keys
}

// holder is the metadata stored with this instance's locks and once marker.
func (sr *stepRun) holder() lock.Holder {
	h := sr.r.opts.Holder
	h.RunID, h.Step = sr.r.opts.RunID, sr.in.addr
	return h
}

// waitEvents turns a request's OnWait and OnQueue reports into lock_wait
// events carrying both the holders and the place in line.
type waitEvents struct {
	r     *Runner
	step  string
	ls    lockSpec
	mu    sync.Mutex
	start time.Time
	ev    Event
}

func (w *waitEvents) onWait(holders []lock.Holder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ev.Holders = holders
	w.send()
}

func (w *waitEvents) onQueue(q lock.QueueStatus) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ev.Position, w.ev.Length = q.Position, q.Length
	if q.Holders != nil {
		w.ev.Holders = q.Holders
	}
	w.send()
}

// send emits the current state. Callers hold mu.
func (w *waitEvents) send() {
	if w.start.IsZero() {
		w.start = time.Now()
	}
	ev := w.ev
	ev.Type, ev.Step, ev.Lock, ev.Label = EventLockWait, w.step, w.r.keyText(w.ls), w.ls.Label
	ev.WaitStart, ev.Limit, ev.Time = w.start, w.ls.Limit, time.Time{}
	w.r.emit(ev)
}

// lockFailed classifies a failed acquisition.
func (sr *stepRun) lockFailed(ctx context.Context, ls lockSpec, err error) {
	var (
		busy *lock.BusyError
		sup  *lock.SupersededError
		dl   *lock.DeadlockError
	)
	res, shown := sr.res, sr.r.keyText(ls)
	switch {
	case errors.As(err, &busy):
		res.Busy = redactBusy(busy, shown)
		if ls.OnBusy == "skip" {
			res.skip(ReasonLockBusy, fmt.Sprintf("lock %q is busy%s", shown, heldBy(busy.Holders)))
			return
		}
		res.fail(ReasonLockBusy, res.Busy)
	case errors.As(err, &sup):
		c := *sup
		c.Key = shown
		res.skip(ReasonSuperseded, supersededBy(strconv.Quote(shown), sup.By))
		res.Err = &c
	case errors.As(err, &dl):
		res.fail(ReasonDeadlock, sr.redactDeadlock(dl))
	case ctx.Err() != nil:
		res.fail(ReasonInterrupted, fmt.Errorf("acquire lock %q: %w", shown, ctx.Err()))
	default:
		res.fail(ReasonUnavailable, fmt.Errorf("acquire lock %q: %w", shown, err))
	}
}

// keyText is the lock key as it may be shown.
func (r *Runner) keyText(ls lockSpec) string {
	if ls.Sensitive {
		return SensitivePlaceholder
	}
	return ls.Key
}

// releaseAll stops renewing and releases every held lock at once, on a
// context that survives cancellation of ctx.
func (sr *stepRun) releaseAll(ctx context.Context) {
	sr.eachHeld(func(h *heldLock) { sr.r.releaseHeld(ctx, sr.in.addr, h) })
}

// releaseEarly releases every held lock at the backend now, without the
// events (releaseAll sends them later, in their usual place). An
// interrupted step's locks are freed as soon as its command's group is gone,
// before its last output is written: a stalled stdout (a paused terminal, a
// pager that stopped reading) holds up the events but must not keep the
// locks held.
func (sr *stepRun) releaseEarly(ctx context.Context) {
	sr.eachHeld(func(h *heldLock) {
		if !h.done {
			h.freed, h.done = sr.r.release(ctx, sr.in.addr, h), true
		}
	})
}

// eachHeld calls f for every held lock, concurrently when there are more.
func (sr *stepRun) eachHeld(f func(h *heldLock)) {
	if len(sr.held) == 1 {
		// The usual step: no goroutine to hand the release to and back.
		f(sr.held[0])
		return
	}
	done := make(chan struct{}, len(sr.held))
	for _, h := range sr.held {
		go func() {
			defer func() { done <- struct{}{} }()
			f(h)
		}()
	}
	for range sr.held {
		<-done
	}
}

// releaseHeld releases h, held by addr (a step instance or a
// workflow-level lock), unless releaseEarly did, and says so in a
// lock_released event.
func (r *Runner) releaseHeld(ctx context.Context, addr string, h *heldLock) {
	if h.done && h.freed || !h.done && r.release(ctx, addr, h) {
		r.emit(Event{Type: EventLockReleased, Step: addr, Lock: r.keyText(h.spec), Label: h.spec.Label})
	}
}

// release stops h's keeper and releases it; a lease the keeper lost gets a
// short bound (lock.Keeper.ReleaseContext): its release would only wait on a
// dead link. It reports whether the lock was released by this call.
func (r *Runner) release(ctx context.Context, addr string, h *heldLock) bool {
	h.keeper.Stop()
	rctx, cancel := h.keeper.ReleaseContext(ctx)
	defer cancel()
	err := r.opts.Locker.Release(rctx, h.lease.Key, h.lease.Token)
	switch {
	case err == nil:
		return true
	case errors.Is(err, lock.ErrNotHeld) || h.keeper.Err() != nil:
		// After a loss the lock is already gone: nothing to warn about.
		r.log.Debug("lock was no longer held at release", "holder", addr, "lock", r.keyText(h.spec))
	default:
		r.log.Warn("release lock failed; the lease ends when its TTL runs out", "holder", addr,
			"lock", r.keyText(h.spec), "error", err)
	}
	return false
}

// confirmHeld confirms every held lease right before a command starts
// (lock.Keeper.Confirm), so that a command never starts on a lease that a
// pause or a slow link made void. A lease found gone is a lost lock.
func (sr *stepRun) confirmHeld(ctx context.Context) (Reason, error) {
	for _, h := range sr.in.withWorkflowLocks(sr.held) {
		if err := h.keeper.Confirm(ctx, h.lease.TTL/3); err != nil {
			err = fmt.Errorf("lock %q not confirmed before the command: %w", sr.r.keyText(h.spec), err)
			if errors.Is(err, lock.ErrNotHeld) {
				return ReasonLockLost, err
			}
			return ReasonUnavailable, err
		}
	}
	return ReasonNone, nil
}

// onceDone reports whether the once marker is set, and then marks res skipped.
func (sr *stepRun) onceDone(ctx context.Context) bool {
	if sr.spec.OnceKey == "" {
		return false
	}
	rec, err := sr.r.opts.Locker.Once(ctx, sr.spec.OnceKey)
	switch {
	case err != nil && ctx.Err() != nil:
		sr.res.fail(ReasonInterrupted, fmt.Errorf("read once marker: %w", ctx.Err()))
	case err != nil:
		sr.res.fail(ReasonUnavailable, fmt.Errorf("read once marker: %w", err))
	case rec != nil:
		sr.res.skip(ReasonOnce, "done by "+describeOnce(rec))
		sr.res.Once = rec
	default:
		return false
	}
	return true
}

func (sr *stepRun) markOnce(ctx context.Context) {
	h := sr.holder()
	rec := lock.OnceRecord{Key: sr.spec.OnceKey, Owner: h.Owner, PID: h.PID, RunID: h.RunID,
		Step: h.Step, Workflow: h.Workflow, Info: h.Info}
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	if err := sr.r.opts.Locker.MarkOnce(mctx, rec, sr.spec.OnceTTL); err != nil {
		sr.res.fail(ReasonUnavailable, fmt.Errorf("write once marker: %w", err))
	}
}
