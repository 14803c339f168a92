package lock

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// Acquire puts a ticket for req at the end of req.Key's queue and returns
// when the tickets ahead let it hold the lock (docs/locks.md, "Local
// backend"): waiters block in the kernel on the lock of a ticket ahead of
// them, never poll, and are served in arrival order (shared arrivals ahead
// of an exclusive one together). A waiter whose process dies leaves the
// queue with it. With req.Queue Newest the arrival supersedes every older
// waiter that queued with Newest too; req.MaxWaiters turns it away when
// that many wait already.
// Cancelling ctx or running out of req.Wait takes the ticket out of the
// queue and leaves nothing behind. Acquire is idempotent for a token this
// process holds. Errors wrap ErrUnavailable when the directory fails.
func (l *Local) Acquire(ctx context.Context, req Request) (*Lease, error) {
	if err := req.Normalize(); err != nil {
		return nil, fmt.Errorf("acquire: %w", err)
	}
	if lease, ok := l.heldLease(req); ok {
		return lease, nil
	}
	if l.isKilled() {
		return nil, unavailable(fmt.Sprintf("acquire %q", req.Key), errors.New("locker killed"))
	}
	if underTemp(l.dir) {
		l.holdDir.Do(func() { holdDir(l.dir) })
	}
	tf, err := l.enqueue(req)
	if err != nil {
		return nil, unavailable(fmt.Sprintf("acquire %q", req.Key), err)
	}
	w := &localWait{req: req, tf: tf, start: time.Now(), gone: map[int64]bool{}, watched: map[int64]bool{},
		left: make(chan leftEvent, 4), done: make(chan struct{})}
	lease, err := w.run(ctx)
	close(w.done)
	tf.mu.Lock()
	tf.finish = w.finish // run when the ticket leaves: off the hand-off path
	tf.mu.Unlock()
	if err != nil {
		tf.leave()
		return nil, err
	}
	return lease, nil
}

// localWait is one Acquire's wait in its key's queue.
type localWait struct {
	req     Request
	tf      *ticketFile
	start   time.Time
	gone    map[int64]bool // tickets known to have left the queue
	watched map[int64]bool // tickets a goroutine waits on
	left    chan leftEvent // a watched ticket left (or could not be watched)
	done    chan struct{}  // closed when the wait ends: watchers stop reporting
	queued  bool           // the request waits (OnWait was called)
	status  QueueStatus    // last status reported to OnQueue
	fences  []int64        // the holders last reported to OnWait
	told    bool           // OnWait and OnQueue were called once
	ahead   []ticket       // the tickets ahead at the last look
	inline  bool           // wait for one ticket in the calling goroutine
	finish  []func()       // what inline waits left to tidy up
	dl      *deadlockWatch // the deadlock checks while queued (Request.Holds)
	poll    *time.Ticker   // a newest-wins request without a doorbell (lookAgain)
}

// bellPoll is how often a newest-wins request that has no doorbell looks at
// the queue.
const bellPoll = time.Second

// noDoorbells is a test hook: newest-wins requests get no doorbell, as when
// mkfifo fails.
var noDoorbells = false

type leftEvent struct {
	seq int64
	err error
	// cleared: the ticket had held the lock as the only exclusive holder,
	// so every ticket ahead of it had left by then.
	cleared bool
}

func (w *localWait) run(ctx context.Context) (*Lease, error) {
	var timeout <-chan time.Time
	if w.req.Wait > 0 {
		t := time.NewTimer(w.req.Wait)
		defer t.Stop()
		timeout = t.C
	}
	if w.req.Queue == Newest {
		// Before the first look at the queue, so that an arrival after
		// this one either finds the doorbell or is seen by that look.
		bell := w.newBell()
		w.tf.mu.Lock()
		w.tf.bell = bell
		w.tf.mu.Unlock()
	}
	defer func() {
		if w.poll != nil {
			w.poll.Stop()
		}
	}()
	// A wait nothing can interrupt blocks in this goroutine, which saves
	// the hand-off from a watching goroutine (tens of microseconds).
	w.inline = ctx.Done() == nil && w.req.Wait == WaitForever && w.req.Queue != Newest && w.req.OnQueue == nil &&
		!takesPart(&w.req)
	defer func() { w.dl.end() }()
	for {
		lease, err, again := w.step()
		if !again {
			return lease, err
		}
		if w.dl == nil && w.queued {
			w.dl = watchDeadlocks(ctx, w.tf.l, &w.req, w.tf.l.log)
		}
		select {
		case ev := <-w.left:
			if lease, err, done := w.onLeft(ev); done {
				return lease, err
			}
		case <-w.tf.rang():
			w.renewBell()
		case <-w.lookAgain():
		case <-ctx.Done():
			return nil, fmt.Errorf("acquire %q: %w", w.req.Key, ctx.Err())
		case <-timeout:
			return nil, w.busy(true)
		case <-w.tf.killed:
			return nil, unavailable(fmt.Sprintf("acquire %q", w.req.Key), errors.New("locker killed"))
		case e := <-w.dl.C():
			return nil, e
		}
	}
}

