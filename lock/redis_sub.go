package lock

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"
)

// subscriber holds the backend's sharded pub/sub connections: one for a
// single server or Sentinel, one per Cluster master that owns a waiter's
// channel (a channel shares its lock's hash tag, hence its slot, so the
// SPUBLISH in the lock's scripts counts every receiver). Each waiter
// subscribes its own channel while it waits; a waiter holds no pooled
// connection, so renewals and releases never queue behind waiters.
type subscriber struct {
	client redis.UniversalClient
	log    hclog.Logger

	mu      sync.Mutex
	conns   map[string]*redis.PubSub // by node address ("" when not a Cluster)
	waiters map[string]*waitChan     // by channel
	closed  bool
}

// waitChan receives what arrives on one waiter's channel.
type waitChan struct {
	name  string
	ps    *redis.PubSub
	ready chan struct{} // closed when the subscription is confirmed
	msgs  chan string   // grants and "head" notices (buffered)
	poke  chan struct{} // resubscribed after a reconnect: re-check now
	lost  chan struct{} // the server dropped the subscription (slot moved)
	once  sync.Once
}

// healthCheck is how often an idle subscriber connection is pinged (once
// per connection, not per waiter) to find a dead connection and resubscribe.
const healthCheck = 10 * time.Second

func newSubscriber(c redis.UniversalClient, log hclog.Logger) *subscriber {
	return &subscriber{client: c, log: log, conns: map[string]*redis.PubSub{}, waiters: map[string]*waitChan{}}
}

// conn returns the pub/sub connection for channel name, creating it.
func (s *subscriber) conn(ctx context.Context, name string) (*redis.PubSub, error) {
	var node redis.UniversalClient = s.client
	addr := ""
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		n, err := cc.MasterForKey(ctx, name)
		if err != nil {
			return nil, err
		}
		node, addr = n, n.Options().Addr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	ps, ok := s.conns[addr]
	if !ok {
		ps = node.SSubscribe(context.WithoutCancel(ctx))
		s.conns[addr] = ps
		go s.dispatch(ps.ChannelWithSubscriptions(redis.WithChannelSize(256),
			redis.WithChannelHealthCheckInterval(healthCheck)))
	}
	return ps, nil
}

// add subscribes name and waits for the server's confirmation, so that a
// grant published after add returns reaches the waiter.
func (s *subscriber) add(ctx context.Context, name string) (*waitChan, error) {
	ps, err := s.conn(ctx, name)
	if err != nil {
		return nil, err
	}
	w := &waitChan{name: name, ps: ps, ready: make(chan struct{}), msgs: make(chan string, 4),
		poke: make(chan struct{}, 1), lost: make(chan struct{}, 1)}
	s.mu.Lock()
	s.waiters[name] = w
	s.mu.Unlock()
	if err := ps.SSubscribe(ctx, name); err != nil {
		s.remove(w)
		return nil, err
	}
	select {
	case <-w.ready:
		return w, nil
	case <-ctx.Done():
		s.remove(w)
		return nil, ctx.Err()
	}
}

// remove unsubscribes the waiter's channel, off the caller's path.
func (s *subscriber) remove(w *waitChan) {
	s.mu.Lock()
	delete(s.waiters, w.name)
	s.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = w.ps.SUnsubscribe(ctx, w.name) // a dead connection forgets it anyway
		cancel()
	}()
}

func (s *subscriber) dispatch(ch <-chan any) {
	for m := range ch {
		switch m := m.(type) {
		case *redis.Subscription:
			w := s.lookup(m.Channel)
			if w == nil {
				continue
			}
			switch m.Kind {
			case "ssubscribe":
				first := false
				w.once.Do(func() { close(w.ready); first = true })
				if !first { // resubscribed after a reconnect: grants may be lost
					signal(w.poke)
				}
			case "sunsubscribe": // not ours (we forget a waiter first): the slot moved
				signal(w.lost)
			}
		case *redis.Message:
			if w := s.lookup(m.Channel); w != nil {
				select {
				case w.msgs <- m.Payload:
				default:
				}
			}
		}
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (s *subscriber) lookup(name string) *waitChan {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waiters[name]
}

func (s *subscriber) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	var err error
	for addr, ps := range s.conns {
		if e := ps.Close(); e != nil && err == nil {
			err = e
		}
		delete(s.conns, addr)
	}
	return err
}
