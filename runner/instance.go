package runner

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
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
}

func (res *InstanceResult) fail(reason Reason, err error) {
	res.Status, res.Reason, res.Err = StatusFailed, reason, err
}

func (res *InstanceResult) skip(reason Reason, msg string) {
	res.Status, res.Reason, res.Message = StatusSkipped, reason, msg
}

// runInstance runs one step instance through DESIGN section 3: evaluate,
// lock, once, checks, command with retries, once marker, release.
func (r *Runner) runInstance(ctx context.Context, in *instance) *InstanceResult {
	start := time.Now().Add(-in.wlWait) // the wait for its workflow-level locks counts as lock wait
	res := &InstanceResult{Address: in.addr, Step: in.step.Name, Key: in.key, ExitCode: -1, LockWait: in.wlWait, order: in.order}
	r.emit(Event{Type: EventStepStart, Step: in.addr})
	r.runBody(ctx, in, res)
	res.Duration = time.Since(start)
	if res.Status == StatusSkipped {
		r.emit(Event{Type: EventStepSkipped, Step: in.addr, Status: res.Status, Reason: res.Reason, Message: res.Message})
	}
	r.emit(Event{Type: EventStepDone, Step: in.addr, Status: res.Status, Reason: res.Reason, Message: res.Message,
		ExitCode: res.ExitCode, LockWait: res.LockWait, Duration: res.Duration, Err: res.Err})
	return res
}

func (r *Runner) runBody(ctx context.Context, in *instance, res *InstanceResult) {
	if err := ctx.Err(); err != nil {
		res.fail(ReasonInterrupted, err) // cancelled after it was scheduled
		return
	}
	spec, diags := evalInstance(in.scope, in.step, r.opts.LockTimeout)
	if diags.HasErrors() {
		res.Diags = diags
		res.fail(ReasonEval, errors.New(diagsError(diags)))
		return
	}
	held := r.acquireAll(ctx, in, spec, res)
	defer r.releaseAll(ctx, in, held)
	if res.Status != "" {
		return
	}
	lost := r.watchLost(in, in.withWorkflowLocks(held))
	defer lost.stop()
	if r.onceDone(ctx, spec, res) || !r.runChecks(ctx, in, spec, held, lost.ch, res) {
		return
	}
	r.runCommand(ctx, in, spec, held, lost.ch, res)
	if res.Status != StatusSucceeded {
		return
	}
	select {
	case <-lost.ch:
		res.fail(ReasonLockLost, lost.err())
		return
	default:
	}
	if spec.OnceKey != "" {
		r.markOnce(ctx, in, spec, res)
	}
}

// acquireAll takes every lock in key order. On failure or skip it sets res and
// returns the locks it did take, for release.
func (r *Runner) acquireAll(ctx context.Context, in *instance, spec *instanceSpec, res *InstanceResult) []*heldLock {
	var held []*heldLock
	for _, ls := range spec.Locks {
		lease, err := r.acquire(ctx, in, ls, res)
		if err != nil {
			r.lockFailed(ctx, ls, err, res)
			return held
		}
		h := &heldLock{spec: ls, lease: lease, keeper: lock.Keep(context.WithoutCancel(ctx), r.opts.Locker, lease, &lock.KeepOptions{Logger: r.log})}
		held = append(held, h)
		r.emit(Event{Type: EventLockAcquired, Step: in.addr, Lock: r.keyText(ls), Label: ls.Label,
			Fence: lease.Fence, Limit: ls.Limit})
	}
	return held
}

func (r *Runner) acquire(ctx context.Context, in *instance, ls lockSpec, res *InstanceResult) (*lock.Lease, error) {
	holder := r.opts.Holder
	holder.RunID, holder.Step = r.opts.RunID, in.addr
	start := time.Now()
	var waitStart time.Time
	req := lock.Request{Key: ls.Key, TTL: ls.TTL, Limit: ls.Limit, Wait: ls.Wait, Holder: holder,
		Mode: ls.Mode, Queue: ls.Queue, MaxWaiters: ls.MaxWaiters,
		OnWait: func(holders []lock.Holder) {
			if waitStart.IsZero() {
				waitStart = time.Now()
			}
			r.emit(Event{Type: EventLockWait, Step: in.addr, Lock: r.keyText(ls), Label: ls.Label,
				Holders: holders, WaitStart: waitStart, Limit: ls.Limit})
		}}
	lease, err := r.opts.Locker.Acquire(ctx, req)
	res.LockWait += time.Since(start)
	return lease, err
}