// onLeft takes in that a watched ticket left; done when the wait ends
// with it (the lock is held, or the watch failed).
func (w *localWait) onLeft(ev leftEvent) (lease *Lease, err error, done bool) {
	if ev.err != nil {
		return nil, unavailable(fmt.Sprintf("acquire %q", w.req.Key), ev.err), true
	}
	w.gone[ev.seq] = true
	delete(w.watched, ev.seq)
	for _, t := range w.ahead {
		if ev.cleared && t.seq < ev.seq {
			w.gone[t.seq] = true
		}
	}
	if !w.mayHold() {
		return nil, nil, false
	}
	lease, err = w.grant()
	return lease, err, true
}

// mayHold says, without looking at the queue again, that the request holds
// the lock now: the tickets ahead of it at the last look, less those that
// left since, let it (no ticket can join ahead of it, so the true ones
// ahead are fewer still), and no newer arrival rang to supersede it.
func (w *localWait) mayHold() bool {
	select {
	case <-w.tf.rang():
		return false
	default:
	}
	ahead := make([]ticket, 0, len(w.ahead))
	for _, t := range w.ahead {
		if !w.gone[t.seq] {
			ahead = append(ahead, t)
		}
	}
	return canHold(w.tf.t, ahead)
}

// step looks at the queue once: it returns the lease or a final error, or
// again when the request has to wait (and watches what it waits for).
func (w *localWait) step() (lease *Lease, err error, again bool) {
	op := fmt.Sprintf("acquire %q", w.req.Key)
	ts, err := scanQueue(w.tf.dir, w.gone)
	if err != nil {
		return nil, unavailable(op, err), false
	}
	i := slices.IndexFunc(ts, func(t ticket) bool { return t.seq == w.tf.t.seq })
	if i < 0 {
		return nil, unavailable(op, errors.New("the ticket left the queue: the lock directory was removed or replaced")), false
	}
	ahead := ts[:i]
	w.ahead = slices.Clone(ahead)
	hold := canHold(w.tf.t, ahead)
	if w.req.Queue == Newest && (!hold || w.queued) {
		if by, ok := w.supersededBy(ts[i+1:]); ok {
			return nil, &SupersededError{Key: w.req.Key, By: by}, false
		}
	}
	if hold {
		lease, err := w.grant()
		return lease, err, false
	}
	if !w.queued {
		if err := w.enterQueue(ts, i); err != nil {
			return nil, err, false
		}
	}
	w.report(ts, i)
	targets := blockers(w.tf.t, ahead)
	if w.req.OnQueue != nil {
		targets = append(targets, ahead[0]) // the head's leaving moves everyone up
	}
	for _, b := range targets {
		if !w.watched[b.seq] {
			w.watched[b.seq] = true
			if w.inline && len(targets) == 1 {
				// Nothing can interrupt the wait: block right here, and
				// tidy up after the lock is taken.
				ev, finish := w.waitLeft(b)
				w.left <- ev
				w.finish = append(w.finish, finish)
			} else {
				go w.watch(b)
			}
		}
	}
	return nil, nil, true
}

// enterQueue runs once, when the request finds it must wait: a request
// that does not wait, or finds the queue full, leaves; a newest-wins
// arrival wakes the older newest-wins waiters it supersedes (they do not
// count towards MaxWaiters).
func (w *localWait) enterQueue(ts []ticket, i int) error {
	if w.req.Wait == 0 {
		return w.busy(false)
	}
	if w.req.MaxWaiters > 0 {
		if n := w.waitersAhead(ts[:i]); n >= w.req.MaxWaiters {
			be := w.busy(false)
			be.QueueFull, be.Waiters = true, n
			return be
		}
	}
	if w.req.Queue == Newest {
		// Marked queued before ringing, so that the older waiters' look
		// counts it (supersededBy).
		if err := w.tf.markQueued(); err != nil {
			return unavailable(fmt.Sprintf("acquire %q", w.req.Key), err)
		}
		isHolder := holding(ts[:i])
		for j, t := range ts[:i] {
			if !isHolder[j] && t.queue == Newest {
				ring(filepath.Join(w.tf.dir, bellName(t.seq)))
			}
		}
	}
	w.queued = true
	if err := w.tf.write(time.Time{}); err != nil {
		return unavailable(fmt.Sprintf("acquire %q", w.req.Key), err)
	}
	return nil
}

// waitersAhead counts the live tickets ahead that wait. Tickets presumed
// live are probed only when they would fill the queue, so that a dead
// waiter's file never turns an arrival away.
func (w *localWait) waitersAhead(ahead []ticket) int {
	isHolder := holding(ahead)
	var waiting []ticket
	for j, t := range ahead {
		if !isHolder[j] && (w.req.Queue != Newest || t.queue != Newest) {
			waiting = append(waiting, t)
		}
	}
	if len(waiting) < w.req.MaxWaiters {
		return len(waiting)
	}
	w.tf.l.stage("probe")
	n := 0
	for _, t := range waiting {
		if live(w.tf.dir, t) {
			n++
		} else {
			w.gone[t.seq] = true
		}
	}
	return n
}

