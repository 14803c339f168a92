package locktest

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestStartCluster(t *testing.T) {
	cl := StartCluster(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs()})
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c", "{x}1", "{x}2"} {
		if err := c.Set(ctx, k, "v", 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
		if v, err := cl.NodeForKey(t, k).Do("GET", k); err != nil || v != "v" {
			t.Fatalf("GET %s on its slot owner = %q, %v", k, v, err)
		}
	}
	if cl.Slot(t, "{x}1") != cl.Slot(t, "{x}2") {
		t.Fatal("hash tags did not put keys in one slot")
	}
	// A multi-key command across slots must fail: the cluster is real.
	if err := c.Do(ctx, "MSET", "a", "1", "b", "2").Err(); err == nil && cl.Slot(t, "a") != cl.Slot(t, "b") {
		t.Fatal("MSET across slots succeeded")
	}
}
