package runner

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/lockstep-dev/lockstep/config"
	"github.com/lockstep-dev/lockstep/lock"
)

// acquireLock starts acquiring w in a goroutine that posts the outcome to
// the loop (lockEvent).
func (s *schedule) acquireLock(ctx context.Context, w *wlock) {
	actx, cancel := context.WithCancel(ctx)
	w.state, w.cancel = wlAcquiring, cancel
	s.wl.acquiring++
	holder := s.r.opts.Holder
	holder.RunID, holder.Step = s.r.opts.RunID, w.addr()
	req := w.spec.Request(holder)
	rep := &waitEvents{r: s.r, step: w.addr(), ls: w.spec}
	req.OnWait, req.OnQueue, req.Holds = rep.onWait, rep.onQueue, s.heldKeys()
	s.r.log.Debug("acquiring a workflow-level lock", "lock", w.addr(), "holding", req.Holds)
	go func() {
		h, err := s.r.acquireConfirmed(actx, w.addr(), w.spec, req)
		s.wl.events <- wlEvent{w: w, held: h, err: err}
	}()
}

// lockEvent handles what a workflow-level lock's goroutine posted.
func (s *schedule) lockEvent(ctx context.Context, ev wlEvent) {
	if ev.lost {
		s.lockLost(ev.w)
		return
	}
	w := ev.w
	s.wl.acquiring--
	w.cancel()
	s.unpark()
	switch {
	case w.state != wlAcquiring: // given up meanwhile: nothing of its scope starts any more
		if ev.held != nil {
			s.dropLease(ctx, w, ev.held)
		}
	case ev.err == nil:
		s.hold(w, ev.held)
	default:
		s.refuse(ctx, w, ev.err)
	}
}

// hold keeps a newly acquired lock: renewed, published as lock.NAME to the
// steps started from now on, watched for a loss.
func (s *schedule) hold(w *wlock, h *heldLock) {
	lease, keeper := h.lease, h.keeper
	w.held, w.state, w.quit = h, wlHeld, make(chan struct{})
	// A new map: instances already running keep reading the one they got.
	locks := maps.Clone(s.scope.Locks)
	locks[w.spec.Name] = config.LockValue(w.spec.Key, lease.Fence)
	s.scope.Locks = locks
	s.r.emit(Event{Type: EventLockAcquired, Step: w.addr(), Lock: s.r.keyText(w.spec), Fence: lease.Fence,
		Limit: w.spec.Limit})
	go s.watchLoss(w, keeper, w.quit)
}

// watchLoss posts a loss of w to the loop, unless w is released first.
func (s *schedule) watchLoss(w *wlock, k *lock.Keeper, quit <-chan struct{}) {
	select {
	case <-k.Lost():
	case <-quit:
		return
	}
	select {
	case s.wl.events <- wlEvent{w: w, lost: true}:
	case <-quit:
	}
}

// lockLost records the loss of a held lock. The running instances of its
// scope stop by themselves (they watch it); the ones not started yet fail as
// lock-lost, and the run ends as lock-lost (exit 4) even when none ran. The
// lock is released once nothing of its scope runs.
func (s *schedule) lockLost(w *wlock) {
	if w.state != wlHeld || w.outcome != nil {
		return
	}
	cause := w.held.keeper.Err()
	if cause == nil {
		cause = lock.ErrNotHeld
	}
	key := s.r.keyText(w.spec)
	w.outcome = &wlOutcome{status: StatusFailed, reason: ReasonLockLost, key: key,
		err: fmt.Errorf("lock %q (%s) was lost before the step started: %w", key, w.addr(), cause)}
	s.wl.lost = true
	s.r.log.Warn("lock lost", "lock", w.addr(), "key", key)
	s.r.emit(Event{Type: EventLockLost, Step: w.addr(), Lock: key})
	s.doom(w.steps...)
	if !s.r.opts.KeepGoing {
		s.stop(ReasonFailFast)
	}
}

// refuse records an acquisition that ended without a lease. Busy with
// on_busy "skip" and superseded skip the scope and its dependents; busy
// otherwise fails the scope's steps as lock-busy (exit 3), an unreachable
// backend as unavailable; a cancelled run stops.
func (s *schedule) refuse(ctx context.Context, w *wlock, err error) {
	w.state = wlEnded
	key := s.r.keyText(w.spec)
	o := &wlOutcome{status: StatusFailed, key: key}
	var busy *lock.BusyError
	var sup *lock.SupersededError
	var dl *lock.DeadlockError
	switch {
	case errors.As(err, &dl):
		o.reason, o.err = ReasonDeadlock, dl
	case errors.As(err, &sup):
		o.status, o.reason = StatusSkipped, ReasonSuperseded
		o.message = supersededBy(fmt.Sprintf("%q (%s)", key, w.addr()), sup.By)
	case errors.As(err, &busy):
		o.busy = redactBusy(busy, key)
		o.reason, o.err = ReasonLockBusy, o.busy
		if w.spec.OnBusy == "skip" {
			o.status, o.err = StatusSkipped, nil
			o.message = fmt.Sprintf("lock %q (%s) is busy%s", key, w.addr(), heldBy(busy.Holders))
		}
	case ctx.Err() != nil:
		s.stop(ReasonInterrupted)
		return
	default:
		o.reason, o.err = ReasonUnavailable, fmt.Errorf("acquire lock %q (%s): %w", key, w.addr(), err)
	}
	w.outcome = o
	if o.status == StatusSkipped {
		s.skipAfter(w)
	}
	s.doom(w.steps...)
}

// supersededBy says that a waiter in the queue of lock (as shown) was
// replaced by a newer one.
func supersededBy(lock string, by lock.Holder) string {
	return "superseded in the queue of " + lock + " by " + DescribeHolder(by, time.Now())
}

// dropLease releases a lock that was acquired after it was given up.
func (s *schedule) dropLease(ctx context.Context, w *wlock, h *heldLock) {
	s.wl.releases.Add(1)
	go func() {
		defer s.wl.releases.Done()
		s.r.release(ctx, w.addr(), h)
	}()
}
