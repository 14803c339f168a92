package lock_test

import (
	"context"
	"crypto/tls"
	"errors"
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
