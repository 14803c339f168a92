//go:build unix

package supervise

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond) // polling external process state
	}
}

// readPid waits for path to hold a pid and returns it.
func readPid(t *testing.T, path string) int {
	t.Helper()
	var pid int
	waitFor(t, "pid file "+path, 10*time.Second, func() bool {
		b, err := os.ReadFile(path)
		if err != nil || !bytes.HasSuffix(b, []byte("\n")) {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	return pid
}

func TestStart_exitCodes(t *testing.T) {
	for _, tc := range []struct {
		script string
		want   int
	}{
		{"exit 0", 0},
		{"exit 7", 7},
		{"kill -TERM $$", 128 + int(syscall.SIGTERM)},
		{"kill -KILL $$", 128 + int(syscall.SIGKILL)},
	} {
		t.Run(tc.script, func(t *testing.T) {
			p, err := Start(Spec{Argv: []string{"/bin/sh", "-c", tc.script}})
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Wait(); got != tc.want {
				t.Errorf("exit code %d, want %d", got, tc.want)
			}
			select {
			case <-p.Done():
			default:
				t.Error("Done not closed after Wait returned")
			}
		})
	}
}

func TestStart_ioAndEnv(t *testing.T) {
	var out, errOut bytes.Buffer
	p, err := Start(Spec{
		Argv:   []string{"/bin/sh", "-c", `echo "$GREETING"; echo oops >&2; cat; pwd`},
		Env:    []string{"GREETING=hello", "PATH=/usr/bin:/bin"},
		Dir:    "/",
		Stdout: &out,
		Stderr: &errOut,
	})
	if err != nil {
		t.Fatal(err)
	}
	if code := p.Wait(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	// cat reads the default stdin, /dev/null, so it prints nothing.
	if got := out.String(); got != "hello\n/\n" {
		t.Errorf("stdout %q", got)
	}
	if got := errOut.String(); got != "oops\n" {
		t.Errorf("stderr %q", got)
	}
}

func TestStart_notFound(t *testing.T) {
	_, err := Start(Spec{Argv: []string{"/nonexistent/program"}})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want not exist", err)
	}
	if _, err := Start(Spec{}); err == nil {
		t.Error("empty argv started")
	}
}

func TestProcess_terminateReachesGrandchildren(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "grandchild.pid")
	// The shell waits for a background sleep: the sleep is a grandchild in
	// the same group.
	p, err := Start(Spec{
		Argv:        []string{"/bin/sh", "-c", `sleep 100 & echo $! > "$0"; wait`, pidFile},
		KillTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	grandchild := readPid(t, pidFile)
	if pgid, err := syscall.Getpgid(grandchild); err != nil || pgid != p.Pid() {
		t.Fatalf("grandchild pgid %d (%v), want %d", pgid, err, p.Pid())
	}
	p.Terminate()
	p.Terminate() // safe twice
	if code := p.Wait(); code != 128+int(syscall.SIGTERM) {
		t.Errorf("exit code %d, want %d", code, 128+int(syscall.SIGTERM))
	}
	waitFor(t, "grandchild to die", 5*time.Second, func() bool { return !alive(grandchild) })
}

func TestProcess_terminateEscalatesToKill(t *testing.T) {
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	// trap "" TERM makes the shell and its children ignore SIGTERM.
	p, err := Start(Spec{
		Argv:        []string{"/bin/sh", "-c", `trap "" TERM; echo $$ > "$0"; while :; do sleep 1; done`, ready},
		KillTimeout: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	readPid(t, ready)
	start := time.Now()
	p.Terminate()
	if code := p.Wait(); code != 128+int(syscall.SIGKILL) {
		t.Errorf("exit code %d, want %d (SIGKILL)", code, 128+int(syscall.SIGKILL))
	}
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Errorf("killed after %s, before the 200ms grace", waited)
	}
}

func TestProcess_killGroupOutlivingLeader(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "grandchild.pid")
	// The leader exits at once, leaving a grandchild that ignores SIGTERM.
	p, err := Start(Spec{
		Argv:        []string{"/bin/sh", "-c", `(trap "" TERM; sleep 100) & echo $! > "$0"`, pidFile},
		KillTimeout: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	grandchild := readPid(t, pidFile)
	p.Wait()
	if !alive(grandchild) {
		t.Fatal("grandchild died with its parent; the test proves nothing")
	}
	p.Terminate()
	waitFor(t, "grandchild to be killed", 5*time.Second, func() bool { return !alive(grandchild) })
}

// TestProcess_leftover: Leftover is false for a command that left nothing in
// its group, true while a background job it started still runs, and false
// once Terminate stopped that job.
func TestProcess_leftover(t *testing.T) {
	p, err := Start(Spec{Argv: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Leftover() {
		t.Error("true left something running in its group")
	}
	pidFile := filepath.Join(t.TempDir(), "job.pid")
	q, err := Start(Spec{Argv: []string{"/bin/sh", "-c", `sleep 100 >/dev/null 2>&1 & echo $! > "$0"`, pidFile},
		KillTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	job := readPid(t, pidFile)
	t.Cleanup(func() { syscall.Kill(job, syscall.SIGKILL) })
	if !q.Leftover() {
		t.Fatal("the background job was not seen after the shell exited")
	}
	q.Terminate()
	select {
	case <-q.Stopped():
	case <-time.After(5 * time.Second):
		t.Fatal("the background job was not stopped")
	}
	if alive(job) || q.Leftover() {
		t.Error("the background job runs on after Stopped")
	}
}