// lockFailed classifies a failed acquisition.
func (r *Runner) lockFailed(ctx context.Context, ls lockSpec, err error, res *InstanceResult) {
	var busy *lock.BusyError
	var sup *lock.SupersededError
	switch {
	case errors.As(err, &sup):
		res.skip(ReasonSuperseded, supersededBy(strconv.Quote(r.keyText(ls)), sup.By))
	case errors.As(err, &busy):
		res.Busy = redactBusy(busy, r.keyText(ls))
		if ls.OnBusy == "skip" {
			res.skip(ReasonLockBusy, fmt.Sprintf("lock %q is busy%s", r.keyText(ls), heldBy(busy.Holders)))
			return
		}
		res.fail(ReasonLockBusy, res.Busy)
	case ctx.Err() != nil:
		res.fail(ReasonInterrupted, fmt.Errorf("acquire lock %q: %w", r.keyText(ls), ctx.Err()))
	default:
		res.fail(ReasonUnavailable, fmt.Errorf("acquire lock %q: %w", r.keyText(ls), err))
	}
}

// redactBusy returns a copy of b that names the key as it may be shown.
func redactBusy(b *lock.BusyError, shown string) *lock.BusyError {
	c := *b
	c.Key = shown
	return &c
}

// heldBy renders ", held by alice@host (pid 42, step.x)" for a skip message.
func heldBy(holders []lock.Holder) string {
	if len(holders) == 0 {
		return ""
	}
	var parts []string
	for _, h := range holders {
		parts = append(parts, DescribeHolder(h, time.Now()))
	}
	return ", held by " + strings.Join(parts, "; ")
}

// DescribeHolder renders a holder as "alice@host, pid 42, step.x, for 2m10s".
func DescribeHolder(h lock.Holder, now time.Time) string {
	parts := []string{h.Owner}
	if h.Owner == "" {
		parts[0] = "unknown holder"
	}
	if h.PID != 0 {
		parts = append(parts, fmt.Sprintf("pid %d", h.PID))
	}
	if h.Step != "" {
		parts = append(parts, h.Step)
	}
	if !h.Since.IsZero() {
		parts = append(parts, "for "+now.Sub(h.Since).Round(time.Second).String())
	}
	if h.Info != "" {
		parts = append(parts, h.Info)
	}
	return strings.Join(parts, ", ")
}

// keyText is the lock key as it may be shown.
func (r *Runner) keyText(ls lockSpec) string {
	if ls.Sensitive {
		return SensitivePlaceholder
	}
	return ls.Key
}

// releaseAll stops renewing and releases every held lock, on a context that
// survives cancellation of ctx.
func (r *Runner) releaseAll(ctx context.Context, in *instance, held []*heldLock) {
	if len(held) == 0 {
		return
	}
	var wg sync.WaitGroup
	for _, h := range held {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.releaseHeld(ctx, in.addr, h)
		}()
	}
	wg.Wait()
}

// releaseHeld stops renewing h and releases it, on a context that survives
// cancellation of ctx; addr is who held it (a step instance, or lock.NAME).
func (r *Runner) releaseHeld(ctx context.Context, addr string, h *heldLock) {
	h.keeper.Stop()
	// A lease the keeper lost gets a short bound: its release would only
	// wait on a dead link.
	rctx, cancel := h.keeper.ReleaseContext(ctx)
	defer cancel()
	if err := r.opts.Locker.Release(rctx, h.lease.Key, h.lease.Token); err != nil {
		// After a loss the lock is already gone: nothing to warn about.
		if errors.Is(err, lock.ErrNotHeld) || h.keeper.Err() != nil {
			r.log.Debug("lock was no longer held at release", "step", addr, "lock", r.keyText(h.spec))
			return
		}
		r.log.Warn("release lock failed", "step", addr, "lock", r.keyText(h.spec), "error", err)
		return
	}
	r.emit(Event{Type: EventLockReleased, Step: addr, Lock: r.keyText(h.spec), Label: h.spec.Label})
}

