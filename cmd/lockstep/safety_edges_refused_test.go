package main

import (
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// TestSafety_refusedSubscribe: a Redis user that may run the lock scripts
// but not SSUBSCRIBE (or has no channel permission) waits for a held lock
// with -timeout 2s: exit 5 with the server's reason within 1s, never a hang
// (the refusal used to be dropped and the waiter ignored -timeout).
func TestSafety_refusedSubscribe(t *testing.T) {
	srv := locktest.StartServer(t, nil)
	srv.Restrict()
	holderURL := "redis://:" + locktest.RestrictedPassword + "@" + srv.Addr
	holder := startLockstep(t, "", nil, "exec", "-backend", holderURL, "safety/refused-sub", "--", "teststep", "sleep", "60s")
	a := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: locktest.RestrictedPassword, DisableIdentity: true})
	t.Cleanup(func() { a.Close() })
	waitCond(t, 30*time.Second, "the holder to take the lock", func() bool { return len(liveLockKeys(t, a)) > 0 })
	for _, c := range []struct{ name, user, pass, reason string }{
		{"no ssubscribe", locktest.NoSubUser, locktest.NoSubPassword, "ssubscribe"},
		{"no channel", locktest.NoChanUser, locktest.NoChanPassword, "channel"},
	} {
		t.Run(c.name, func(t *testing.T) {
			url := "redis://" + c.user + ":" + c.pass + "@" + srv.Addr
			start := time.Now()
			p := startLockstep(t, "", nil, "exec", "-backend", url, "-timeout", "2s", "safety/refused-sub", "--", "teststep", "print", "ran")
			code := p.wait(t, 15*time.Second) // a hang is a failure, not a stuck test
			took := time.Since(start)
			stderr := p.stderr.String()
			t.Logf("refused-subscribe (%s): exit %d in %s: %s", c.name, code, took.Round(time.Millisecond), firstLine(stderr+"\n-"))
			if code != exitUnavailable {
				t.Fatalf("exit %d, want %d\nstderr:\n%s", code, exitUnavailable, stderr)
			}
			if strings.Contains(p.stdout.String(), "ran") {
				t.Fatal("the command ran without the lock")
			}
			if !strings.Contains(strings.ToLower(stderr), c.reason) {
				t.Errorf("stderr does not give the server's reason (%q):\n%s", c.reason, stderr)
			}
			if took > time.Second {
				t.Errorf("exit after %s, want within 1s", took)
			}
		})
	}
	holder.cmd.Process.Kill()
}
