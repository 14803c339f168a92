package lock

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"
)

// The subscriber holds the backend's sharded pub/sub connections and routes
// what arrives to the waiting Acquires. Each backend has one channel per lock
// it waits on, P{E}:w:<backend id>, in the lock's hash tag (so SPUBLISH in
// the lock's scripts counts every receiver, Cluster included); a message
// names the wait it is for. A channel stays subscribed for a while after its
// last wait ends (linger), so that a process that waits on a lock again and
// again subscribes once; idle channels go with their connection, closed
// when none of its channels is in use (no SUNSUBSCRIBE needed). Waiters hold no pooled connection, so renewals and
// releases never queue behind them.
//
// Connections: one for a single server or Sentinel; on a Cluster one per
// lock (a multi-channel SSUBSCRIBE, as a reconnect sends, must stay in one
// slot). An idle connection is pinged every healthCheck; when no reply
// comes within pingTimeout it is replaced and every channel subscribed
// anew, and a resubscribed channel's waits re-check at once (pub/sub is
// at-most-once: a grant sent while the connection was down is found so).
const (
	healthCheck = 20 * time.Second
	pingTimeout = 5 * time.Second
	linger      = 30 * time.Second
)

type subscriber struct {
	client   redis.UniversalClient
	log      hclog.Logger
	bid      string // this backend's id in channel names and queue entries
	orphaned func(k redisKeys, token string)

	mu     sync.Mutex
	conns  map[string]*subConn
	chans  map[string]*subChan
	closed bool
}

// subChan is one subscribed channel.
type subChan struct {
	name    string
	k       redisKeys
	conn    *subConn
	ready   chan struct{} // closed once confirmed or failed
	err     error         // why it failed (set before ready closes)
	ok      bool          // confirmed
	dead    bool          // dropped: waits must subscribe afresh
	expired bool          // no wait for a whole linger: dropped with its connection
	waits   map[string]*waitChan
	gone    map[string]string // wid -> token of waits that ended without leaving the queue
	idle    *time.Timer
}

// waitChan is one waiting Acquire's view of its channel.
type waitChan struct {
	wid   string
	ch    *subChan
	final chan string   // a grant or a supersede (one at most)
	head  chan string   // "first in line" notices, latest wins
	poke  chan struct{} // resubscribed: re-check now
	fail  chan error    // the subscription failed or was dropped
}

func newSubscriber(c redis.UniversalClient, log hclog.Logger, orphaned func(redisKeys, string)) *subscriber {
	return &subscriber{client: c, log: log, bid: NewToken()[:16], orphaned: orphaned,
		conns: map[string]*subConn{}, chans: map[string]*subChan{}}
}

func (s *subscriber) channel(k redisKeys) string { return k.chanBase + s.bid }

// warm registers a new wait on k's channel when it is subscribed already,
// so that the first attempt can queue at once; nil otherwise.
func (s *subscriber) warm(k redisKeys) *waitChan {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.chans[s.channel(k)]
	if ch == nil || !ch.ok || ch.dead || s.closed {
		return nil
	}
	return ch.register()
}

// join subscribes k's channel if needed, waits for the server's
// confirmation (so that a grant published afterwards arrives) and registers
// a new wait. A refused subscription (ACL, an old server) returns the
// server's error at once.
func (s *subscriber) join(ctx context.Context, k redisKeys) (*waitChan, error) {
	ch, err := s.chanFor(ctx, k)
	if err != nil {
		return nil, err
	}
	select {
	case <-ch.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch.err != nil {
		return nil, ch.err
	}
	if s.closed {
		return nil, errClosed
	}
	return ch.register(), nil
}

// chanFor returns k's channel state, sending SSUBSCRIBE when it is new.
func (s *subscriber) chanFor(ctx context.Context, k redisKeys) (*subChan, error) {
	name := s.channel(k)
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, errClosed
		}
		if ch := s.chans[name]; ch != nil && !ch.dead && ch.err == nil {
			s.mu.Unlock()
			return ch, nil
		}
		s.mu.Unlock()
		conn, err := s.connFor(ctx, k, name)
		if err != nil {
			return nil, err
		}
		ch, fresh := s.newChan(k, name, conn)
		if !fresh {
			return ch, nil // subscribed meanwhile
		}
		err = conn.subscribe(ctx, ch)
		if err == errConnGone {
			s.forgetChan(ch) // its connection went idle and closed meanwhile: take a new one
			continue
		}
		if err != nil {
			s.fail(ch, err)
			return nil, err
		}
		return ch, nil
	}
}

