package lock

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// acquireReply is the decoded reply of acquire.lua or poke.lua.
type acquireReply struct {
	held    bool
	fence   int64
	x       bool          // held: the record is the queue-granted exclusive one (field 'x')
	pos     int           // waiting: 1 = first in line; 0 not queued; -1 queue full
	length  int           // waiters queued (-1 unknown)
	pttl    time.Duration // first in line: time until the first lease ends (-1 unknown)
	gone    bool          // poke: no longer queued
	fits    bool          // waiting: only the queue keeps it waiting
	holders []Holder
	info    bool // holders were read
}

// Acquire takes req.Key. It first tries once; when the lock is busy and req
// waits, it joins the lock's queue and sleeps until a release hands it the
// lock (docs/locks.md, "Waiting"). It returns a *BusyError when the lock
// stays busy or the queue is full, a *SupersededError when a newer waiter
// of a Newest queue replaced it, ctx's error when ctx ends (leaving nothing
// behind), and an error wrapping ErrUnavailable on backend failure or
// refusal (a subscription refused by ACL included). Lease.Sent is the send
// time of the request that proves the lease: the acquire call itself, or
// for a pushed grant the last request whose reply said the waiter was still
// waiting; a grant whose validity left is under half its TTL is confirmed
// by one renewal first.
func (r *Redis) Acquire(ctx context.Context, req Request) (*Lease, error) {
	generated := req.Token == "" // nobody else knows it: nobody could retry with it
	if err := req.Normalize(); err != nil {
		return nil, fmt.Errorf("acquire: %w", err)
	}
	if strings.Contains(req.Token, "|") {
		return nil, errors.New("acquire: token contains '|'")
	}
	info, err := r.holderInfo(req.Holder)
	if err != nil {
		return nil, fmt.Errorf("acquire %q: %w", req.Key, err)
	}
	a := &waiting{r: r, k: r.lockKeys(req.Key), req: req, info: info, generated: generated,
		start: time.Now(), ttl: strconv.FormatInt(req.TTL.Milliseconds(), 10),
		spec: strconv.Itoa(req.Limit) + "|" + modeLetter(req.Mode)}
	if req.Wait > 0 {
		a.deadline = a.start.Add(req.Wait)
	}
	return a.run(ctx)
}

// run makes the first attempt: queued at once when this backend is
// subscribed to the lock's channel already, else unqueued.
func (a *waiting) run(ctx context.Context) (*Lease, error) {
	if a.req.Wait != 0 {
		if w := a.r.sub.warm(a.k); w != nil {
			a.use(w)
		}
	}
	queued := a.w != nil
	rep, sent, err := a.attempt(ctx)
	if err != nil {
		if !queued && a.generated && ctx.Err() != nil {
			// ctx ended while the script may have run: a lease under a
			// token no caller knows would block the key for a whole TTL.
			a.r.leave(ctx, a.k, "", a.req.Token)
		}
		return nil, err
	}
	if rep.held {
		return a.direct(rep, sent), nil
	}
	if rep.pos == -1 {
		return nil, &BusyError{Key: a.req.Key, Holders: rep.holders, QueueFull: true, Waiters: rep.length}
	}
	if a.req.Wait == 0 {
		return nil, &BusyError{Key: a.req.Key, Holders: rep.holders, Waiters: max(rep.length, 0)}
	}
	return a.wait(ctx, rep, sent)
}

// direct returns a lease the caller's own acquire request created.
func (a *waiting) direct(rep acquireReply, sent time.Time) *Lease {
	if a.w != nil {
		a.r.sub.done(a.w, a.req.Token, true)
		a.w = nil
	}
	if !rep.x && a.req.Mode == Exclusive && a.req.Limit == 1 {
		a.r.plain.add(a.req.Token)
	}
	return a.lease(rep.fence, sent)
}

func (a *waiting) lease(fence int64, sent time.Time) *Lease {
	return &Lease{Key: a.req.Key, Token: a.req.Token, Fence: fence, TTL: a.req.TTL, Limit: a.req.Limit,
		Mode: a.req.Mode, Sent: sent}
}

// attempt runs acquire.lua, queueing the request when it has a channel.
func (a *waiting) attempt(ctx context.Context) (acquireReply, time.Time, error) {
	q := ""
	if a.w != nil {
		flags := ""
		if a.generated && a.req.Queue == FIFO && a.req.OnWait == nil {
			flags = "b"
		}
		q = string(a.req.Queue) + "|" + strconv.Itoa(a.req.MaxWaiters) + "|" + flags + "|" + a.entry
	}
	sent := time.Now()
	res, err := a.r.run(ctx, scriptAcquire, a.k, a.req.Token, a.ttl, a.spec, q, a.info)
	op := fmt.Sprintf("acquire %q", a.req.Key)
	if err != nil {
		err = backendErr(ctx, op, err)
		if a.w != nil {
			a.r.leave(ctx, a.k, a.entry, a.req.Token)
			a.r.sub.done(a.w, a.req.Token, true)
			a.w = nil
		}
		return acquireReply{}, sent, err
	}
	rep, err := decodeAcquire(op, res)
	return rep, sent, err
}

// decodeAcquire reads fence, {1, fence[, x]}, {0, pos, len, pttl} (the
// fast enqueue) or {0, pos, len, pttl, fits, holders...}.
func decodeAcquire(op string, res any) (acquireReply, error) {
	if fence, ok := res.(int64); ok && fence > 0 {
		return acquireReply{held: true, fence: fence}, nil
	}
	vals, ok := res.([]any)
	if !ok || len(vals) < 2 {
		return acquireReply{}, badReply(op, res)
	}
	kind, ok1 := replyInt(vals[0])
	n, ok2 := replyInt(vals[1])
	if !ok1 || !ok2 {
		return acquireReply{}, badReply(op, res)
	}
	if kind == 1 && n > 0 {
		rep := acquireReply{held: true, fence: n}
		if len(vals) > 2 {
			x, _ := replyInt(vals[2])
			rep.x = x == 1
		}
		return rep, nil
	}
	_, ns, ok := replyInts(res, 4)
	if kind != 0 || !ok {
		return acquireReply{}, badReply(op, res)
	}
	rep := acquireReply{pos: int(ns[1]), length: int(ns[2]), pttl: pttlOf(ns[3])}
	if len(vals) == 4 { // the fast enqueue
		return rep, nil
	}
	fits, ok := replyInt(vals[4])
	hs, _, shaped := parseHolders(vals[5:])
	if !ok || !shaped || fits < 0 || fits > 1 {
		return acquireReply{}, badReply(op, res)
	}
	rep.fits, rep.holders, rep.info = fits == 1, hs, true
	return rep, nil
}

func pttlOf(ms int64) time.Duration {
	if ms < 0 {
		return -1
	}
	return time.Duration(ms) * time.Millisecond
}

// leave takes a waiter out of the queue on a context that survives ctx's
// cancellation; if a grant raced with giving up, the lease is released. It
// returns the holders at that moment (nil on error) and whether it ran.
func (r *Redis) leave(ctx context.Context, k redisKeys, entry, token string) ([]Holder, bool) {
	cctx, cancel := CleanupContext(ctx)
	defer cancel()
	res, err := r.run(cctx, scriptLeave, k, entry, token)
	if err != nil {
		r.log.Debug("leaving a lock queue failed; the entry is dropped when next served", "key", k.user, "error", err)
		return nil, false
	}
	vals, _ := res.([]any)
	hs, _, _ := parseHolders(vals)
	return hs, true
}
