package lock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

var errClosed = errors.New("lock backend is closed")

// queueTTL bounds how long an abandoned queue survives when every waiter
// died and no one touched the lock again; live waiters refresh it.
const queueTTL = 10 * time.Minute

// acquireReply is the decoded reply of the acquire script.
type acquireReply struct {
	held    bool
	fence   int64
	pttl    time.Duration // busy: time until the first lease ends (-1: none)
	head    bool          // busy: this waiter is first in the queue
	first   bool          // poke: first in line, run acquire again (same id)
	gone    bool          // poke: the waiter is no longer queued
	holders []Holder
}

// Acquire takes req.Key. It first tries once; when the lock is busy and req
// waits, it subscribes its own channel, joins the lock's FIFO queue and sleeps
// until a release hands it the lock (see docs/locks.md). It returns a
// *BusyError when the lock stays busy, ctx's error when ctx ends (leaving
// nothing behind), and an error wrapping ErrUnavailable on backend failure.
func (r *Redis) Acquire(ctx context.Context, req Request) (*Lease, error) {
	generated := req.Token == "" // nobody else knows it: nobody could retry with it
	if err := req.Normalize(); err != nil {
		return nil, fmt.Errorf("acquire: %w", err)
	}
	if err := errNotYet(req); err != nil {
		return nil, err
	}
	if strings.Contains(req.Token, "|") {
		return nil, errors.New("acquire: token contains '|'")
	}
	info, err := json.Marshal(req.Holder)
	if err != nil {
		return nil, fmt.Errorf("acquire %q: %w", req.Key, err)
	}
	k := r.lockKeys(req.Key)
	start := time.Now()
	rep, err := r.tryAcquire(ctx, k, req, string(info), "")
	if err != nil {
		if generated && ctx.Err() != nil {
			// ctx ended while the script may have run: a lease under a
			// token no caller knows would block the key for a whole TTL.
			r.leave(ctx, k, "", req.Token)
		}
		return nil, err
	}
	if rep.held {
		return r.lease(req, rep.fence), nil
	}
	if req.Wait == 0 {
		return nil, &BusyError{Key: req.Key, Holders: rep.holders}
	}
	return r.wait(ctx, k, req, string(info), start)
}

func (r *Redis) lease(req Request, fence int64) *Lease {
	return &Lease{Key: req.Key, Token: req.Token, Fence: fence, TTL: req.TTL, Limit: req.Limit}
}

func (r *Redis) tryAcquire(ctx context.Context, k redisKeys, req Request, info, waiter string) (acquireReply, error) {
	res, err := r.run(ctx, scriptAcquire, k, req.Token, req.TTL.Milliseconds(), req.Limit, info,
		waiter, k.chan_, queueTTL.Milliseconds())
	if err != nil {
		return acquireReply{}, backendErr(ctx, fmt.Sprintf("acquire %q", req.Key), err)
	}
	vals, ok := res.([]any)
	if !ok || len(vals) < 3 {
		return acquireReply{}, fmt.Errorf("acquire %q: %w: %w", req.Key, ErrUnavailable, errBadReply)
	}
	if toInt64(vals[0]) == 1 {
		return acquireReply{held: true, fence: toInt64(vals[1])}, nil
	}
	return acquireReply{
		pttl:    time.Duration(toInt64(vals[1])) * time.Millisecond,
		head:    toInt64(vals[2]) == 1,
		holders: parseHolders(vals[3:]),
	}, nil
}

// waitState is one waiting Acquire: its channel and what to run next.
type waitState struct {
	r     *Redis
	k     redisKeys
	req   Request
	info  string
	w     *waitChan
	full  bool // run the acquire script (else the cheaper poke)
	resub bool // subscribe a fresh channel first
}

// attempt runs acquire or poke for the waiter, subscribing first if needed.
func (s *waitState) attempt(ctx context.Context) (acquireReply, string, error) {
	if s.resub {
		w, err := s.r.subscribe(ctx, s.k, s.w, s.req.Token)
		s.w = w
		if err != nil {
			return acquireReply{}, "", backendErr(ctx, fmt.Sprintf("acquire %q: subscribe", s.req.Key), err)
		}
		s.full, s.resub = true, false
	}
	id := strings.TrimPrefix(s.w.name, s.k.chan_)
	var rep acquireReply
	var err error
	if s.full {
		rep, err = s.r.tryAcquire(ctx, s.k, s.req, s.info, id)
	} else {
		rep, err = s.r.poke(ctx, s.k, s.req, id)
	}
	if err != nil {
		s.r.leave(ctx, s.k, id, s.req.Token)
	}
	return rep, id, err
}

