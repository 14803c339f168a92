package lock_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// countHook counts the commands a client sends (round trips, pipelines
// counted once).
type countHook struct{ n *atomic.Int64 }

func (h countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}
func (h countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}

// TestRedis_sharedOneRoundTrip: a shared acquire that joins shared holders
// is one round trip, as a free exclusive lock is.
func TestRedis_sharedOneRoundTrip(t *testing.T) {
	srv := locktest.StartServer(t, nil)
	c := redisClient(t, srv)
	var n atomic.Int64
	c.AddHook(countHook{&n})
	l := lock.NewRedis(c, nil)
	ctx := context.Background()
	warm := acquire(t, l, "warm", time.Minute) // the script is loaded
	if err := l.Release(ctx, warm.Key, warm.Token); err != nil {
		t.Fatal(err)
	}
	other := lock.NewRedis(redisClient(t, srv), nil)
	if _, err := other.Acquire(ctx, lock.Request{Key: "shared", Mode: lock.Shared, TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	for i, key := range []string{"shared", "shared", "free"} {
		mode := lock.Shared
		if key == "free" {
			mode = lock.Exclusive
		}
		before := n.Load()
		if _, err := l.Acquire(ctx, lock.Request{Key: key, Mode: mode, TTL: time.Minute}); err != nil {
			t.Fatal(err)
		}
		if trips := n.Load() - before; trips != 1 {
			t.Fatalf("acquire %d (%s, %s) took %d round trips, want 1", i, key, mode, trips)
		}
	}
	if info, err := l.Show(ctx, "shared"); err != nil || len(info.Holders) != 3 || info.Mode != lock.Shared {
		t.Fatalf("show: %+v, %v; want 3 shared holders", info, err)
	}
}

// TestRedis_supersedePushed: a newer arrival of a Newest queue ends the
// older waiter at once (pushed: its re-checks are an hour apart), naming
// the newer one.
func TestRedis_supersedePushed(t *testing.T) {
	srv := locktest.StartServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	holder := lock.NewRedis(redisClient(t, srv), nil)
	acquire(t, holder, "newest", time.Minute)
	slow := &lock.RedisOptions{Recheck: time.Hour}
	older := lock.NewRedis(redisClient(t, srv), slow)
	newer := lock.NewRedis(redisClient(t, srv), slow)
	t.Cleanup(func() { older.Close(); newer.Close() })
	queued := make(chan struct{})
	var once sync.Once
	done := make(chan error, 1)
	go func() {
		_, err := older.Acquire(ctx, lock.Request{Key: "newest", Queue: lock.Newest, Wait: lock.WaitForever,
			Holder: lock.Holder{RunID: "older"}, OnWait: func([]lock.Holder) { once.Do(func() { close(queued) }) }})
		done <- err
	}()
	<-queued
	start := time.Now()
	go newer.Acquire(ctx, lock.Request{Key: "newest", Queue: lock.Newest, Wait: lock.WaitForever, Holder: lock.Holder{RunID: "newer"}})
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the older waiter was not superseded within 10s")
	}
	took := time.Since(start)
	var se *lock.SupersededError
	t.Logf("superseded %s after the newer arrival started: %v", took.Round(time.Microsecond), err)
	if !errors.As(err, &se) || se.By.RunID != "newer" || se.By.Since.IsZero() {
		t.Fatalf("older waiter: %v (%+v), want a *SupersededError naming the newer waiter", err, se)
	}
	if took > time.Second {
		t.Errorf("superseded after %s, want at once (under 1s)", took)
	}
}

// TestRedis_fenceAcrossExpiry: nothing a lock leaves behind lives forever
// (its holders hash with the fence expires with the last lease, the queue
// with its waiters), and fences still grow across the expiry: a new counter
// starts at the server's time in µs.
func TestRedis_fenceAcrossExpiry(t *testing.T) {
	srv := locktest.StartServer(t, nil)
	c := redisClient(t, srv)
	l := lock.NewRedis(c, nil)
	ctx := context.Background()
	var last int64
	for i := range 3 {
		lease := acquire(t, l, "expiring", 200*time.Millisecond)
		if lease.Fence <= last {
			t.Fatalf("round %d: fence %d after %d", i, lease.Fence, last)
		}
		last = lease.Fence
		if err := l.Release(ctx, lease.Key, lease.Token); err != nil {
			t.Fatal(err)
		}
		again := acquire(t, l, "expiring", 200*time.Millisecond) // the kept fence: last + 1 at least
		if again.Fence <= last {
			t.Fatalf("round %d: fence %d after %d before the expiry", i, again.Fence, last)
		}
		last = again.Fence
		if err := l.Release(ctx, again.Key, again.Token); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 5*time.Second, "the lock's keys to expire", func() bool { return c.DBSize(ctx).Val() == 0 })
	}
	t.Logf("fences grew across 3 expiries of the lock's keys, last %d", last)
	for i := range 50 {
		lease := acquire(t, l, "many/"+string(rune('a'+i%26))+string(rune('a'+i/26)), 200*time.Millisecond)
		if err := l.Release(ctx, lease.Key, lease.Token); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, 5*time.Second, "50 released locks to leave nothing", func() bool { return c.DBSize(ctx).Val() == 0 })
}

// TestRedis_newestKeepsFIFOWaiters: a newest-wins arrival supersedes the
// newest-wins waiters before it, not those that queued FIFO (as on the
// local backend: an operator's exec is not cancelled by a pipeline's
// arrival); Show lists the queue in order with each waiter's policy.
func TestRedis_newestKeepsFIFOWaiters(t *testing.T) {
	srv := locktest.StartServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	holder := lock.NewRedis(redisClient(t, srv), nil)
	held := acquire(t, holder, "mixed", time.Minute)
	start := func(run string, q lock.Policy) <-chan error {
		l := lock.NewRedis(redisClient(t, srv), nil)
		t.Cleanup(func() { l.Close() })
		queued, done := make(chan struct{}), make(chan error, 1)
		var once sync.Once
		go func() {
			lease, err := l.Acquire(ctx, lock.Request{Key: "mixed", Queue: q, Wait: lock.WaitForever, Holder: lock.Holder{RunID: run},
				OnWait: func([]lock.Holder) { once.Do(func() { close(queued) }) }})
			if err == nil {
				err = l.Release(ctx, lease.Key, lease.Token)
			}
			done <- err
		}()
		<-queued
		return done
	}
	fifo := start("fifo", lock.FIFO)
	older := start("older", lock.Newest)
	newer := start("newer", lock.Newest)
	var se *lock.SupersededError
	if err := <-older; !errors.As(err, &se) || se.By.RunID != "newer" {
		t.Fatalf("older newest-wins waiter: %v, want superseded by the newer one", err)
	}
	info, err := holder.Show(ctx, "mixed")
	if err != nil || len(info.Queue) != 2 || info.Queue[0].RunID != "fifo" || info.Queue[0].Queue != lock.FIFO ||
		info.Queue[1].RunID != "newer" || info.Queue[1].Queue != lock.Newest {
		t.Fatalf("queue %+v, %v; want the FIFO waiter, then the newest one", info.Queue, err)
	}
	if err := holder.Release(ctx, held.Key, held.Token); err != nil {
		t.Fatal(err)
	}
	for name, w := range map[string]<-chan error{"fifo": fifo, "newer": newer} {
		if err := <-w; err != nil {
			t.Fatalf("%s waiter: %v", name, err)
		}
	}
}
