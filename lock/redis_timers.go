package lock

import (
	"math/rand/v2"
	"time"
)

// waitTimers are a waiter's clocks: the slow safety re-check, the first in
// line's wake-up at the end of a lease, the watch (position updates for
// OnQueue, and the second in line's look at the first when only the queue
// keeps it out: every few seconds while the queue moves, slower while it
// does not) and the wait's deadline.
type waitTimers struct {
	recheck, wake, watcher *time.Timer
	every                  time.Duration // recheck period
	watchEvery             time.Duration // current watch period
	deadline               <-chan time.Time
	dl                     *time.Timer
}

const queueWatchEvery = 3 * time.Second

func (t *waitTimers) init(a *waiting) {
	t.every = a.r.recheck
	t.recheck = time.NewTimer(jitter(t.every))
	t.wake = time.NewTimer(time.Hour)
	t.wake.Stop()
	t.watcher = time.NewTimer(time.Hour)
	t.watcher.Stop()
	t.watchEvery = queueWatchEvery
	if !a.deadline.IsZero() {
		t.dl = time.NewTimer(time.Until(a.deadline))
		t.deadline = t.dl.C
	}
}

func jitter(d time.Duration) time.Duration {
	return d - d/10 + time.Duration(rand.Int64N(int64(d)/5+1))
}

func (t *waitTimers) wakeIn(d time.Duration) { t.wake.Reset(d) }

func (t *waitTimers) rechecked() { t.recheck.Reset(jitter(t.every)) }

// watch schedules the next watch when on: soon after a move, then slower.
func (t *waitTimers) watch(on, moved bool) {
	if !on {
		t.watcher.Stop()
		return
	}
	if moved {
		t.watchEvery = queueWatchEvery
	} else {
		t.watchEvery = min(2*t.watchEvery, t.every)
	}
	t.watcher.Reset(t.watchEvery)
}

func (t *waitTimers) stop() {
	for _, x := range []*time.Timer{t.recheck, t.wake, t.watcher, t.dl} {
		if x != nil {
			x.Stop()
		}
	}
}
