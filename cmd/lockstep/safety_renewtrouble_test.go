package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// renewTroubleWorkflow writes a workflow whose step takes lock
// "deploy/prod" with ttl, touches "started" and then waits (up to a minute)
// for the file "finish", in a new directory that it returns.
func renewTroubleWorkflow(t *testing.T, ttl time.Duration) string {
	t.Helper()
	dir := t.TempDir()
	src := fmt.Sprintf(`step "deploy" {
  lock {
    key = "deploy/prod"
    ttl = %q
  }
  kill_timeout = "1s"
  command      = ["teststep", "touch", "started", "wait-file", "finish"]
}
`, ttl)
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// waitStarted waits for the step of renewTroubleWorkflow to start.
func waitStarted(t *testing.T, dir string, p *proc) {
	t.Helper()
	waitCond(t, 30*time.Second, "the step to start", func() bool {
		_, err := os.Stat(filepath.Join(dir, "started"))
		return err == nil || p.exited()
	})
	if p.exited() {
		t.Fatalf("lockstep exited %d before its step started\nstderr:\n%s", p.code, p.stderr)
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// The renewal warning and the loss, with the cause each gives.
var (
	renewWarning = regexp.MustCompile(`step\.deploy: Lock "deploy/prod" not renewed for \S+ \(([^)]*)\); lost in \S+ unless the backend answers`)
	renewLoss    = regexp.MustCompile(`step\.deploy: Lost lock "deploy/prod"; stopping the step: not renewed for \S+ \(([^)]*)\)`)
	// A dead server's causes: a refused connection, the pooled one closed.
	deadServerCause = regexp.MustCompile(`connection refused|EOF|connection reset|broken pipe`)
)

// TestSafety_renewTroubleRedisKilled (issue 11.7): the redis-server is
// killed while a step holds a lock with a 3s TTL. Within about one renewal
// interval lockstep warns on stderr that the lock is not renewed, why, and
// how long it has left; then the loss names the same cause, and the run
// exits 4. Bounds are loose: a loaded machine delays everything.
func TestSafety_renewTroubleRedisKilled(t *testing.T) {
	const ttl = 3 * time.Second
	srv := locktest.StartServer(t, nil)
	dir := renewTroubleWorkflow(t, ttl)
	p := startLockstep(t, dir, []string{"LOCKSTEP_BACKEND=" + srv.URL()}, "run", ".")
	waitStarted(t, dir, p)
	killed := time.Now()
	srv.Stop()
	warned := waitCond(t, ttl/3+10*time.Second, "the renewal warning", func() bool {
		return renewWarning.MatchString(p.stderr.String()) || p.exited()
	})
	code := p.wait(t, ttl+30*time.Second)
	lost := time.Since(killed)
	stderr := p.stderr.String()
	t.Logf("redis killed mid-step (ttl %s): waited %s for the warning, exit %d %s after the kill\n%s",
		ttl, warned.Round(time.Millisecond), code, lost.Round(time.Millisecond), stderr)
	warn, loss := renewWarning.FindStringSubmatchIndex(stderr), renewLoss.FindStringSubmatchIndex(stderr)
	switch {
	case code != exitLost:
		t.Fatalf("exit %d, want %d (lock lost)", code, exitLost)
	case warn == nil:
		t.Fatal("no renewal warning on stderr before the run ended")
	case loss == nil:
		t.Fatal("the loss does not name its cause")
	case loss[0] < warn[0]:
		t.Fatal("the warning came after the loss")
	}
	for what, m := range map[string][]int{"warning": warn, "loss": loss} {
		if cause := stderr[m[2]:m[3]]; !deadServerCause.MatchString(cause) {
			t.Errorf("the %s gives the cause %q, want a refused or closed connection", what, cause)
		}
	}
	if warned > ttl/3+5*time.Second {
		t.Errorf("the warning came %s after the kill, want within about one renewal interval (%s)", warned, ttl/3)
	}
}

// TestSafety_renewTroubleRecovered: the backend goes away (a proxy stops
// listening and drops every connection) and comes back before the lease
// runs out: a warning, then a line saying the lock is kept; the step goes
// on and the run succeeds.
func TestSafety_renewTroubleRecovered(t *testing.T) {
	const ttl = 6 * time.Second
	srv := locktest.StartServer(t, nil)
	proxy := locktest.StartProxy(t, srv.Addr)
	dir := renewTroubleWorkflow(t, ttl)
	p := startLockstep(t, dir, []string{"LOCKSTEP_BACKEND=" + proxy.URL()}, "run", ".")
	waitStarted(t, dir, p)
	proxy.Disable()
	waitCond(t, ttl, "the renewal warning", func() bool {
		return renewWarning.MatchString(p.stderr.String()) || p.exited()
	})
	proxy.Enable()
	waitCond(t, ttl+10*time.Second, "the recovery", func() bool {
		return strings.Contains(p.stderr.String(), `step.deploy: Lock "deploy/prod" renewed again; kept`) || p.exited()
	})
	if err := os.WriteFile(filepath.Join(dir, "finish"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	code := p.wait(t, 30*time.Second)
	t.Logf("backend away and back (ttl %s): exit %d\n%s", ttl, code, p.stderr)
	if code != 0 {
		t.Fatalf("exit %d, want 0: the lock was kept", code)
	}
	if m := renewWarning.FindStringSubmatch(p.stderr.String()); m == nil || !deadServerCause.MatchString(m[1]) {
		t.Errorf("no renewal warning naming a refused or closed connection")
	}
}
