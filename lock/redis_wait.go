package lock

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// waiting is one Acquire: its request, its place in the queue and what it
// learnt of it.
type waiting struct {
	r         *Redis
	k         redisKeys
	req       Request
	info      string // holder json
	ttl, spec string // acquire.lua's ARGV 2 and 3
	generated bool
	start     time.Time
	deadline  time.Time // zero: no limit

	w     *waitChan // the channel registration while queued
	entry string    // the queue entry while queued
	// sent is the send time of the latest request whose reply said the
	// request was still waiting: any grant happened after it reached the
	// server, so a granted lease lasts at least until sent + TTL.
	sent   time.Time
	pos    int
	length int
	timers waitTimers
	dl     *deadlockWatch // the deadlock checks while queued (Request.Holds)
}

// errRequeue: the grant proved void (its lease was gone when confirmed),
// or the entry was dropped; the request queues again.
var errRequeue = errors.New("queue again")

// use registers the request under w and builds its queue entry.
func (a *waiting) use(w *waitChan) {
	a.w = w
	mode := modeLetter(a.req.Mode)
	if a.req.Queue == Newest { // upper case marks a newest-wins waiter
		mode = strings.ToUpper(mode)
	}
	a.entry = a.r.sub.bid + ":" + w.wid + "|" + a.req.Token + "|" + a.ttl + "|" + strconv.Itoa(a.req.Limit) + "|" + mode + "|" +
		strconv.FormatInt(time.Now().UnixMilli(), 10) + "|" + a.info
}

// wait queues the request (subscribing first when needed) and sleeps until
// a grant, a supersede, the deadline or ctx's end.
func (a *waiting) wait(ctx context.Context, rep acquireReply, sent time.Time) (*Lease, error) {
	a.timers.init(a)
	defer a.timers.stop()
	if a.w == nil {
		lease, err := a.queue(ctx)
		if lease != nil || err != nil {
			return a.finish(ctx, lease, err)
		}
	} else {
		a.waitingReply(rep, sent)
		a.onWait(rep)
	}
	a.dl = watchDeadlocks(ctx, a.r, &a.req, a.r.log)
	defer a.dl.end()
	for {
		lease, err := a.next(ctx)
		if lease != nil || err != nil {
			return a.finish(ctx, lease, err)
		}
	}
}

// finish turns a void grant into a new place in the queue.
func (a *waiting) finish(ctx context.Context, lease *Lease, err error) (*Lease, error) {
	for errors.Is(err, errRequeue) {
		lease, err = a.queue(ctx)
		for lease == nil && err == nil {
			lease, err = a.next(ctx)
		}
	}
	return lease, err
}

// queue (re)joins the queue under a new entry: subscribe (bounded by the
// wait's deadline), then acquire.lua with the entry.
func (a *waiting) queue(ctx context.Context) (*Lease, error) {
	if a.w != nil {
		a.r.sub.done(a.w, a.req.Token, true)
		a.w = nil
	}
	w := a.r.sub.warm(a.k)
	if w == nil {
		sctx, cancel := a.bounded(ctx)
		var err error
		w, err = a.r.sub.join(sctx, a.k)
		cancel()
		if err != nil {
			return nil, a.subscribeErr(ctx, err)
		}
	}
	a.use(w)
	rep, sent, err := a.attempt(ctx)
	switch {
	case err != nil:
		return nil, err
	case rep.held:
		return a.direct(rep, sent), nil
	case rep.pos == -1:
		a.r.sub.done(a.w, a.req.Token, true)
		a.w = nil
		return nil, &BusyError{Key: a.req.Key, Holders: rep.holders, QueueFull: true, Waiters: rep.length}
	}
	a.waitingReply(rep, sent)
	a.onWait(rep)
	return nil, nil
}

// onWait tells the caller the request waits (once it is queued), with the
// holders when the reply carried them.
func (a *waiting) onWait(rep acquireReply) {
	if a.req.OnWait != nil {
		a.req.OnWait(rep.holders)
	}
}

// bounded is ctx limited by the wait's deadline.
func (a *waiting) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if a.deadline.IsZero() {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, a.deadline)
}

