package locktest

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func proxiedClient(t *testing.T, p *Proxy) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: p.Addr, MaxRetries: -1, PoolSize: 1,
		ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond})
	t.Cleanup(func() { c.Close() })
	return c
}

func TestProxy_latency(t *testing.T) {
	s := StartServer(t, nil)
	p := StartProxy(t, s.Addr)
	c := proxiedClient(t, p)
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	p.Latency(150 * time.Millisecond)
	start := time.Now()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	rtt := time.Since(start)
	t.Logf("round trip with 150ms latency toxic: %s", rtt)
	if rtt < 150*time.Millisecond {
		t.Fatalf("round trip %s, want at least 150ms", rtt)
	}
	p.Heal()
	start = time.Now()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if rtt := time.Since(start); rtt > 100*time.Millisecond {
		t.Fatalf("round trip after heal %s, want under 100ms", rtt)
	}
}

func TestProxy_blackhole(t *testing.T) {
	s := StartServer(t, nil)
	p := StartProxy(t, s.Addr)
	c := proxiedClient(t, p)
	ctx := context.Background()
	if err := c.Set(ctx, "k", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	p.Blackhole()
	err := c.Set(ctx, "k", "2", 0).Err()
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("SET through a blackhole: %v, want a timeout", err)
	}
	if v, _ := s.Do("GET", "k"); v != "1" {
		t.Fatalf("GET k = %q, want 1: the blackholed write reached the server", v)
	}
	p.Heal()
	if err := c.Set(ctx, "k", "3", 0).Err(); err != nil {
		t.Fatalf("SET after heal: %v", err)
	}
}

func TestProxy_resetPeer(t *testing.T) {
	s := StartServer(t, nil)
	p := StartProxy(t, s.Addr)
	c := proxiedClient(t, p)
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	p.ResetPeer()
	if err := c.Set(ctx, "k", "1", 0).Err(); err == nil {
		t.Fatal("SET through reset_peer succeeded, want a lost reply")
	}
	// The request reached the server: only the reply was lost.
	if v, _ := s.Do("GET", "k"); v != "1" {
		t.Fatalf("GET k = %q, want 1", v)
	}
	p.Heal()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after heal: %v", err)
	}
}

func TestProxy_disable(t *testing.T) {
	s := StartServer(t, nil)
	p := StartProxy(t, s.Addr)
	c := proxiedClient(t, p)
	ctx := context.Background()
	p.Disable()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING through a disabled proxy succeeded")
	}
	p.Enable()
	waitFor(t, 10*time.Second, "PING after enable", func(ctx context.Context) error { return c.Ping(ctx).Err() })
}
