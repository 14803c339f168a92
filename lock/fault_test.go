package lock_test

// Fault tests of the Redis backend and the keeper against real redis-servers
// (the rows of docs/guarantees.md): a nemesis deletes or expires
// lock keys, Redis restarts empty, a toxiproxy between client and server
// drops, delays or resets traffic. Each test logs the figure it measures.

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// faultClient is a go-redis client as the CLI builds one from a URL: default
// timeouts and retries unless the test says otherwise.
func faultClient(t *testing.T, addr string, tune func(*redis.Options)) *redis.Client {
	t.Helper()
	o := &redis.Options{Addr: addr, DisableIdentity: true}
	if tune != nil {
		tune(o)
	}
	c := redis.NewClient(o)
	t.Cleanup(func() { c.Close() })
	return c
}

// faultLocker is a Redis backend on addr.
func faultLocker(t *testing.T, addr string, tune func(*redis.Options)) *lock.Redis {
	t.Helper()
	r := lock.NewRedis(faultClient(t, addr, tune), nil)
	t.Cleanup(func() { r.Close() })
	return r
}

// admin is the nemesis's own connection, straight to the server.
func admin(t *testing.T, addr string) *redis.Client {
	t.Helper()
	return faultClient(t, addr, func(o *redis.Options) { o.MaxRetries = -1 })
}

func acquire(t *testing.T, l lock.Locker, key string, ttl time.Duration) *lock.Lease {
	t.Helper()
	lease, err := l.Acquire(context.Background(), lock.Request{Key: key, TTL: ttl})
	if err != nil {
		t.Fatalf("acquire %q: %v", key, err)
	}
	return lease
}

// keep starts the keeper on lease and stops it when the test ends.
func keep(t *testing.T, l lock.Locker, lease *lock.Lease) *lock.Keeper {
	t.Helper()
	k := lock.Keep(context.Background(), l, lease, nil)
	t.Cleanup(k.Stop)
	return k
}

// waitRenewals waits until the keeper has renewed n times.
func waitRenewals(t *testing.T, k *lock.Keeper, n int, limit time.Duration) {
	t.Helper()
	waitUntil(t, limit, "keeper renewals", func() bool { return k.Renewals() >= n })
}

// waitLost returns how long after since the keeper signalled loss, failing
// the test if it did not within limit.
func waitLost(t *testing.T, k *lock.Keeper, since time.Time, limit time.Duration) time.Duration {
	t.Helper()
	select {
	case <-k.Lost():
		return time.Since(since)
	case <-time.After(limit - time.Since(since)):
		t.Fatalf("keeper did not signal loss within %s", limit)
		return 0
	}
}

// waitUntil polls cond until it holds, failing after limit.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(5 * time.Millisecond) // polling state owned by another goroutine or process
	}
}