func (a *waiting) subscribeErr(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("acquire %q: %w", a.req.Key, ctx.Err())
	case !a.deadline.IsZero() && !time.Now().Before(a.deadline):
		return a.timeout(ctx)
	}
	return backendErr(ctx, fmt.Sprintf("acquire %q: subscribe", a.req.Key), err)
}

// waitingReply takes in a reply that said "waiting".
func (a *waiting) waitingReply(rep acquireReply, sent time.Time) {
	a.sent = sent
	moved := rep.pos != a.pos || (rep.length >= 0 && rep.length != a.length)
	a.pos = rep.pos
	if rep.length >= 0 {
		a.length = rep.length
	}
	if rep.pos == 1 && rep.pttl >= 0 {
		a.timers.wakeIn(rep.pttl + time.Millisecond)
	}
	// Second in line and kept out only by the first (which may be dead:
	// shared holders would let this one in): look at it every few seconds.
	a.timers.watch(a.req.OnQueue != nil || rep.pos == 2 && rep.fits, moved)
	if moved && a.req.OnQueue != nil {
		var hs []Holder
		if rep.info {
			hs = rep.holders
		}
		a.req.OnQueue(QueueStatus{Position: a.pos, Length: a.length, Holders: hs})
	}
}

// next waits for one event and handles it; a nil lease and error mean
// "still waiting".
func (a *waiting) next(ctx context.Context) (*Lease, error) {
	select {
	case msg := <-a.w.final:
		return a.final(ctx, msg)
	case msg := <-a.w.head:
		a.head(msg)
		return nil, nil
	case <-a.w.poke:
		return a.recheck(ctx, false)
	case err := <-a.w.fail:
		return a.failed(ctx, err)
	case <-a.timers.recheck.C:
		return a.recheck(ctx, false)
	case <-a.timers.wake.C:
		return a.recheck(ctx, false)
	case <-a.timers.watcher.C:
		return a.recheck(ctx, a.req.OnQueue != nil)
	case <-a.timers.deadline:
		return nil, a.timeout(ctx)
	case e := <-a.dl.C():
		a.giveUp(ctx)
		return nil, e
	case <-ctx.Done():
		a.giveUp(ctx)
		return nil, fmt.Errorf("acquire %q: %w", a.req.Key, ctx.Err())
	}
}

// final handles "g|wid|fence" (granted) and "s|wid|ms|json" (superseded).
func (a *waiting) final(ctx context.Context, msg string) (*Lease, error) {
	f := strings.SplitN(msg, "|", 4)
	a.r.sub.done(a.w, a.req.Token, true)
	a.w = nil
	if f[0] == "s" {
		return nil, a.superseded(f)
	}
	fence, err := strconv.ParseInt(f[len(f)-1], 10, 64)
	if len(f) != 3 || err != nil || fence <= 0 {
		return nil, fmt.Errorf("acquire %q: %w: %w: grant %q", a.req.Key, ErrUnavailable, errBadReply, msg)
	}
	return a.confirm(ctx, a.lease(fence, a.sent))
}

func (a *waiting) superseded(f []string) error {
	e := &SupersededError{Key: a.req.Key}
	if len(f) == 4 {
		if err := jsonUnmarshal(f[3], &e.By); err != nil {
			a.r.log.Debug("unreadable superseding holder", "key", a.req.Key, "error", err)
		}
		if ms, err := strconv.ParseInt(f[2], 10, 64); err == nil {
			e.By.Since = backendTime(time.UnixMilli(ms))
		}
	}
	return e
}

// confirm returns a pushed grant, after one timed renewal when less than
// half its TTL of validity is left (a long wait, a pause, a slow link): the
// renewal's send time then anchors the lease. A grant found void queues the
// request again; one the backend cannot confirm is released and the error
// returned.
func (a *waiting) confirm(ctx context.Context, l *Lease) (*Lease, error) {
	margin := l.TTL / 10
	if time.Until(l.Sent.Add(l.TTL-margin)) >= l.TTL/2 {
		return l, nil
	}
	sent := time.Now()
	err := a.r.Renew(ctx, l.Key, l.Token, l.TTL)
	switch {
	case err == nil:
		l.Sent = sent
		return l, nil
	case errors.Is(err, ErrNotHeld):
		a.r.log.Debug("a grant was void when confirmed; queueing again", "key", l.Key)
		return nil, errRequeue
	}
	cctx, cancel := CleanupContext(ctx)
	defer cancel()
	_ = a.r.Release(cctx, l.Key, l.Token)
	return nil, fmt.Errorf("acquire %q: confirm the grant: %w", l.Key, err)
}

