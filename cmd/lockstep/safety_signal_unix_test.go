//go:build unix

package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// otherSignalWorkflow holds a lock with a 30s TTL while its step runs: a
// lockstep that dies without releasing leaves the lock for about 30s.
const otherSignalWorkflow = `
variable "case" { type = string }

step "job" {
  lock {
    key = "signal/${var.case}"
    ttl = "30s"
  }
  kill_timeout = "5s"
  shell = "touch started; while :; do echo tick; sleep 0.05; done"
}
`

// TestSafety_otherSignals (TESTING.md "other-signals"): SIGHUP (a closed
// terminal), SIGQUIT and a broken stdout (`lockstep run | head`) during a
// step stop the step, release the lock within 1s and exit 128+n, for run
// and exec. Before the fix the lock stayed held for its whole TTL.
func TestSafety_otherSignals(t *testing.T) {
	srv := locktest.StartServer(t, nil)
	a := adminClient(t, srv.Addr)
	env := []string{"LOCKSTEP_BACKEND=" + srv.URL()}
	cases := []struct {
		name string
		exec bool
		sig  syscall.Signal // 0: close the reader of lockstep's stdout
		want int
	}{
		{"run/SIGHUP", false, syscall.SIGHUP, 129},
		{"run/SIGQUIT", false, syscall.SIGQUIT, 131},
		{"run/broken-stdout", false, 0, 141},
		{"exec/SIGHUP", true, syscall.SIGHUP, 129},
		{"exec/SIGQUIT", true, syscall.SIGQUIT, 131},
		{"exec/SIGPIPE", true, syscall.SIGPIPE, 141},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeWorkflow(t, map[string]string{"main.hcl": otherSignalWorkflow})
			// A key per case: a lock left behind by one case must not hold
			// up the next.
			args := []string{"run", "-var", "case=" + c.name, "."}
			if c.exec {
				args = []string{"exec", "-ttl", "30s", "-kill-timeout", "5s", "signal/" + c.name, "--",
					"sh", "-c", "touch started; while :; do echo tick; sleep 0.05; done"}
			}
			p, stdout := startWithPipe(t, dir, env, args...)
			waitCond(t, 30*time.Second, "the step to start", func() bool {
				select {
				case <-p.done:
					t.Fatalf("lockstep exited %d before the step started\nstderr:\n%s", p.code, p.stderr)
				default:
				}
				_, err := os.Stat(filepath.Join(dir, "started"))
				return err == nil
			})
			waitCond(t, 10*time.Second, "the lock to be held", func() bool { return len(liveLockKeys(t, a)) > 0 })
			br := bufio.NewReader(stdout)
			if _, err := br.ReadString('\n'); err != nil {
				t.Fatalf("read the step's first line: %v", err)
			}
			if c.sig == 0 {
				stdout.Close() // the next write to lockstep's stdout fails: EPIPE
			} else {
				go func() { // keep draining, so only the signal matters
					for {
						if _, err := br.ReadString('\n'); err != nil {
							return
						}
					}
				}()
				p.cmd.Process.Signal(c.sig)
			}
			gone, released := pollUntil(3*time.Second, func() bool { return len(liveLockKeys(t, a)) == 0 })
			if !released {
				t.Errorf("lock still held %s after the %s (ttl 30s): lockstep did not release it", gone.Round(time.Millisecond), c.name)
			}
			p.wait(t, 15*time.Second)
			st := p.cmd.ProcessState
			if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				t.Errorf("lockstep was killed by %s instead of exiting %d\nstderr:\n%s", ws.Signal(), c.want, p.stderr)
			} else if st.ExitCode() != c.want {
				t.Errorf("exit %d, want %d\nstderr:\n%s", st.ExitCode(), c.want, p.stderr)
			}
			t.Logf("other-signals %s: lock released %s after it, exit %d (want %d)", c.name, gone.Round(time.Millisecond), st.ExitCode(), c.want)
		})
	}
}

// TestSignals_ignoredAtStart: a lockstep whose parent ignored SIGHUP and
// SIGINT (`nohup lockstep run &`; a background job of a non-interactive
// shell, which gets SIGINT ignored) keeps them ignored: the step finishes
// and lockstep exits 0. Before the fix it caught them again and stopped,
// exit 129, when the terminal closed. TestSafety_otherSignals is the
// canary: without the ignoring parent the same SIGHUP stops it.
func TestSignals_ignoredAtStart(t *testing.T) {
	dir := writeWorkflow(t, map[string]string{"main.hcl": `
step "job" {
  lock {
    key = "nohup"
  }
  shell = "touch started; while [ ! -e go ]; do sleep 0.05; done; echo finished"
}
`})
	p := startProgram(t, dir, nil, "sh", "-c", `trap "" HUP INT; exec "$0" "$@"`, lockstepBin(t), "run", ".")
	waitCond(t, 30*time.Second, "the step to start", func() bool {
		_, err := os.Stat(filepath.Join(dir, "started"))
		return err == nil
	})
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGINT} {
		if err := p.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
	}
	// The step waits for the go file: a lockstep that caught the signals
	// stops it and exits within this wait.
	select {
	case <-p.done:
		t.Fatalf("lockstep exited %d after the ignored signals\nstderr:\n%s", p.code, p.stderr)
	case <-time.After(2 * time.Second):
	}
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d, want 0 (the signals were ignored when it started)\nstderr:\n%s", code, p.stderr)
	}
	if !strings.Contains(p.stdout.String(), "finished") {
		t.Errorf("the step did not finish; stdout:\n%s", p.stdout)
	}
}

// startWithPipe starts the built lockstep as startLockstep does, but with its
// stdout on a pipe whose read end the test holds (and may close).
func startWithPipe(t *testing.T, dir string, env []string, args ...string) (*proc, *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(lockstepBin(t), args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TMPDIR=" + os.TempDir(),
		"XDG_RUNTIME_DIR=", "NO_COLOR=1", raceNoExitSleep}, env...)
	p := &proc{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = w, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start lockstep: %v", err)
	}
	w.Close()
	go func() {
		err := cmd.Wait()
		p.code = procExitCode(err)
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
		r.Close()
	})
	return p, r
}
