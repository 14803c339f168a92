//go:build unix

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// TestSafety_pausedWaiter: the waiter first in line is stopped (SIGSTOP)
// when the lock is handed to it; its lease runs out, the next waiter takes
// the lock; then the stopped one resumes with the grant in its socket. It
// must never start its command on that stale grant: it confirms the lease,
// finds it gone, queues again and runs after the other. Fences increase in
// enter order; no overlap. (Before the confirmation, the resumed waiter ran
// at once, inside the other's section, with a lower fence.) The paused
// waiter is an exec, then a run's step: the one lifecycle serves both.
func TestSafety_pausedWaiter(t *testing.T) {
	for _, via := range []string{"exec", "run"} {
		t.Run(via, func(t *testing.T) { testPausedWaiter(t, via) })
	}
}

// pausedWaiterStep is the run variant's workflow: the paused waiter's step.
const pausedWaiterStep = `step "first" {
  lock {
    key = "safety/paused-waiter"
    ttl = "3s"
  }
  command = ["teststep", "record", %q, "first", "2s"]
}
`

func testPausedWaiter(t *testing.T, via string) {
	const ttl = 3 * time.Second
	srv := locktest.StartServer(t, nil)
	a := adminClient(t, srv.Addr)
	ctx := context.Background()
	dir := t.TempDir()
	records, release := filepath.Join(dir, "records"), filepath.Join(dir, "release")
	env := []string{"LOCKSTEP_BACKEND=" + srv.URL()}
	exec := func(label, hold string) *proc {
		return startLockstep(t, "", env, "exec", "-ttl", ttl.String(), "safety/paused-waiter", "--",
			"teststep", "record", records, label, hold)
	}
	holder := startLockstep(t, "", env, "exec", "-ttl", ttl.String(), "safety/paused-waiter", "--", "teststep", "wait-file", release)
	waitCond(t, 30*time.Second, "the holder to take the lock", func() bool { return len(liveLockKeys(t, a)) > 0 })
	inspect := lock.NewRedis(a, nil)
	waiters := func() int {
		info, err := inspect.Show(ctx, "safety/paused-waiter")
		if err != nil {
			return -1
		}
		return info.Waiters
	}
	var first *proc
	if via == "exec" {
		first = exec("first", "2s")
	} else {
		wf := filepath.Join(dir, "wf")
		if err := os.MkdirAll(wf, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(wf, "main.hcl"), []byte(fmt.Sprintf(pausedWaiterStep, records)), 0o644); err != nil {
			t.Fatal(err)
		}
		first = startLockstep(t, "", env, "run", wf)
	}
	waitCond(t, 30*time.Second, "the first waiter to queue", func() bool { return waiters() == 1 })
	second := exec("second", "3s")
	waitCond(t, 30*time.Second, "the second waiter to queue", func() bool { return waiters() == 2 })
	if err := syscall.Kill(first.cmd.Process.Pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(first.cmd.Process.Pid, syscall.SIGCONT) })
	if err := os.WriteFile(release, nil, 0o644); err != nil { // the holder ends: the grant goes to the stopped waiter
		t.Fatal(err)
	}
	if code := holder.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("holder exited %d: %s", code, holder.stderr)
	}
	waitCond(t, 30*time.Second, "the second waiter to enter after the stale grant's lease ran out", func() bool {
		b, _ := os.ReadFile(records)
		return strings.Contains(string(b), " second\n")
	})
	resumed := time.Now()
	syscall.Kill(first.cmd.Process.Pid, syscall.SIGCONT)
	for _, p := range []*proc{first, second} {
		if code := p.wait(t, 60*time.Second); code != 0 {
			t.Errorf("%v exited %d: %s", p.cmd.Args[len(p.cmd.Args)-2], code, p.stderr)
		}
	}
	secs := readSections(t, records)
	overlaps, violations := checkOverlapsFile(t, records), fenceViolations(secs)
	t.Logf("paused-waiter: resumed %s after the second waiter entered; sections %+v; %d overlaps, %d fence violations",
		time.Since(resumed).Round(time.Millisecond), secs, overlaps, violations)
	if overlaps != 0 || violations != 0 {
		t.Fatalf("the resumed waiter ran on a stale grant: %d overlaps, %d fence violations", overlaps, violations)
	}
	if len(secs) != 2 || secs[0].label != "second" || secs[1].label != "first" {
		t.Fatalf("sections %+v, want the second waiter's, then the resumed first one's", secs)
	}
}

// TestSafety_pausedHolderTaken: a holder paused past its TTL whose lock was
// taken meanwhile reports, once resumed, that another holder took it (exit
// 4), not that the backend is unavailable.
func TestSafety_pausedHolderTaken(t *testing.T) {
	const ttl = time.Second
	srv := locktest.StartServer(t, nil)
	records := filepath.Join(t.TempDir(), "records")
	env := []string{"LOCKSTEP_BACKEND=" + srv.URL()}
	holder := startLockstep(t, "", env, "exec", "-ttl", ttl.String(), "safety/paused-holder", "--",
		"teststep", "record", records, "holder", "60s")
	waitFile(t, records, 30*time.Second)
	step := readSections(t, records)[0].pid
	pids := []int{holder.cmd.Process.Pid, step}
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGSTOP)
	}
	t.Cleanup(func() {
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGCONT)
		}
	})
	next := startLockstep(t, "", env, "exec", "-ttl", "30s", "safety/paused-holder", "--", "teststep", "record", records, "next", "5s")
	waitCond(t, 30*time.Second, "the next holder to take the lock", func() bool {
		b, _ := os.ReadFile(records)
		return strings.Contains(string(b), " next\n")
	})
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGCONT)
	}
	code := holder.wait(t, 30*time.Second)
	stderr := holder.stderr.String()
	t.Logf("paused holder, lock taken meanwhile: exit %d: %s", code, firstLine(stderr+"\n-"))
	if code != exitLost {
		t.Fatalf("exit %d, want %d\nstderr:\n%s", code, exitLost, stderr)
	}
	if !strings.Contains(stderr, "taken by another holder") || strings.Contains(stderr, "unavailable") {
		t.Fatalf("stderr does not say another holder took the lock:\n%s", stderr)
	}
	next.cmd.Process.Kill()
}
