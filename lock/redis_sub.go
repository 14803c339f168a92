package lock

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"
)

// subscriber is the one pub/sub connection of a Redis backend. Each waiter
// subscribes its own channel while it waits; a waiter holds no pooled
// connection, so renewals and releases never queue behind waiters.
type subscriber struct {
	client redis.UniversalClient
	log    hclog.Logger

	mu      sync.Mutex
	ps      *redis.PubSub
	waiters map[string]*waitChan
	closed  bool
}

// waitChan receives what arrives on one waiter's channel.
type waitChan struct {
	name  string
	ready chan struct{} // closed when the subscription is confirmed
	msgs  chan string   // grants (buffered; the first one matters)
	poke  chan struct{} // the connection was re-established: re-check now
	once  sync.Once
}

func newSubscriber(c redis.UniversalClient, log hclog.Logger) *subscriber {
	return &subscriber{client: c, log: log, waiters: map[string]*waitChan{}}
}

// add subscribes name and waits for the server's confirmation, so that a
// grant published after add returns reaches the waiter.
func (s *subscriber) add(ctx context.Context, name string) (*waitChan, error) {
	w := &waitChan{name: name, ready: make(chan struct{}), msgs: make(chan string, 4), poke: make(chan struct{}, 1)}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errClosed
	}
	if s.ps == nil {
		s.ps = s.client.Subscribe(context.WithoutCancel(ctx))
		go s.dispatch(s.ps.ChannelWithSubscriptions(redis.WithChannelSize(256)))
	}
	s.waiters[name] = w
	ps := s.ps
	s.mu.Unlock()
	if err := ps.Subscribe(ctx, name); err != nil {
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

// remove unsubscribes the waiter's channel.
func (s *subscriber) remove(w *waitChan) {
	s.mu.Lock()
	delete(s.waiters, w.name)
	ps := s.ps
	s.mu.Unlock()
	if ps != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = ps.Unsubscribe(ctx, w.name) // a dead connection forgets it anyway
		cancel()
	}
}

func (s *subscriber) dispatch(ch <-chan any) {
	for m := range ch {
		switch m := m.(type) {
		case *redis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			if w := s.lookup(m.Channel); w != nil {
				first := false
				w.once.Do(func() { close(w.ready); first = true })
				if !first { // resubscribed after a reconnect: grants may be lost
					select {
					case w.poke <- struct{}{}:
					default:
					}
				}
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

func (s *subscriber) lookup(name string) *waitChan {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waiters[name]
}

func (s *subscriber) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.ps == nil {
		return nil
	}
	err := s.ps.Close()
	s.ps = nil
	return err
}