// confirmHeld confirms every held lease right before a command starts
// (lock.Keeper.Confirm: at least a third of its TTL left, else one timed
// renewal), so that a command never starts on a grant that a pause or a slow
// link made void. A lease found gone is a lost lock.
func (r *Runner) confirmHeld(ctx context.Context, held []*heldLock) (Reason, error) {
	for _, h := range held {
		if err := h.keeper.Confirm(ctx, h.lease.TTL/3); err != nil {
			err = fmt.Errorf("lock %q not confirmed before the command: %w", r.keyText(h.spec), err)
			if errors.Is(err, lock.ErrNotHeld) {
				return ReasonLockLost, err
			}
			return ReasonUnavailable, err
		}
	}
	return ReasonNone, nil
}

// lostWatch closes ch when any lease of a step is lost.
type lostWatch struct {
	ch   chan struct{}
	quit chan struct{}
	once sync.Once
	mu   sync.Mutex
	e    error
	wg   sync.WaitGroup
}

func (w *lostWatch) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.e
}

func (w *lostWatch) stop() {
	close(w.quit)
	w.wg.Wait()
}

func (r *Runner) watchLost(in *instance, held []*heldLock) *lostWatch {
	w := &lostWatch{ch: make(chan struct{}), quit: make(chan struct{})}
	for _, h := range held {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			select {
			case <-h.keeper.Lost():
			case <-w.quit:
				return
			}
			err := h.keeper.Err()
			if err == nil {
				err = lock.ErrNotHeld
			}
			w.once.Do(func() {
				w.mu.Lock()
				w.e = fmt.Errorf("lock %q lost: %w", r.keyText(h.spec), err)
				w.mu.Unlock()
				close(w.ch)
			})
			if h.spec.Name != "" {
				return // the schedule reports a workflow-level lock's loss, once
			}
			r.log.Warn("lock lost", "step", in.addr, "lock", r.keyText(h.spec))
			r.emit(Event{Type: EventLockLost, Step: in.addr, Lock: r.keyText(h.spec), Label: h.spec.Label})
		}()
	}
	return w
}

// onceDone reports whether the once marker is set, and then marks res skipped.
func (r *Runner) onceDone(ctx context.Context, spec *instanceSpec, res *InstanceResult) bool {
	if spec.OnceKey == "" {
		return false
	}
	rec, err := r.opts.Locker.Once(ctx, spec.OnceKey)
	switch {
	case err != nil && ctx.Err() != nil:
		res.fail(ReasonInterrupted, fmt.Errorf("read once marker: %w", ctx.Err()))
	case err != nil:
		res.fail(ReasonUnavailable, fmt.Errorf("read once marker: %w", err))
	case rec != nil:
		res.skip(ReasonOnce, "done by "+describeOnce(rec))
	default:
		return false
	}
	return true
}

func describeOnce(rec *lock.OnceRecord) string {
	who := rec.Owner
	if who == "" {
		who = "another run"
	}
	if rec.Step != "" {
		who += " (" + rec.Step + ")"
	}
	return who + " at " + rec.At.Local().Format(time.RFC3339)
}

func (r *Runner) markOnce(ctx context.Context, in *instance, spec *instanceSpec, res *InstanceResult) {
	rec := lock.OnceRecord{Key: spec.OnceKey, Owner: r.opts.Holder.Owner, PID: r.opts.Holder.PID, RunID: r.opts.RunID,
		Step: in.addr, Workflow: r.opts.Holder.Workflow, Info: r.opts.Holder.Info}
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	if err := r.opts.Locker.MarkOnce(mctx, rec, spec.OnceTTL); err != nil {
		res.fail(ReasonUnavailable, fmt.Errorf("write once marker: %w", err))
	}
}