// newChan records a channel about to be subscribed on conn, unless one for
// name appeared meanwhile (then it returns that one and false).
func (s *subscriber) newChan(k redisKeys, name string, conn *subConn) (*subChan, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch := s.chans[name]; ch != nil && !ch.dead && ch.err == nil {
		return ch, false
	}
	ch := &subChan{name: name, k: k, conn: conn, ready: make(chan struct{}), waits: map[string]*waitChan{}, gone: map[string]string{}}
	s.chans[name] = ch
	return ch, true
}

func (s *subscriber) forgetChan(ch *subChan) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.chans[ch.name] == ch {
		delete(s.chans, ch.name)
	}
}

func (ch *subChan) register() *waitChan {
	w := &waitChan{wid: NewToken()[:12], ch: ch, final: make(chan string, 1), head: make(chan string, 1),
		poke: make(chan struct{}, 1), fail: make(chan error, 1)}
	ch.waits[w.wid] = w
	ch.expired = false
	if ch.idle != nil {
		ch.idle.Stop()
		ch.idle = nil
	}
	return w
}

// done ends a wait. left says whether its queue entry is known gone (it
// left, was granted or superseded); if not, a grant that still arrives for
// it is released. The channel is unsubscribed after linger without waits.
func (s *subscriber) done(w *waitChan, token string, left bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := w.ch
	delete(ch.waits, w.wid)
	if !left {
		ch.gone[w.wid] = token
	}
	if len(ch.waits) > 0 || ch.dead || s.closed || ch.idle != nil {
		return
	}
	ch.idle = time.AfterFunc(linger, func() { s.unsubscribe(ch) })
}

// unsubscribe ends a channel's linger. It stays subscribed (costing the
// server nothing) while another channel of its connection is in use; when
// none is, the connection is closed, which drops every subscription on it
// without a command.
func (s *subscriber) unsubscribe(ch *subChan) {
	s.mu.Lock()
	if len(ch.waits) > 0 || ch.dead || s.chans[ch.name] != ch {
		s.mu.Unlock()
		return
	}
	ch.idle, ch.expired = nil, true
	c := ch.conn
	var expired []*subChan
	inUse := false
	for _, other := range s.chans {
		if other.conn == c {
			inUse = inUse || !other.expired
			if other.expired {
				expired = append(expired, other)
			}
		}
	}
	if inUse && len(expired) < maxExpired {
		s.mu.Unlock()
		return
	}
	names := make([]string, 0, len(expired))
	for _, other := range expired {
		other.dead = true
		delete(s.chans, other.name)
		names = append(names, other.name)
	}
	if !inUse && s.conns[c.key] == c {
		delete(s.conns, c.key)
	}
	s.mu.Unlock()
	if !inUse {
		c.close()
		return
	}
	c.forget(names) // a busy connection collected many idle channels: one SUNSUBSCRIBE
}

// maxExpired bounds the idle channels a busy connection keeps.
const maxExpired = 256

// fail ends a channel: its waits learn err (nil: dropped by the server, or
// unsubscribed; they subscribe afresh).
func (s *subscriber) fail(ch *subChan, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch.dead {
		return
	}
	ch.dead, ch.err = true, err
	if !ch.ok {
		close(ch.ready)
	}
	if s.chans[ch.name] == ch {
		delete(s.chans, ch.name)
	}
	for _, w := range ch.waits {
		select {
		case w.fail <- err:
		default:
		}
	}
}

// deliver routes a message "kind|wid|rest" to its wait.
func (s *subscriber) deliver(channel, payload string) {
	kind, rest, _ := strings.Cut(payload, "|")
	wid, _, _ := strings.Cut(rest, "|")
	s.mu.Lock()
	ch := s.chans[channel]
	if ch == nil {
		s.mu.Unlock()
		return
	}
	w := ch.waits[wid]
	token, orphan := ch.gone[wid]
	k := ch.k
	s.mu.Unlock()
	switch {
	case w == nil && orphan && kind == "g":
		go s.orphaned(k, token)
	case w == nil:
	case kind == "h":
		select { // latest wins
		case <-w.head:
		default:
		}
		w.head <- payload
	case kind == "g", kind == "s":
		select {
		case w.final <- payload:
		default:
		}
	}
}

// resubscribed pokes every wait of a channel the server confirmed again.
func (s *subscriber) confirmed(ch *subChan) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ch.ok {
		ch.ok = true
		close(ch.ready)
		return
	}
	for _, w := range ch.waits {
		signal(w.poke)
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (s *subscriber) close() error {
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.conns = map[string]*subConn{}
	chans := s.chans
	s.chans = map[string]*subChan{}
	s.mu.Unlock()
	for _, ch := range chans {
		s.fail(ch, errClosed)
	}
	var err error
	for _, c := range conns {
		if e := c.close(); e != nil && err == nil {
			err = e
		}
	}
	return err
}

var errClosed = errors.New("lock backend is closed")
