package locktest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestStartSentinel_failover(t *testing.T) {
	s := StartSentinel(t, nil)
	if got := s.PrimaryAddr(); got != s.Primary.Addr {
		t.Fatalf("sentinel primary %s, want %s", got, s.Primary.Addr)
	}
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: s.MasterName, SentinelAddrs: s.Addrs()})
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	now := s.Failover()
	t.Logf("failover to %s took %s", now, time.Since(start))
	if now != s.Replica.Addr {
		t.Fatalf("new primary %s, want the replica %s", now, s.Replica.Addr)
	}
	// Until the sentinel reconfigures the old primary, a client that has not
	// yet switched may still write there; wait for writes to land on the new one.
	waitFor(t, 10*time.Second, "the client to write to the new primary", func(ctx context.Context) error {
		if err := c.Set(ctx, "k2", "v", 0).Err(); err != nil {
			return err
		}
		if v, _ := s.Replica.Do("GET", "k2"); v != "v" {
			return fmt.Errorf("new primary GET k2 = %q", v)
		}
		return nil
	})
	t.Logf("client wrote to the new primary %s after failover", time.Since(start))
}
