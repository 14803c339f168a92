package runner

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
)

// minTroubleEvery is the shortest gap between two lock_renew_failed events
// of one lock: a keeper reports every failed retry (ttl/30 apart).
const minTroubleEvery = time.Second

// keepOptions returns the keeper options of lock ls of step instance addr:
// the runner's logger, and renewal trouble reported as events
// (EventLockRenewFailed, EventLockRenewRecovered; troubleReporter).
func (r *Runner) keepOptions(addr string, ls lockSpec) *lock.KeepOptions {
	t := &troubleReporter{r: r, addr: addr, ls: ls, every: max(ls.TTL/3, minTroubleEvery)}
	return &lock.KeepOptions{Logger: r.log, OnTrouble: t.report}
}

// troubleReporter turns a keeper's trouble reports into events: the first
// failed renewal at once, then at most one every renewal interval (ttl/3,
// at least minTroubleEvery) while renewals keep failing, and one recovery
// once a renewal succeeds after a reported failure. The keeper calls report
// from its own goroutine, which must never wait on the event consumer (a
// blocked stderr must not cost the lease): events are queued and emitted in
// order by a goroutine that runs while the queue is not empty.
type troubleReporter struct {
	r     *Runner
	addr  string
	ls    lockSpec
	every time.Duration

	// Only the keeper's goroutine touches these.
	told     bool      // a failure was reported, its recovery not yet
	lastTold time.Time // when the last failure was reported

	mu       sync.Mutex
	queue    []Event
	draining bool
}

// report is the keeper's OnTrouble.
func (t *troubleReporter) report(tr lock.Trouble) {
	now := time.Now()
	var ev Event
	switch {
	case tr.Recovered && t.told:
		t.told = false
		ev = t.event(EventLockRenewRecovered, now)
	case tr.Recovered, t.told && now.Sub(t.lastTold) < t.every:
		return
	default:
		t.told, t.lastTold = true, now
		ev = t.event(EventLockRenewFailed, now)
		ev.Unconfirmed, ev.Left, ev.Err = tr.Since, tr.Left, t.shownErr(tr.Err)
	}
	t.mu.Lock()
	t.queue = append(t.queue, ev)
	start := !t.draining
	t.draining = true
	t.mu.Unlock()
	if start {
		t.r.troubles.Add(1) // before the keeper's Stop returns: see Runner.troubles
		go t.drain()
	}
}

func (t *troubleReporter) event(typ EventType, now time.Time) Event {
	return Event{Type: typ, Time: now, Step: t.addr, Lock: t.r.keyText(t.ls), Label: t.ls.Label}
}

// testHookTroubleDrain, when set by a test, runs as a drain goroutine starts.
var testHookTroubleDrain func()

// drain emits the queued events in order and ends when the queue is empty.
func (t *troubleReporter) drain() {
	if testHookTroubleDrain != nil {
		testHookTroubleDrain()
	}
	for {
		t.mu.Lock()
		if len(t.queue) == 0 {
			t.draining = false
			t.mu.Unlock()
			t.r.troubles.Done()
			return
		}
		ev := t.queue[0]
		t.queue = t.queue[1:]
		t.mu.Unlock()
		t.r.emit(ev)
	}
}

// shownErr is a renewal error as it may be shown: a key shown as
// SensitivePlaceholder is replaced in its text too.
func (t *troubleReporter) shownErr(err error) error {
	if err == nil || !t.ls.Sensitive {
		return err
	}
	msg := strings.ReplaceAll(err.Error(), strconv.Quote(t.ls.Key), strconv.Quote(SensitivePlaceholder))
	return errors.New(strings.ReplaceAll(msg, t.ls.Key, SensitivePlaceholder))
}