// supersededBy finds the oldest live newest-wins ticket behind this
// newest-wins waiter that queued (FIFO waiters keep their place; an
// arrival that only tried once, or found the queue full, never queued).
func (w *localWait) supersededBy(behind []ticket) (Holder, bool) {
	for _, t := range behind {
		if t.queue != Newest {
			continue
		}
		m, ok := readTicket(filepath.Join(w.tf.dir, t.name))
		if !ok || !live(w.tf.dir, t) {
			// Maybe still in enqueue, which creates, locks and writes it
			// under the counter's lock: look again once that is free.
			w.tf.l.nextFence(w.req.Key, nil)
			if !live(w.tf.dir, t) {
				w.gone[t.seq] = true
				continue
			}
			m, ok = readTicket(filepath.Join(w.tf.dir, t.name))
		}
		if !ok || !m.Queued {
			// Not (yet) queued: if it does queue, it rings this waiter's
			// doorbell after marking itself, and the next look sees it.
			continue
		}
		by := m.Holder
		by.Fence, by.TTL = 0, 0
		return by, true
	}
	return Holder{}, false
}

// rang is the doorbell's channel, nil without a doorbell.
func (tf *ticketFile) rang() <-chan struct{} {
	tf.mu.Lock()
	defer tf.mu.Unlock()
	if tf.bell == nil {
		return nil
	}
	return tf.bell.rang
}

// renewBell replaces a doorbell that rang: the next look at the queue
// decides; a later arrival must find a fresh one.
func (w *localWait) renewBell() {
	w.tf.mu.Lock()
	defer w.tf.mu.Unlock()
	if w.tf.bell != nil {
		w.tf.bell.close()
		w.tf.bell = w.newBell()
	}
}

// newBell makes the request's doorbell; nil when it cannot (mkfifo failed:
// a file system without FIFOs, say), and the request then looks at the
// queue every bellPoll instead (lookAgain).
func (w *localWait) newBell() *doorbell {
	var bell *doorbell
	err := errors.New("doorbells off (test)")
	if !noDoorbells {
		bell, err = newDoorbell(filepath.Join(w.tf.dir, bellName(w.tf.t.seq)))
	}
	if err != nil {
		w.tf.l.log.Debug("no doorbell for a newest-wins wait: looking at the queue every second instead",
			"key", w.req.Key, "error", err)
	}
	return bell
}

// lookAgain ticks every bellPoll for a newest-wins request without a
// doorbell, or with one that not every arrival can ring (Windows:
// bellsReachEveryone), so that it learns within that time that a newer
// arrival superseded it (nil otherwise: the doorbell says so at once).
func (w *localWait) lookAgain() <-chan time.Time {
	if w.req.Queue != Newest || w.tf.rang() != nil && bellsReachEveryone {
		return nil
	}
	if w.poll == nil {
		w.poll = time.NewTicker(bellPoll)
	}
	return w.poll.C
}

// watch waits, blocked in the kernel, until ticket t leaves the queue,
// and tells the wait.
func (w *localWait) watch(t ticket) {
	ev, finish := w.waitLeft(t)
	select {
	case w.left <- ev:
	case <-w.done:
	}
	finish()
}

// waitLeft waits until ticket t leaves the queue: its owner released it
// (the file is gone) or died. finish closes the file, and removes it if
// its owner died.
func (w *localWait) waitLeft(t ticket) (ev leftEvent, finish func()) {
	path := filepath.Join(w.tf.dir, t.name)
	f, err := openLocked(path)
	if errors.Is(err, fs.ErrNotExist) && !t.revoked {
		path += revokedSuffix
		f, err = openLocked(path)
	}
	if err == nil {
		err = f.waitShared(w.done)
	}
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	ev = leftEvent{seq: t.seq, err: err}
	if err == nil && f != noFile && t.mode == Exclusive && t.limit == 1 {
		var b [acqDigits]byte
		n, _ := f.readAt(b[:], 0)
		ns, perr := strconv.ParseInt(string(b[:n]), 10, 64)
		ev.cleared = n == acqDigits && perr == nil && ns > 0
	}
	return ev, func() {
		if f != noFile {
			if err == nil {
				reap(path, f)
			}
			f.close()
		}
	}
}

// reap removes the file of a ticket whose owner died, if path still names
// the file f has open.
func reap(path string, f osFile) {
	if pid, err := pathID(path); err == nil {
		if id, err := f.id(); err == nil && id == pid {
			removeFile(path)
		}
	}
}

// grant makes the ticket the holder's: its file records the time.
func (w *localWait) grant() (*Lease, error) {
	now := time.Now()
	if err := w.tf.write(now); err != nil {
		return nil, unavailable(fmt.Sprintf("acquire %q", w.req.Key), err)
	}
	lease := Lease{Key: w.req.Key, Token: w.req.Token, Fence: w.tf.t.seq, TTL: w.req.TTL, Limit: w.req.Limit, Mode: w.req.Mode, Sent: now}
	w.tf.lease = lease
	w.tf.l.hold(w.req.Token, w.tf)
	return &lease, nil
}
