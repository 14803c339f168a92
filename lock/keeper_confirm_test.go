package lock_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// countingRenewer counts renewals and can make each one slow.
type countingRenewer struct {
	l     lock.Renewer
	n     atomic.Int32
	delay time.Duration
}

func (c *countingRenewer) Renew(ctx context.Context, key, token string, ttl time.Duration) error {
	c.n.Add(1)
	select {
	case <-time.After(c.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	return c.l.Renew(ctx, key, token, ttl)
}

func TestKeeper_confirm(t *testing.T) {
	const ttl = 3 * time.Second
	srv := locktest.StartServer(t, nil)
	l := lock.NewRedis(redisClient(t, srv), nil)
	ctx := context.Background()
	keepWith := func(t *testing.T, r lock.Renewer, lease *lock.Lease) *lock.Keeper {
		k := lock.Keep(ctx, r, lease, &lock.KeepOptions{Interval: time.Hour}) // no renewal of its own soon
		t.Cleanup(k.Stop)
		return k
	}
	t.Run("fresh lease: no round trip", func(t *testing.T) {
		lease := acquire(t, l, "confirm/fresh", ttl)
		r := &countingRenewer{l: l}
		if err := keepWith(t, r, lease).Confirm(ctx, ttl/3); err != nil || r.n.Load() != 0 {
			t.Fatalf("Confirm: %v after %d renewals, want nil after none", err, r.n.Load())
		}
	})
	t.Run("old anchor: one timed renewal", func(t *testing.T) {
		lease := acquire(t, l, "confirm/old", ttl)
		lease.Sent = time.Now().Add(-ttl + ttl/10 + 800*time.Millisecond) // 0.8s of validity left, floor 1s
		r := &countingRenewer{l: l}
		k := keepWith(t, r, lease)
		before := k.Deadline()
		if err := k.Confirm(ctx, ttl/3); err != nil || r.n.Load() != 1 {
			t.Fatalf("Confirm: %v after %d renewals, want nil after one", err, r.n.Load())
		}
		if left := time.Until(k.Deadline()); !k.Deadline().After(before) || left < ttl/2 {
			t.Fatalf("deadline %s left after Confirm (was %s), want the renewal's send time + ttl - margin", left, time.Until(before))
		}
	})
	t.Run("taken meanwhile: ErrNotHeld and lost", func(t *testing.T) {
		lease := acquire(t, l, "confirm/taken", ttl)
		lease.Sent = time.Now().Add(-ttl) // no validity left: Confirm must ask
		if err := l.ForceRelease(ctx, lease.Key); err != nil {
			t.Fatal(err)
		}
		acquire(t, l, "confirm/taken", ttl)
		k := keepWith(t, l, lease)
		err := k.Confirm(ctx, ttl/3)
		if !errors.Is(err, lock.ErrNotHeld) || !isClosed(k.Lost()) || !errors.Is(k.Err(), lock.ErrNotHeld) {
			t.Fatalf("Confirm: %v (lost %v, Err %v), want ErrNotHeld and a reported loss", err, isClosed(k.Lost()), k.Err())
		}
		t.Logf("confirm of a lease taken meanwhile: %v", err)
	})
	t.Run("slow link: unavailable", func(t *testing.T) {
		lease := acquire(t, l, "confirm/slow", ttl)
		lease.Sent = time.Now().Add(-ttl + 200*time.Millisecond)
		k := keepWith(t, &countingRenewer{l: l, delay: 2 * ttl / 3}, lease)
		err := k.Confirm(ctx, ttl/3)
		if !errors.Is(err, lock.ErrUnavailable) {
			t.Fatalf("Confirm over a link slower than the lease allows: %v, want ErrUnavailable", err)
		}
		t.Logf("confirm over a slow link: %v", err)
	})
}