// lockKeys lists every key the backend wrote (the default prefix).
func lockKeys(t *testing.T, a *redis.Client) []string {
	t.Helper()
	keys, err := a.Keys(context.Background(), lock.DefaultKeyPrefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestFault_keyLoss(t *testing.T) {
	const ttl = 900 * time.Millisecond
	nemeses := map[string]func(a *redis.Client, key string) error{
		"DEL": func(a *redis.Client, key string) error { return a.Del(context.Background(), key).Err() },
		"PEXPIRE 1": func(a *redis.Client, key string) error {
			return a.PExpire(context.Background(), key, time.Millisecond).Err()
		},
	}
	for name, nemesis := range nemeses {
		t.Run(name, func(t *testing.T) {
			srv := locktest.StartServer(t, nil)
			l := faultLocker(t, srv.Addr, nil)
			a := admin(t, srv.Addr)
			k := keep(t, l, acquire(t, l, "deploy/staging", ttl))
			waitRenewals(t, k, 1, 2*ttl)
			start := time.Now()
			for _, key := range lockKeys(t, a) {
				if err := nemesis(a, key); err != nil {
					t.Fatal(err)
				}
			}
			interval := ttl / 3
			took := waitLost(t, k, start, interval+ttl)
			t.Logf("key-loss (%s): loss signalled %s after the nemesis (renewal interval %s)", name, took.Round(time.Millisecond), interval)
			if took > interval+150*time.Millisecond {
				t.Errorf("loss signalled after %s, want within one renewal interval (%s)", took, interval)
			}
			if !errors.Is(k.Err(), lock.ErrNotHeld) {
				t.Errorf("keeper error %v, want ErrNotHeld", k.Err())
			}
			if n := len(lockKeys(t, a)); name == "DEL" && n > 1 {
				t.Errorf("after loss %d lock keys exist; the renewal re-created the lock", n)
			}
		})
	}
}

func TestFault_redisRestart(t *testing.T) {
	const ttl = 900 * time.Millisecond
	srv := locktest.StartServer(t, nil)
	l := faultLocker(t, srv.Addr, nil)
	k := keep(t, l, acquire(t, l, "deploy/staging", ttl))
	waitRenewals(t, k, 1, 2*ttl)
	start := time.Now()
	srv.Restart()
	took := waitLost(t, k, start, 3*ttl)
	t.Logf("redis-restart: loss signalled %s after the restart began (ttl %s); keeper error: %v", took.Round(time.Millisecond), ttl, k.Err())
	if took > ttl {
		t.Errorf("loss signalled after %s, want before the ttl (%s) ran out", took, ttl)
	}
	// The same locker (and client) reconnects and can lock again.
	var lease *lock.Lease
	waitUntil(t, 5*time.Second, "acquire after the restart", func() bool {
		var err error
		lease, err = l.Acquire(context.Background(), lock.Request{Key: "deploy/staging", TTL: ttl})
		return err == nil
	})
	t.Logf("redis-restart: re-acquired %s after the restart began, fence %d", time.Since(start).Round(time.Millisecond), lease.Fence)
}

func TestFault_networkBlackhole(t *testing.T) {
	const ttl = 1500 * time.Millisecond
	srv := locktest.StartServer(t, nil)
	proxy := locktest.StartProxy(t, srv.Addr)
	l := faultLocker(t, proxy.Addr, nil)
	k := keep(t, l, acquire(t, l, "deploy/staging", ttl))
	waitRenewals(t, k, 1, 2*ttl)
	start := time.Now()
	proxy.Blackhole()
	took := waitLost(t, k, start, 3*ttl)
	t.Logf("network-blackhole: loss signalled %s after the blackhole began (ttl %s)", took.Round(time.Millisecond), ttl)
	// The server-side lease ends at most ttl after the last renewal, which
	// was before the blackhole: loss must be known before that.
	if took >= ttl {
		t.Errorf("loss signalled after %s, not before the ttl (%s) ran out", took, ttl)
	}
	if !errors.Is(k.Err(), lock.ErrUnavailable) && !errors.Is(k.Err(), lock.ErrNotHeld) && !errors.Is(k.Err(), context.DeadlineExceeded) {
		t.Errorf("keeper error %v, want unavailable or not held", k.Err())
	}
}

func TestFault_latencyBudget(t *testing.T) {
	const ttl = time.Second
	cases := []struct {
		frac     float64
		wantLoss bool
	}{{0.2, false}, {0.6, true}}
	for _, c := range cases {
		t.Run(time.Duration(c.frac*float64(ttl)).String(), func(t *testing.T) {
			srv := locktest.StartServer(t, nil)
			proxy := locktest.StartProxy(t, srv.Addr)
			l := faultLocker(t, proxy.Addr, nil)
			k := keep(t, l, acquire(t, l, "deploy/staging", ttl))
			proxy.Latency(time.Duration(c.frac * float64(ttl)))
			start := time.Now()
			before := k.Renewals()
			hold := 5 * ttl / 3 // five renewal intervals
			select {
			case <-k.Lost():
			case <-time.After(hold):
			}
			lost := isClosed(k.Lost())
			t.Logf("latency-budget %.1f×ttl: lost=%v after %s, %d renewals in %s (err %v)",
				c.frac, lost, time.Since(start).Round(time.Millisecond), k.Renewals()-before, hold, k.Err())
			if lost != c.wantLoss {
				t.Errorf("lost = %v, want %v", lost, c.wantLoss)
			}
			if !c.wantLoss && k.Renewals()-before < 3 {
				t.Errorf("only %d renewals in %s under budget", k.Renewals()-before, hold)
			}
		})
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func TestFault_noSilentReacquire(t *testing.T) {
	const ttl = 200 * time.Millisecond
	srv := locktest.StartServer(t, nil)
	l := faultLocker(t, srv.Addr, nil)
	ctx := context.Background()
	old := acquire(t, l, "deploy/staging", ttl)
	waitUntil(t, 2*time.Second, "the lease to expire", func() bool {
		return errors.Is(l.Check(ctx, old.Key, old.Token), lock.ErrNotHeld)
	})
	other := acquire(t, l, "deploy/staging", ttl)
	if err := l.Release(ctx, other.Key, other.Token); err != nil {
		t.Fatal(err)
	}
	err := l.Renew(ctx, old.Key, old.Token, ttl)
	if !errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("renew of an expired lease: %v, want ErrNotHeld", err)
	}
	hs, err := lock.HoldersOf(ctx, l, "deploy/staging")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("no-silent-reacquire: renew after expiry → %v; holders afterwards: %d", lock.ErrNotHeld, len(hs))
	if len(hs) != 0 {
		t.Fatalf("the renewal re-created the lock: holders %+v", hs)
	}
	if err := l.Check(ctx, old.Key, old.Token); !errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("check after the failed renewal: %v, want ErrNotHeld", err)
	}
}

func TestFault_releaseNotOwner(t *testing.T) {
	const ttl = 200 * time.Millisecond
	srv := locktest.StartServer(t, nil)
	l := faultLocker(t, srv.Addr, nil)
	ctx := context.Background()
	old := acquire(t, l, "deploy/staging", ttl)
	waitUntil(t, 2*time.Second, "the lease to expire", func() bool {
		return errors.Is(l.Check(ctx, old.Key, old.Token), lock.ErrNotHeld)
	})
	current := acquire(t, l, "deploy/staging", 10*time.Second)
	if err := l.Release(ctx, old.Key, old.Token); !errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("release by the expired holder: %v, want ErrNotHeld", err)
	}
	if err := l.Check(ctx, current.Key, current.Token); err != nil {
		t.Fatalf("the new holder's lock did not survive: %v", err)
	}
	hs, err := lock.HoldersOf(ctx, l, "deploy/staging")
	if err != nil || len(hs) != 1 || hs[0].Fence != current.Fence {
		t.Fatalf("holders %+v, %v; want the new holder (fence %d)", hs, err, current.Fence)
	}
	t.Logf("release-not-owner: stale release → ErrNotHeld; new holder (fence %d > %d) survives", current.Fence, old.Fence)
}

func TestFault_ambiguousAcquire(t *testing.T) {
	srv := locktest.StartServer(t, nil)
	proxy := locktest.StartProxy(t, srv.Addr)
	// No client-side retries: the test is the retry.
	l := faultLocker(t, proxy.Addr, func(o *redis.Options) { o.MaxRetries = -1 })
	direct := faultLocker(t, srv.Addr, nil)
	ctx := context.Background()
	// Warm up: load the scripts, so that the faulted call is the acquire
	// itself and not a script load.
	warm := acquire(t, l, "warm-up", time.Second)
	if err := l.Release(ctx, warm.Key, warm.Token); err != nil {
		t.Fatal(err)
	}
	req := lock.Request{Key: "db/migrate", TTL: 10 * time.Second, Token: lock.NewToken()}
	proxy.ResetPeer()
	_, err := l.Acquire(ctx, req)
	if err == nil {
		t.Fatal("acquire through a reset succeeded; the fault did not happen")
	}
	hs, herr := lock.HoldersOf(ctx, direct, req.Key)
	if herr != nil {
		t.Fatal(herr)
	}
	t.Logf("ambiguous-acquire: first attempt failed with %v; server holders after it: %d", err, len(hs))
	if len(hs) != 1 {
		t.Fatalf("the faulted acquire did not run on the server (holders %d): the retry proves nothing", len(hs))
	}
	proxy.Heal()
	var lease *lock.Lease
	waitUntil(t, 5*time.Second, "the retried acquire", func() bool {
		lease, err = l.Acquire(ctx, req)
		return err == nil
	})
	hs, err = lock.HoldersOf(ctx, direct, req.Key)
	if err != nil || len(hs) != 1 {
		t.Fatalf("holders after the retry: %+v, %v; want exactly one", hs, err)
	}
	if err := l.Release(ctx, lease.Key, lease.Token); err != nil {
		t.Fatalf("release after the retry: %v", err)
	}
	// No orphan: the lock is free for someone else at once.
	if _, err := direct.Acquire(ctx, lock.Request{Key: req.Key, TTL: time.Second}); err != nil {
		t.Fatalf("acquire by another holder after release: %v (orphaned lock)", err)
	}
	t.Logf("ambiguous-acquire: retry with the same token → one holder (fence %d), released cleanly, no orphan", lease.Fence)
}
