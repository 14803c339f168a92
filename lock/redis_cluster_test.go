package lock_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// startCluster starts a 3-master Redis Cluster of private servers.
func startCluster(t *testing.T) []string {
	t.Helper()
	var srvs []*locktest.Server
	ranges := [][2]int{{0, 5460}, {5461, 10922}, {10923, 16383}}
	for _, r := range ranges {
		s := locktest.StartServer(t, &locktest.ServerOptions{Args: []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"}})
		if _, err := s.Do("CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(r[0]), strconv.Itoa(r[1])); err != nil {
			t.Fatal(err)
		}
		srvs = append(srvs, s)
	}
	var addrs []string
	for _, s := range srvs {
		host, port, _ := strings.Cut(s.Addr, ":")
		if _, err := srvs[0].Do("CLUSTER", "MEET", host, port); err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, s.Addr)
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, s := range srvs {
		for {
			state, _ := s.Do("CLUSTER", "INFO")
			known, _ := s.Do("CLUSTER", "COUNTKEYSINSLOT", "0")
			if state == "cluster_state:ok" && known == "0" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cluster did not form: %q", state)
			}
			time.Sleep(20 * time.Millisecond) // waiting for gossip between external processes
		}
	}
	return addrs
}

// TestRedis_cluster runs the conformance suite on a 3-master Cluster: hostile
// keys with braces stay in one slot per lock (no CROSSSLOT), List scans every
// master, and grants reach waiters connected to other nodes.
func TestRedis_cluster(t *testing.T) {
	addrs := startCluster(t)
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
	locktest.Run(t, newLocker, locktest.Capabilities{TTL: true, FIFO: true, Kill: kill})
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	defer c.Close()
	ctx := context.Background()
	l := lock.NewRedis(c, nil)
	for _, key := range []string{"slot}{", "slot{b}c", "{slot}", "slot}"} {
		if _, err := l.Acquire(ctx, lock.Request{Key: key}); err != nil {
			t.Fatalf("acquire %q on a cluster: %v", key, err)
		}
		enc := lock.EncodeKey(key)
		slot := c.ClusterKeySlot(ctx, "lockstep:{"+enc+"}:holders").Val()
		for _, suffix := range []string{"meta", "fence", "queue", "waiters"} {
			if s := c.ClusterKeySlot(ctx, "lockstep:{"+enc+"}:"+suffix).Val(); s != slot {
				t.Fatalf("key %q: %s in slot %d, holders in %d", key, suffix, s, slot)
			}
		}
	}
}