// wait queues the request and sleeps until granted, re-checking slowly
// (pub/sub is at-most-once) and, when first in line, when the first lease
// ends (a crashed holder's expiry).
func (r *Redis) wait(ctx context.Context, k redisKeys, req Request, info string, start time.Time) (*Lease, error) {
	s := &waitState{r: r, k: k, req: req, info: info, full: true, resub: true}
	defer func() {
		if s.w != nil {
			r.sub.remove(s.w)
		}
	}()
	var deadline <-chan time.Time
	if req.Wait > 0 {
		t := time.NewTimer(req.Wait - time.Since(start))
		defer t.Stop()
		deadline = t.C
	}
	recheck := time.NewTimer(time.Hour)
	defer recheck.Stop()
	for {
		rep, id, err := s.attempt(ctx)
		switch {
		case err != nil:
			return nil, err
		case rep.held:
			return r.lease(req, rep.fence), nil
		case rep.first: // keep the place in line: acquire under the same id
			s.full = true
			continue
		case rep.gone: // served while unreachable: subscribe afresh, queue again
			s.resub = true
			continue
		}
		if s.full && req.OnWait != nil {
			req.OnWait(rep.holders)
		}
		recheck.Reset(r.nextCheck(rep))
		s.full = false
		select {
		case msg := <-s.w.msgs:
			if fence, ok := parseGrant(msg); ok {
				return r.lease(req, fence), nil
			}
			s.full = true // "head": first in line now
		case <-s.w.poke:
			s.full = true
		case <-s.w.lost:
			s.resub = true // the slot moved: queue again from its new owner
		case <-recheck.C:
			s.full = rep.head
		case <-deadline:
			hs := r.leave(ctx, k, id, req.Token)
			return nil, &BusyError{Key: req.Key, Holders: hs, Waited: time.Since(start), Timeout: true}
		case <-ctx.Done():
			r.leave(ctx, k, id, req.Token)
			return nil, fmt.Errorf("acquire %q: %w", req.Key, ctx.Err())
		}
	}
}

// subscribe gives the waiter a fresh channel (a new waiter id), leaving the
// queue under the old one if any.
func (r *Redis) subscribe(ctx context.Context, k redisKeys, old *waitChan, token string) (*waitChan, error) {
	if old != nil {
		r.sub.remove(old)
		r.leave(ctx, k, strings.TrimPrefix(old.name, k.chan_), token)
	}
	return r.sub.add(ctx, k.chan_+NewToken()[:16])
}

// poke is the slow safety re-check: a grant whose message was lost, or a
// waiter dropped from the queue (its channel was down when served).
func (r *Redis) poke(ctx context.Context, k redisKeys, req Request, id string) (acquireReply, error) {
	res, err := r.run(ctx, scriptPoke, k, req.Token, id, queueTTL.Milliseconds())
	if err != nil {
		return acquireReply{}, backendErr(ctx, fmt.Sprintf("acquire %q", req.Key), err)
	}
	vals, _ := res.([]any)
	if len(vals) == 0 {
		return acquireReply{}, fmt.Errorf("acquire %q: %w: %w", req.Key, ErrUnavailable, errBadReply)
	}
	switch toInt64(vals[0]) {
	case 1:
		return acquireReply{held: true, fence: toInt64(vals[1])}, nil
	case 0:
		return acquireReply{pttl: -1}, nil
	case 2:
		return acquireReply{pttl: -1, first: true}, nil
	}
	return acquireReply{pttl: -1, gone: true}, nil
}

// nextCheck is when a waiter runs the acquire script again by itself.
func (r *Redis) nextCheck(rep acquireReply) time.Duration {
	d := r.recheck + time.Duration(rand.Int64N(int64(r.recheck)/5)) - r.recheck/10
	if rep.head && rep.pttl >= 0 && rep.pttl+time.Millisecond < d {
		d = rep.pttl + time.Millisecond
	}
	return d
}

func parseGrant(msg string) (int64, bool) {
	f, _, _ := strings.Cut(msg, "|")
	n, err := strconv.ParseInt(f, 10, 64)
	return n, err == nil
}

// leave takes the waiter out of the queue on a context that survives ctx's
// cancellation; if a grant raced with giving up, the lease is released. It
// returns the holders at that moment (nil on error).
func (r *Redis) leave(ctx context.Context, k redisKeys, id, token string) []Holder {
	cctx, cancel := CleanupContext(ctx)
	defer cancel()
	res, err := r.run(cctx, scriptLeave, k, id, token, k.chan_)
	if err != nil {
		r.log.Debug("leaving a lock queue failed; the entry is dropped when next served", "key", k.user, "error", err)
		return nil
	}
	vals, _ := res.([]any)
	return parseHolders(vals)
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
