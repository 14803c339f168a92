package lock_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// hostileKeys are lock keys whose text tries to steer Redis Cluster hash
// slots or globs.
var hostileKeys = []string{
	"{",
	"}",
	"{}",
	"}{",
	"a{b}c",
	"{deploy}/staging",
	"deploy/{staging}",
	"}{x}{y}",
	"{{nested}}",
	"*?[x]\\",
	"ünïcödé/{ключ}",
	strings.Repeat("{a}", 300),
}

// clusterKeys lists every lockstep key on every node, with its slot.
func clusterKeys(t *testing.T, cl *locktest.Cluster) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, n := range cl.Nodes {
		keys, err := admin(t, n.Addr).Keys(context.Background(), lock.DefaultKeyPrefix+"*").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			out[k] = cl.Slot(t, k)
		}
	}
	return out
}

func flushCluster(t *testing.T, cl *locktest.Cluster) {
	t.Helper()
	for _, n := range cl.Nodes {
		if _, err := n.Do("FLUSHALL"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCluster_hostileKeys(t *testing.T) {
	cl := locktest.StartCluster(t)
	client := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: cl.Addrs(), IsClusterMode: true, DisableIdentity: true})
	t.Cleanup(func() { client.Close() })
	l := lock.NewRedis(client, nil)
	t.Cleanup(func() { l.Close() })
	ctx := context.Background()
	slots := map[int]bool{}
	for _, key := range hostileKeys {
		flushCluster(t, cl)
		lease, err := l.Acquire(ctx, lock.Request{Key: key, TTL: 5 * time.Second})
		if err != nil {
			t.Fatalf("acquire %q: %v", key, err)
		}
		if err := l.Renew(ctx, key, lease.Token, 5*time.Second); err != nil {
			t.Fatalf("renew %q: %v", key, err)
		}
		got := queueWaiter(t, l, key, lease)
		slot := oneSlot(t, key, clusterKeys(t, cl))
		slots[slot] = true
		if err := l.Release(ctx, key, lease.Token); err != nil {
			t.Fatalf("release %q: %v", key, err)
		}
		if err := <-got; err != nil {
			t.Fatalf("waiter on %q: %v", key, err)
		}
		if err := l.Check(ctx, key, lease.Token); !errors.Is(err, lock.ErrNotHeld) {
			t.Fatalf("check %q after release: %v", key, err)
		}
	}
	t.Logf("cluster-slots: %d hostile keys; each lock's keys in one slot, no CROSSSLOT; acquire/renew/wait/release work; %d distinct slots used",
		len(hostileKeys), len(slots))
}

// queueWaiter starts a waiter on key (held by lease) and returns once it is
// queued. The channel yields the waiter's outcome after it got the lock and
// released it again.
func queueWaiter(t *testing.T, l lock.Locker, key string, lease *lock.Lease) <-chan error {
	t.Helper()
	ctx := context.Background()
	got := make(chan error, 1)
	queued := make(chan struct{})
	go func() {
		var once sync.Once
		w, err := l.Acquire(ctx, lock.Request{Key: key, TTL: 5 * time.Second, Wait: 10 * time.Second,
			OnWait: func([]lock.Holder) { once.Do(func() { close(queued) }) }})
		if err == nil {
			if w.Fence <= lease.Fence {
				err = fmt.Errorf("waiter's fence %d not above %d", w.Fence, lease.Fence)
			} else {
				err = l.Release(ctx, key, w.Token)
			}
		}
		got <- err
	}()
	select {
	case <-queued:
	case err := <-got:
		t.Fatalf("waiter on %q returned before queueing: %v", key, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("waiter on %q never queued", key)
	}
	return got
}

// oneSlot checks that the keys of one lock (with a holder and a waiter:
// holders and queue) all hash to one slot, and returns it.
func oneSlot(t *testing.T, key string, keys map[string]int) int {
	t.Helper()
	if len(keys) < 2 {
		t.Fatalf("key %q: only %d keys in the cluster while held with a waiter: %v", key, len(keys), keys)
	}
	slot := -1
	for k, s := range keys {
		if slot >= 0 && s != slot {
			t.Fatalf("key %q: lock keys span slots: %v (%s)", key, keys, k)
		}
		slot = s
	}
	return slot
}
