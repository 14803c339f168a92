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

// TestSentinel_failover holds a lock through a Sentinel-aware universal client
// while the primary fails over to its replica, and measures what happens to
// it. Replication is asynchronous, so survival is not promised; what must hold
// is that the keeper never believes in a lock the new primary does not have,
// and that the client follows the new primary.
func TestSentinel_failover(t *testing.T) {
	const ttl = 3 * time.Second
	s := locktest.StartSentinel(t, nil)
	client := redis.NewUniversalClient(&redis.UniversalOptions{MasterName: s.MasterName, Addrs: s.Addrs(), DisableIdentity: true})
	t.Cleanup(func() { client.Close() })
	l := lock.NewRedis(client, nil)
	t.Cleanup(func() { l.Close() })
	ctx := context.Background()

	lease := acquire(t, l, "db/failover", ttl)
	k := keep(t, l, lease)
	waitRenewals(t, k, 1, 2*ttl)

	start := time.Now()
	newPrimary := s.Failover()
	failover := time.Since(start)

	// The client follows: a new lock lands on the new primary. Until the
	// client has noticed the switch, an acquire may still reach the old
	// primary (it stays a primary for a moment): such a lease is released
	// and the acquire tried again.
	newAdmin := admin(t, newPrimary)
	var other *lock.Lease
	waitUntil(t, 15*time.Second, "an acquire on the new primary", func() bool {
		var err error
		other, err = l.Acquire(ctx, lock.Request{Key: "db/after-failover", TTL: ttl})
		if err != nil {
			return false
		}
		if newAdmin.HExists(ctx, "lockstep:{db/after-failover}:h", other.Token).Val() {
			return true
		}
		_ = l.Release(ctx, other.Key, other.Token)
		return false
	})
	follow := time.Since(start)
	if err := l.Release(ctx, other.Key, other.Token); err != nil {
		t.Fatal(err)
	}

	// Let the keeper run a few renewals against the new primary.
	waitRenewals(t, k, k.Renewals()+3, 3*ttl)
	lost := isClosed(k.Lost())
	checkErr := l.Check(ctx, lease.Key, lease.Token)
	survived := checkErr == nil
	t.Logf("sentinel-failover: sentinel switched in %s; client acquired on the new primary %s after the failover began",
		failover.Round(time.Millisecond), follow.Round(time.Millisecond))
	t.Logf("sentinel-failover: lock survived on the new primary: %v; keeper reported loss: %v (err %v)", survived, lost, k.Err())
	if !survived && !lost {
		t.Fatalf("the lock is gone from the new primary (%v) but the keeper did not report loss", checkErr)
	}
	if survived && lost {
		t.Logf("sentinel-failover: the keeper gave the lease up although it survived (safe, but a false loss)")
	}
	if survived {
		_, err := l.Acquire(ctx, lock.Request{Key: lease.Key, TTL: ttl})
		if !errors.Is(err, lock.ErrBusy) {
			t.Fatalf("a second holder after failover: %v, want ErrBusy", err)
		}
	}
}

// TestSentinel_failoverUnsynced is the failover the guarantees warn about:
// the lock was written to the primary but never reached the replica
// (replication cut off), and the replica is promoted. The
// lock is gone; the holder's keeper must report the loss instead of carrying
// on, and a new holder can take the lock (the overlap window is measured).
func TestSentinel_failoverUnsynced(t *testing.T) {
	const ttl = 3 * time.Second
	s := locktest.StartSentinel(t, nil)
	client := redis.NewUniversalClient(&redis.UniversalOptions{MasterName: s.MasterName, Addrs: s.Addrs(), DisableIdentity: true})
	t.Cleanup(func() { client.Close() })
	l := lock.NewRedis(client, nil)
	t.Cleanup(func() { l.Close() })
	ctx := context.Background()

	s.BreakReplication()
	lease := acquire(t, l, "db/unsynced", ttl)
	k := keep(t, l, lease)
	start := time.Now()
	s.Failover()
	failover := time.Since(start)

	var other *lock.Lease
	var lastErr error
	t.Cleanup(func() {
		if other == nil {
			t.Logf("last acquire error: %v", lastErr)
			for _, srv := range []*locktest.Server{s.Primary, s.Replica} {
				role, _ := srv.Do("ROLE")
				t.Logf("%s: role %s keys %v", srv.Addr, role, lockKeys(t, admin(t, srv.Addr)))
			}
		}
	})
	waitUntil(t, 15*time.Second, "a second holder on the new primary", func() bool {
		other, lastErr = l.Acquire(ctx, lock.Request{Key: lease.Key, TTL: ttl})
		return lastErr == nil
	})
	second := time.Since(start)
	lostAfter := waitLost(t, k, start, time.Since(start)+2*ttl)
	t.Logf("sentinel-failover (unsynced): failover %s; a second holder acquired %s after it began (fence %d, first holder's fence %d); the first holder's keeper reported loss %s after it began (err %v)",
		failover.Round(time.Millisecond), second.Round(time.Millisecond), other.Fence, lease.Fence, lostAfter.Round(time.Millisecond), k.Err())
	if lostAfter > second+ttl {
		t.Errorf("the first holder learnt of the loss %s after the second holder entered, want within one ttl", lostAfter-second)
	}
	// The fence counter was lost with the key; it must still not go back,
	// or a fenced resource would take the new holder for a stale one.
	if other.Fence <= lease.Fence {
		t.Errorf("the fencing token went back with the failover: new %d ≤ old %d", other.Fence, lease.Fence)
	}
}
