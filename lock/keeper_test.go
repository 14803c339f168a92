package lock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/lock/locktest"
)

func TestKeep_renewsUntilStopped(t *testing.T) {
	srv := locktest.StartServer(t, nil)
	c := redisClient(t, srv)
	l := lock.NewRedis(c, nil)
	ctx := context.Background()
	lease, err := l.Acquire(ctx, lock.Request{Key: "kept", TTL: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	k := lock.Keep(ctx, l, lease, nil)
	end := time.Now().Add(time.Second) // > 3 TTLs: without renewals the lease would be gone
	for time.Now().Before(end) {
		if err := l.Check(ctx, lease.Key, lease.Token); err != nil {
			t.Fatalf("kept lease lost after %d renewals: %v", k.Renewals(), err)
		}
		select {
		case <-k.Lost():
			t.Fatalf("keeper reported a loss: %v", k.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	k.Stop()
	if n := k.Renewals(); n < 5 || n > 12 {
		t.Fatalf("%d renewals in 1s at ttl/3 = 100ms, want about 10", n)
	}
	if err := l.Check(ctx, lease.Key, lease.Token); err != nil {
		t.Fatalf("Stop released the lease: %v", err)
	}
	if k.Err() != nil {
		t.Fatalf("Err after Stop: %v", k.Err())
	}
}

func TestKeep_lostWhenTaken(t *testing.T) {
	srv := locktest.StartServer(t, nil)
	l := lock.NewRedis(redisClient(t, srv), nil)
	ctx := context.Background()
	lease, err := l.Acquire(ctx, lock.Request{Key: "taken", TTL: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	k := lock.Keep(ctx, l, lease, nil)
	defer k.Stop()
	if err := l.ForceRelease(ctx, "taken"); err != nil {
		t.Fatal(err)
	}
	other, err := l.Acquire(ctx, lock.Request{Key: "taken", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	select {
	case <-k.Lost():
	case <-time.After(time.Second):
		t.Fatal("loss not detected within a second (renewal interval 100ms)")
	}
	if !errors.Is(k.Err(), lock.ErrNotHeld) {
		t.Fatalf("Err = %v, want ErrNotHeld", k.Err())
	}
	t.Logf("loss detected %s after the key was taken", time.Since(start))
	if err := l.Check(ctx, "taken", other.Token); err != nil {
		t.Fatalf("the keeper disturbed the new holder: %v", err)
	}
}

func TestKeep_lostWhenUnreachable(t *testing.T) {
	srv := locktest.StartServer(t, nil)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { c.Close() })
	l := lock.NewRedis(c, nil)
	ctx := context.Background()
	ttl := 1500 * time.Millisecond
	lease, err := l.Acquire(ctx, lock.Request{Key: "gone", TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	k := lock.Keep(ctx, l, lease, &lock.KeepOptions{Margin: 300 * time.Millisecond}) // slack for a loaded machine
	defer k.Stop()
	srv.Stop()
	select {
	case <-k.Lost():
	case <-time.After(2 * ttl):
		t.Fatal("loss not signalled while the server was down")
	}
	if took := time.Since(start); took >= ttl {
		t.Fatalf("loss signalled after %s, not before the ttl %s ran out", took, ttl)
	}
	if !errors.Is(k.Err(), lock.ErrUnavailable) {
		t.Fatalf("Err = %v, want ErrUnavailable", k.Err())
	}
}

// TestKeep_notBehindWaiters: 100 waiters on the same client (pool of 2)
// must not delay the holder's renewals: waiters hold no pooled connection.
func TestKeep_notBehindWaiters(t *testing.T) {
	srv := locktest.StartServer(t, nil)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 2})
	t.Cleanup(func() { c.Close() })
	l := lock.NewRedis(c, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lease, err := l.Acquire(ctx, lock.Request{Key: "busy", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan struct{}, 100)
	for range 100 {
		go l.Acquire(ctx, lock.Request{Key: "busy", Wait: lock.WaitForever,
			OnWait: func([]lock.Holder) {
				select {
				case waiting <- struct{}{}:
				default:
				}
			}})
	}
	for range 100 {
		<-waiting
	}
	var worst time.Duration
	for range 20 {
		start := time.Now()
		if err := l.Renew(ctx, lease.Key, lease.Token, time.Minute); err != nil {
			t.Fatal(err)
		}
		worst = max(worst, time.Since(start))
	}
	if worst > 100*time.Millisecond {
		t.Fatalf("renewal took %s with 100 waiters on the client", worst)
	}
	t.Logf("worst renewal with 100 waiters on a pool of 2: %s", worst)
}
