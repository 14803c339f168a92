package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// TestSafety_blackholeExit: after a network blackhole takes the lock (no
// renewal can succeed), lockstep stops the step and then exits promptly:
// the release of a lease it already knows lost is bounded (it used to wait
// out 5s on the dead link).
func TestSafety_blackholeExit(t *testing.T) {
	const ttl = 2 * time.Second
	srv := locktest.StartServer(t, nil)
	p := locktest.StartProxy(t, srv.Addr)
	records := filepath.Join(t.TempDir(), "records")
	ls := startLockstep(t, "", []string{"LOCKSTEP_BACKEND=" + p.URL()}, "exec", "-ttl", ttl.String(), "safety/blackhole-exit", "--",
		"teststep", "record", records, "step", "60s")
	waitFile(t, records, 30*time.Second)
	step := readSections(t, records)[0].pid
	start := time.Now()
	p.Blackhole()
	stepGone := waitCond(t, ttl+30*time.Second, "the step to die", func() bool { return !alive(step) })
	code := ls.wait(t, ttl+30*time.Second)
	exited := time.Since(start)
	after := exited - stepGone
	t.Logf("blackhole: step stopped %s after the blackhole (ttl %s); lockstep exited %d, %s after the step stopped",
		stepGone.Round(time.Millisecond), ttl, code, after.Round(time.Millisecond))
	if code != exitLost {
		t.Fatalf("exit %d, want %d\nstderr:\n%s", code, exitLost, ls.stderr)
	}
	if after > time.Second {
		t.Errorf("lockstep exited %s after its step stopped, want within 1s (the release of a lost lease is bounded)", after)
	}
}
