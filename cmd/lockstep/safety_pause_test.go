//go:build unix

package main

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// TestSafety_processPause: the holder (lockstep and its step) is paused with
// SIGSTOP past its TTL, as a stopped VM or a long GC pause would be. Another
// replica takes the lock; when the holder resumes, lockstep finds the lease
// lost and terminates the step (exit 4). The paused step was inside its
// critical section while the new holder entered: this is the overlap a lease
// cannot prevent (docs/guarantees.md), and the fencing tokens show how a
// protected resource tells the two apart.
func TestSafety_processPause(t *testing.T) {
	const ttl = time.Second
	srv := locktest.StartServer(t, nil)
	records := filepath.Join(t.TempDir(), "records")
	env := []string{"LOCKSTEP_BACKEND=" + srv.URL()}
	holder := startLockstep(t, "", env, "exec", "-ttl", ttl.String(), "safety/pause", "--",
		"teststep", "record", records, "holder", "60s")
	waitFile(t, records, 30*time.Second)
	old := readSections(t, records)[0]
	pids := []int{holder.cmd.Process.Pid, old.pid}
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGCONT)
		}
	})
	paused := monotonicNS()
	next := startLockstep(t, "", env, "exec", "-ttl", ttl.String(), "safety/pause", "--",
		"teststep", "record", records, "next", "1ms")
	if code := next.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("next replica exited %d: %s", code, next.stderr)
	}
	var fresh section
	for _, s := range readSections(t, records) {
		if s.label == "next" {
			fresh = s
		}
	}
	resumed := time.Now()
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGCONT)
	}
	code := holder.wait(t, 30*time.Second)
	stepGone := waitCond(t, 15*time.Second, "the resumed holder's step to die", func() bool { return !alive(old.pid) })
	t.Logf("process-pause: holder paused; next replica entered %s later with fence %d (paused holder's fence %d); after SIGCONT lockstep exited %d in %s, step gone %s after SIGCONT; the paused step overlapped the next holder (by design of a lease: fencing rejects it)",
		time.Duration(fresh.enter-paused).Round(time.Millisecond), fresh.fence, old.fence, code,
		time.Since(resumed).Round(time.Millisecond), stepGone.Round(time.Millisecond))
	if took := time.Duration(fresh.enter - paused); took > ttl+time.Second {
		t.Errorf("next replica waited %s for a paused holder's lease, want within ttl + 1s", took)
	}
	if fresh.fence <= old.fence {
		t.Errorf("next holder's fence %d is not above the paused holder's %d", fresh.fence, old.fence)
	}
	if code != exitLost {
		t.Errorf("resumed holder exited %d, want %d (lock lost)\nstderr:\n%s", code, exitLost, holder.stderr)
	}
	if stepGone > ttl {
		t.Errorf("the resumed step ran on %s after SIGCONT, want under the ttl", stepGone)
	}
}

// TestSafety_latencyUnderBudget: replies delayed by 0.2 × TTL on every round
// trip do not make lockstep give up a lease it still holds: a step twice the
// TTL long (six renewals) completes and lockstep exits 0.
func TestSafety_latencyUnderBudget(t *testing.T) {
	const ttl = time.Second
	srv := locktest.StartServer(t, nil)
	proxy := locktest.StartProxy(t, srv.Addr)
	proxy.Latency(ttl / 5)
	lockstepBin(t)
	start := time.Now()
	code, p := runLockstep(t, "", []string{"LOCKSTEP_BACKEND=" + proxy.URL()}, "exec", "-ttl", ttl.String(), "safety/slow-link", "--",
		"teststep", "sleep", (2 * ttl).String(), "print", "finished")
	t.Logf("latency-budget (process): %s reply latency, ttl %s, a %s step: exit %d after %s; stderr: %s",
		ttl/5, ttl, 2*ttl, code, time.Since(start).Round(time.Millisecond), firstLine(p.stderr.String()+"\n-"))
	if code != 0 || !strings.Contains(p.stdout.String(), "finished") {
		t.Fatalf("a slow but working link lost the lock: exit %d\nstderr:\n%s", code, p.stderr)
	}
}

// TestSafety_lossIgnoringTerm: a step that ignores SIGTERM is killed
// kill_timeout after its lock is lost, with its whole process group.
func TestSafety_lossIgnoringTerm(t *testing.T) {
	const ttl, grace = time.Second, 500 * time.Millisecond
	srv := locktest.StartServer(t, nil)
	a := adminClient(t, srv.Addr)
	dir := t.TempDir()
	records, pidFile := filepath.Join(dir, "records"), filepath.Join(dir, "grandchild")
	ls := startLockstep(t, "", []string{"LOCKSTEP_BACKEND=" + srv.URL()}, "exec", "-ttl", ttl.String(),
		"-kill-timeout", grace.String(), "safety/stubborn", "--",
		"teststep", "ignore-term", "spawn-sleep", pidFile, "60s", "record", records, "step", "60s")
	waitFile(t, records, 30*time.Second)
	child, grandchild := readSections(t, records)[0].pid, readPid(t, pidFile)
	for _, k := range liveLockKeys(t, a) {
		a.Del(context.Background(), k)
	}
	gone := waitCond(t, 15*time.Second, "the stubborn step's group to die", func() bool {
		return !alive(child) && !alive(grandchild)
	})
	code := ls.wait(t, 30*time.Second)
	t.Logf("loss with a step ignoring SIGTERM: group killed %s after the key was deleted (renewal interval %s + kill_timeout %s); exit %d",
		gone.Round(time.Millisecond), ttl/3, grace, code)
	if code != exitLost {
		t.Errorf("exit %d, want %d\nstderr:\n%s", code, exitLost, ls.stderr)
	}
	if limit := ttl/3 + grace + 500*time.Millisecond; gone > limit {
		t.Errorf("the step outlived the loss by %s, want within %s", gone, limit)
	}
	if gone < grace {
		t.Errorf("the step died %s after the loss, before kill_timeout %s: did it get SIGKILL first?", gone, grace)
	}
}
