package lock_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// The release fast path trusts a lone holder record whose key is still there
// (no TIME), which is sound only while the holders key expires exactly 1 ms
// before the last lease's deadline. These tests pin that invariant on every
// path that changes the last deadline.

const holdersKey = "lockstep:{sem}:h"

// lastDeadline returns the largest deadline among the records of holdersKey,
// 0 when there are none.
func lastDeadline(t *testing.T, c *redis.Client) int64 {
	t.Helper()
	vals, err := c.HGetAll(context.Background(), holdersKey).Result()
	if err != nil {
		t.Fatal(err)
	}
	var last int64
	for field, v := range vals {
		if field == "f" {
			continue
		}
		d, err := strconv.ParseInt(strings.SplitN(v, "|", 2)[0], 10, 64)
		if err != nil {
			t.Fatalf("record %q: %v", v, err)
		}
		last = max(last, d)
	}
	return last
}

func assertExpiryFollowsLastLease(t *testing.T, c *redis.Client, step string) {
	t.Helper()
	last := lastDeadline(t, c)
	at, err := c.PExpireTime(context.Background(), holdersKey).Result()
	if err != nil {
		t.Fatal(err)
	}
	if last == 0 { // every lease ended already (a stalled machine): so must the key
		if at != -2 {
			t.Errorf("%s: no holder records, but the holders key expires at %d", step, at)
		}
		return
	}
	if want := last - 1; at.Milliseconds() != want {
		t.Errorf("%s: holders key expires at %d, want the last deadline - 1 = %d", step, at.Milliseconds(), want)
	}
}

func TestRedis_holdersExpiryFollowsLastLease(t *testing.T) {
	srv := locktest.StartServer(t, nil)
	c := redisClient(t, srv)
	l := lock.NewRedis(c, nil)
	ctx := context.Background()
	short, err := l.Acquire(ctx, lock.Request{Key: "sem", Limit: 2, TTL: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	assertExpiryFollowsLastLease(t, c, "fast-path acquire")
	long, err := l.Acquire(ctx, lock.Request{Key: "sem", Limit: 2, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	assertExpiryFollowsLastLease(t, c, "second holder")
	if err := l.Release(ctx, long.Key, long.Token); err != nil {
		t.Fatal(err)
	}
	assertExpiryFollowsLastLease(t, c, "release of the last lease")
	if pttl := c.PTTL(ctx, holdersKey).Val(); pttl > 300*time.Millisecond {
		t.Fatalf("holders pttl %s after the hour-long lease left, want ≤ 300ms", pttl)
	}
	// The short lease runs out: releasing it is ErrNotHeld, not a success.
	deadline := time.Now().Add(5 * time.Second)
	for l.Check(ctx, short.Key, short.Token) == nil {
		if time.Now().After(deadline) {
			t.Fatal("a 300ms lease still held after 5s")
		}
		time.Sleep(10 * time.Millisecond) // waiting for the server's clock, not for another goroutine
	}
	if err := l.Release(ctx, short.Key, short.Token); !errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("release of an expired lease: %v, want ErrNotHeld", err)
	}
}

func TestRedis_holdersExpiryOnRenewAndLeave(t *testing.T) {
	srv := locktest.StartServer(t, nil)
	c := redisClient(t, srv)
	l := lock.NewRedis(c, nil)
	ctx := context.Background()
	a, err := l.Acquire(ctx, lock.Request{Key: "sem", Limit: 2, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Renew(ctx, a.Key, a.Token, time.Minute); err != nil {
		t.Fatal(err)
	}
	assertExpiryFollowsLastLease(t, c, "renew to a shorter ttl")
	b, err := l.Acquire(ctx, lock.Request{Key: "sem", Limit: 2, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// A waiter that gives up after being granted releases its lease (leave.lua).
	waitCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := l.Acquire(waitCtx, lock.Request{Key: "sem", Limit: 2, TTL: 2 * time.Hour, Wait: lock.WaitForever,
			OnWait: func([]lock.Holder) { cancel() }})
		done <- err
	}()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("waiter: %v, want context.Canceled", err)
	}
	assertExpiryFollowsLastLease(t, c, "waiter left")
	if err := l.Release(ctx, b.Key, b.Token); err != nil {
		t.Fatal(err)
	}
	assertExpiryFollowsLastLease(t, c, "release with another holder left")
	if pttl := c.PTTL(ctx, holdersKey).Val(); pttl > time.Minute {
		t.Fatalf("holders pttl %s, want ≤ 1m (the renewed lease)", pttl)
	}
}
