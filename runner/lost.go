package runner

import (
	"errors"
	"fmt"
	"sync"

	"github.com/lockstep-dev/lockstep/lock"
)

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

// watchLost watches every held lease of the instance; the first loss closes
// the watch's ch and emits lock_lost with the keeper's reason.
func (sr *stepRun) watchLost() *lostWatch {
	w := &lostWatch{ch: make(chan struct{}), quit: make(chan struct{})}
	for _, h := range sr.in.withWorkflowLocks(sr.held) {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			select {
			case <-h.keeper.Lost():
			case <-w.quit:
				return
			}
			sr.lostLease(w, h)
		}()
	}
	return w
}

func (sr *stepRun) lostLease(w *lostWatch, h *heldLock) {
	cause := h.keeper.Err()
	if cause == nil {
		cause = lock.ErrNotHeld
	}
	shown := sr.r.keyText(h.spec)
	err := fmt.Errorf("lock %q lost: %w", shown, cause)
	w.once.Do(func() {
		w.mu.Lock()
		w.e = err
		w.mu.Unlock()
		close(w.ch)
	})
	if h.spec.Name != "" {
		return // a workflow-level lock: the schedule reports its loss, once
	}
	sr.r.log.Warn("lock lost", "step", sr.in.addr, "lock", shown, "error", cause)
	ev := Event{Type: EventLockLost, Step: sr.in.addr, Lock: shown, Label: h.spec.Label}
	if errors.Is(cause, lock.ErrNotHeld) {
		// Not a renewal failure (the CLI names those from the
		// lock_renew_failed events before): released, expired or taken.
		ev.Message = cause.Error()
	}
	sr.r.emit(ev)
}