// head handles "h|wid|pttl": first in line, wake at the first lease's end.
func (a *waiting) head(msg string) {
	f := strings.Split(msg, "|")
	pttl := int64(-1)
	if len(f) == 3 {
		pttl, _ = strconv.ParseInt(f[2], 10, 64)
	}
	a.waitingReply(acquireReply{pos: 1, length: -1, pttl: pttlOf(pttl)}, a.sent)
}

// failed handles a subscription that failed (err) or was dropped (nil: the
// slot moved): the request leaves and queues again, or returns the error.
func (a *waiting) failed(ctx context.Context, err error) (*Lease, error) {
	if err == nil {
		a.giveUp(ctx)
		return nil, errRequeue
	}
	a.giveUp(ctx)
	return nil, backendErr(ctx, fmt.Sprintf("acquire %q: subscription", a.req.Key), err)
}

// giveUp leaves the queue (releasing a grant that raced with it).
func (a *waiting) giveUp(ctx context.Context) []Holder {
	if a.w == nil {
		return nil
	}
	hs, left := a.r.leave(ctx, a.k, a.entry, a.req.Token)
	a.r.sub.done(a.w, a.req.Token, left)
	a.w = nil
	return hs
}

func (a *waiting) timeout(ctx context.Context) error {
	hs := a.giveUp(ctx)
	return &BusyError{Key: a.req.Key, Holders: hs, Waited: time.Since(a.start), Timeout: true, Waiters: max(a.length-1, 0)}
}

// recheck runs poke.lua: a grant whose message was lost, the first in
// line's wake-up, a position update.
func (a *waiting) recheck(ctx context.Context, position bool) (*Lease, error) {
	a.timers.rechecked()
	flags := ""
	if position {
		flags = "l"
	}
	sent := time.Now()
	op := fmt.Sprintf("acquire %q", a.req.Key)
	res, err := a.r.run(ctx, scriptPoke, a.k, a.req.Token, a.entry, flags)
	if err != nil {
		err = backendErr(ctx, op, err)
		a.giveUp(ctx)
		return nil, err
	}
	rep, err := decodePoke(op, res)
	switch {
	case err != nil:
		a.giveUp(ctx)
		return nil, err
	case rep.held:
		a.r.sub.done(a.w, a.req.Token, true)
		a.w = nil
		return a.confirm(ctx, a.lease(rep.fence, a.sent))
	case rep.gone && a.req.Queue == Newest:
		a.r.sub.done(a.w, a.req.Token, true)
		a.w = nil
		return nil, &SupersededError{Key: a.req.Key}
	case rep.gone:
		return nil, errRequeue
	}
	a.waitingReply(rep, sent)
	return nil, nil
}

// decodePoke reads {1, fence}, {0, pos, len, pttl, fits} or {-1}.
func decodePoke(op string, res any) (acquireReply, error) {
	vals, ok := res.([]any)
	if !ok || len(vals) == 0 {
		return acquireReply{}, badReply(op, res)
	}
	kind, _ := replyInt(vals[0])
	switch {
	case kind == -1:
		return acquireReply{gone: true}, nil
	case kind == 1 && len(vals) >= 2:
		fence, ok := replyInt(vals[1])
		if ok && fence > 0 {
			return acquireReply{held: true, fence: fence}, nil
		}
	case kind == 0:
		if _, ns, ok := replyInts(res, 5); ok {
			return acquireReply{pos: int(ns[1]), length: int(ns[2]), pttl: pttlOf(ns[3]), fits: ns[4] == 1}, nil
		}
	}
	return acquireReply{}, badReply(op, res)
}
