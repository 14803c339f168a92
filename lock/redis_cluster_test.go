package lock_test

import (
	"context"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// TestRedis_cluster runs the conformance suite on a 3-master Cluster: hostile
// keys with braces stay in one slot per lock (no CROSSSLOT), List scans every
// master, and grants reach waiters connected to other nodes.
func TestRedis_cluster(t *testing.T) {
	addrs := locktest.StartCluster(t).Addrs()
	clients := map[lock.Locker]*redis.ClusterClient{}
	newLocker := func(t *testing.T) lock.Locker {
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
		t.Cleanup(func() { c.Close() })
		l := lock.NewRedis(c, nil)
		clients[l] = c
		return l
	}
	kill := func(t *testing.T, l lock.Locker) {
		l.Close()
		clients[l].Close()
	}
	waits := func(t *testing.T) []string {
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
		defer c.Close()
		var mu sync.Mutex
		var keys []string
		err := c.ForEachMaster(context.Background(), func(ctx context.Context, n *redis.Client) error {
			ks, err := n.Keys(ctx, "lockstep:wait:*").Result()
			mu.Lock()
			keys = append(keys, ks...)
			mu.Unlock()
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return keys
	}
	locktest.Run(t, newLocker, locktest.Capabilities{TTL: true, FIFO: true, Modes: true, Newest: true, QueueLimit: true, Positions: true,
		Deadlocks: true, WaitRecords: waits, Kill: kill})
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	defer c.Close()
	ctx := context.Background()
	l := lock.NewRedis(c, nil)
	for _, key := range []string{"slot}{", "slot{b}c", "{slot}", "slot}"} {
		if _, err := l.Acquire(ctx, lock.Request{Key: key}); err != nil {
			t.Fatalf("acquire %q on a cluster: %v", key, err)
		}
		enc := lock.EncodeKey(key)
		slot := c.ClusterKeySlot(ctx, "lockstep:{"+enc+"}:h").Val()
		for _, suffix := range []string{"q", "w:0123456789abcdef"} {
			if s := c.ClusterKeySlot(ctx, "lockstep:{"+enc+"}:"+suffix).Val(); s != slot {
				t.Fatalf("key %q: %s in slot %d, holders in %d", key, suffix, s, slot)
			}
		}
	}
}
