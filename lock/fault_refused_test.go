package lock_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// TestFault_refused: a backend that refuses us (authentication, ACL, TLS
// mismatch) is ErrUnavailable, never ErrBusy, so the CLI exits 5 with the
// reason instead of 3.
func TestFault_refused(t *testing.T) {
	srv := locktest.StartServer(t, nil)
	srv.Restrict()
	cases := []struct {
		name string
		tune func(*redis.Options)
	}{
		{"no password", nil},
		{"wrong password", func(o *redis.Options) { o.Password = "wrong" }},
		{"acl denies scripts", func(o *redis.Options) { o.Username, o.Password = locktest.ReaderUser, locktest.ReaderPassword }},
		{"tls to a plain server", func(o *redis.Options) {
			o.TLSConfig = &tls.Config{InsecureSkipVerify: true}
			o.DialTimeout, o.ReadTimeout, o.WriteTimeout = time.Second, time.Second, time.Second
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := faultLocker(t, srv.Addr, func(o *redis.Options) {
				o.MaxRetries = -1
				if c.tune != nil {
					c.tune(o)
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err := l.Acquire(ctx, lock.Request{Key: "deploy/staging", TTL: time.Second})
			t.Logf("refused (%s): %v", c.name, err)
			if !errors.Is(err, lock.ErrUnavailable) {
				t.Fatalf("acquire: %v, want ErrUnavailable", err)
			}
			if errors.Is(err, lock.ErrBusy) {
				t.Fatalf("acquire: %v is reported as busy", err)
			}
			// The acquire stays within the 10 arguments the server accepts
			// before authentication (it used to get "ERR Protocol error:
			// unauthenticated multibulk length").
			if c.name == "no password" && !strings.Contains(err.Error(), "authentication required") {
				t.Fatalf("acquire without a password: %v, want it to say authentication is required", err)
			}
		})
	}
}

// TestFault_evictionWarning: a maxmemory-policy that may evict lock keys is
// reported; noeviction is not.
func TestFault_evictionWarning(t *testing.T) {
	for _, c := range []struct {
		policy string
		warn   bool
	}{{"noeviction", false}, {"allkeys-lru", true}, {"volatile-ttl", true}} {
		t.Run(c.policy, func(t *testing.T) {
			srv := locktest.StartServer(t, &locktest.ServerOptions{Args: []string{"--maxmemory-policy", c.policy}})
			l := faultLocker(t, srv.Addr, nil)
			w := l.EvictionWarning(context.Background())
			t.Logf("maxmemory-policy %s: warning %q", c.policy, w)
			if (w != "") != c.warn {
				t.Fatalf("warning %q, want a warning: %v", w, c.warn)
			}
		})
	}
}

// TestFault_refusedSubscription: a user that may run the lock scripts but
// not SSUBSCRIBE (or has no channel permission) waits for a held lock. The
// refusal surfaces at once as ErrUnavailable with the server's reason,
// whatever the wait's length; it used to be dropped, and the waiter hung.
func TestFault_refusedSubscription(t *testing.T) {
	srv := locktest.StartServer(t, nil)
	srv.Restrict()
	holder := faultLocker(t, srv.Addr, func(o *redis.Options) { o.Password = locktest.RestrictedPassword })
	if _, err := holder.Acquire(context.Background(), lock.Request{Key: "deploy/staging", TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, user, pass, reason string }{
		{"no ssubscribe", locktest.NoSubUser, locktest.NoSubPassword, "ssubscribe"},
		{"no channel", locktest.NoChanUser, locktest.NoChanPassword, "channel"},
	} {
		for _, wait := range []time.Duration{lock.WaitForever, 30 * time.Second} {
			t.Run(fmt.Sprintf("%s/wait=%s", c.name, waitName(wait)), func(t *testing.T) {
				l := faultLocker(t, srv.Addr, func(o *redis.Options) { o.Username, o.Password = c.user, c.pass })
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				start := time.Now()
				_, err := l.Acquire(ctx, lock.Request{Key: "deploy/staging", TTL: time.Second, Wait: wait})
				took := time.Since(start)
				t.Logf("refused subscription (%s, wait %s): %v after %s", c.name, wait, err, took.Round(time.Millisecond))
				if !errors.Is(err, lock.ErrUnavailable) || errors.Is(err, lock.ErrBusy) {
					t.Fatalf("acquire: %v, want ErrUnavailable", err)
				}
				if !strings.Contains(strings.ToLower(err.Error()), c.reason) {
					t.Errorf("error %q does not give the server's reason (%s)", err, c.reason)
				}
				if took > time.Second {
					t.Errorf("the refusal took %s to surface, want under 1s", took)
				}
				if hs, _ := lock.HoldersOf(context.Background(), holder, "deploy/staging"); len(hs) != 1 {
					t.Errorf("holders after the refused waiter: %d, want the one holder", len(hs))
				}
				if info, _ := holder.Show(context.Background(), "deploy/staging"); info.Waiters != 0 {
					t.Errorf("the refused waiter left %d queue entries", info.Waiters)
				}
			})
		}
	}
}

func waitName(d time.Duration) string {
	if d == lock.WaitForever {
		return "forever"
	}
	return d.String()
}
