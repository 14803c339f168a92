package lock

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// errConnGone: the connection was closed (idle) before a subscription was
// sent on it.
var errConnGone = errors.New("pub/sub connection closed")

// subConn is one pub/sub connection and the channels subscribed on it.
type subConn struct {
	s    *subscriber
	key  string
	node redis.UniversalClient

	mu      sync.Mutex // orders SSUBSCRIBE writes with pending
	ps      *redis.PubSub
	pending []*subChan // SSUBSCRIBE sent, no reply yet, in order
	chans   map[string]*subChan
	seen    atomic.Int64 // UnixNano of the last thing received
	stop    chan struct{}
	stopped bool
}

// connFor returns the connection for channel name, creating it. A Cluster
// gets one connection per lock, on the master of its slot.
func (s *subscriber) connFor(ctx context.Context, k redisKeys, name string) (*subConn, error) {
	var node redis.UniversalClient = s.client
	key := ""
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		n, err := cc.MasterForKey(ctx, name)
		if err != nil {
			return nil, err
		}
		node, key = n, n.Options().Addr+" "+k.chanBase
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	if c := s.conns[key]; c != nil {
		return c, nil
	}
	c := &subConn{s: s, key: key, node: node, chans: map[string]*subChan{}, stop: make(chan struct{})}
	c.ps = node.SSubscribe(context.WithoutCancel(ctx))
	c.seen.Store(time.Now().UnixNano())
	s.conns[key] = c
	go c.receive(c.ps)
	go c.health()
	return c, nil
}

// subscribe sends SSUBSCRIBE for ch; the reply arrives through receive.
func (c *subConn) subscribe(ctx context.Context, ch *subChan) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return errConnGone
	}
	c.pending = append(c.pending, ch)
	c.chans[ch.name] = ch
	if err := c.ps.SSubscribe(ctx, ch.name); err != nil {
		c.dropPending(ch)
		delete(c.chans, ch.name)
		return err
	}
	return nil
}

func (c *subConn) dropPending(ch *subChan) {
	for i, p := range c.pending {
		if p == ch {
			c.pending = append(c.pending[:i:i], c.pending[i+1:]...)
			return
		}
	}
}

// forget unsubscribes idle channels of a connection still in use, with one
// command (a single server's connection: a Cluster's serves one lock).
func (c *subConn) forget(names []string) {
	c.mu.Lock()
	for _, n := range names {
		delete(c.chans, n)
	}
	ps := c.ps
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = ps.SUnsubscribe(ctx, names...) // a dead connection forgets them anyway
}

// receive reads one PubSub until it is closed or replaced. Server error
// replies are the answers to SSUBSCRIBE (a refusal, an old server): the
// oldest pending subscription fails with it, or every channel of the
// connection when none is pending (a resubscription after a reconnect was
// refused). Network errors are retried (go-redis reconnects and
// resubscribes).
func (c *subConn) receive(ps *redis.PubSub) {
	backoff := 50 * time.Millisecond
	for {
		msg, err := ps.Receive(context.Background())
		if c.replaced(ps) {
			return
		}
		if err != nil {
			var re redis.Error
			if errors.As(err, &re) && c.refused(err) {
				return
			}
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		c.seen.Store(time.Now().UnixNano())
		switch m := msg.(type) {
		case *redis.Subscription:
			c.subscription(m)
		case *redis.Message:
			c.s.deliver(m.Channel, m.Payload)
		}
	}
}

func (c *subConn) replaced(ps *redis.PubSub) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopped || c.ps != ps
}

func (c *subConn) subscription(m *redis.Subscription) {
	c.mu.Lock()
	ch := c.chans[m.Channel]
	if ch != nil && m.Kind == "ssubscribe" {
		c.dropPending(ch)
	}
	c.mu.Unlock()
	if ch == nil {
		return
	}
	switch m.Kind {
	case "ssubscribe":
		c.s.confirmed(ch)
	case "sunsubscribe": // not asked for (we forget a channel first): the slot moved
		c.mu.Lock()
		delete(c.chans, ch.name)
		c.mu.Unlock()
		c.s.fail(ch, nil)
	}
}

// refused fails the channels an error reply is for. It reports whether the
// connection was closed for having no channel left.
func (c *subConn) refused(err error) bool {
	c.mu.Lock()
	var failed []*subChan
	if len(c.pending) > 0 {
		failed = c.pending[:1]
		c.pending = c.pending[1:]
	} else {
		for _, ch := range c.chans {
			failed = append(failed, ch)
		}
	}
	for _, ch := range failed {
		delete(c.chans, ch.name)
	}
	empty := len(c.chans) == 0 && len(c.pending) == 0
	c.mu.Unlock()
	for _, ch := range failed {
		c.s.log.Debug("subscription refused", "channel", ch.name, "error", err)
		c.s.fail(ch, err)
	}
	if !empty {
		return false
	}
	c.s.mu.Lock()
	if c.s.conns[c.key] == c {
		delete(c.s.conns, c.key)
	}
	c.s.mu.Unlock()
	c.close()
	return true
}

// health pings an idle connection and replaces it when the ping gets no
// answer: a connection that died without a reset (a network partition)
// would otherwise keep the waiters deaf until TCP gave up.
func (c *subConn) health() {
	t := time.NewTicker(healthCheck / 4)
	defer t.Stop()
	var pinged time.Time
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		seen := time.Unix(0, c.seen.Load())
		c.mu.Lock()
		idle := len(c.chans) == 0
		c.mu.Unlock()
		switch {
		case idle:
			pinged = time.Time{}
		case !pinged.IsZero() && seen.After(pinged):
			pinged = time.Time{}
		case !pinged.IsZero() && time.Since(pinged) >= pingTimeout:
			c.restart()
			pinged = time.Time{}
		case pinged.IsZero() && time.Since(seen) >= healthCheck:
			c.mu.Lock()
			ps := c.ps
			c.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
			_ = ps.Ping(ctx)
			cancel()
			pinged = time.Now()
		}
	}
}

// restart replaces the connection, subscribing every channel again; the
// confirmations make their waits re-check.
func (c *subConn) restart() {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return
	}
	old := c.ps
	names := make([]string, 0, len(c.chans))
	for name := range c.chans {
		names = append(names, name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
	c.ps = c.node.SSubscribe(ctx, names...)
	cancel()
	c.seen.Store(time.Now().UnixNano())
	go c.receive(c.ps)
	c.mu.Unlock()
	c.s.log.Debug("pub/sub connection did not answer a ping; replaced it", "channels", len(names))
	_ = old.Close()
}

func (c *subConn) close() error {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return nil
	}
	c.stopped = true
	close(c.stop)
	ps := c.ps
	c.mu.Unlock()
	return ps.Close()
}
