package supervise

// These tests run on Windows only; this project's CI compiles and vets them
// (GOOS=windows go vet) but has no Windows machine to run them on.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/windows"
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

// alive reports whether process pid is still running.
func alive(pid int) bool {
	h, err := windows.OpenProcess(windows.SYNCHRONIZE, false, uint32(pid))
	if err != nil {
		return false
	}
	defer windows.CloseHandle(h)
	ev, err := windows.WaitForSingleObject(h, 0)
	return err == nil && ev == uint32(windows.WAIT_TIMEOUT)
}

func TestStart_exitCodesWindows(t *testing.T) {
	for _, code := range []int{0, 7} {
		p, err := Start(Spec{Argv: []string{"cmd", "/c", "exit " + strconv.Itoa(code)}})
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Wait(); got != code {
			t.Errorf("exit code %d, want %d", got, code)
		}
	}
}

// TestProcess_terminateEmptiesJob: a command's grandchild is in its job, so
// Terminate (Ctrl-Break, then TerminateJobObject after the kill timeout)
// leaves the job empty before Stopped is closed.
func TestProcess_terminateEmptiesJob(t *testing.T) {
	p, err := Start(Spec{Argv: []string{"cmd", "/c", "ping -n 100 127.0.0.1 >NUL"}, KillTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the grandchild to start", 10*time.Second, func() bool {
		n, err := p.activeProcesses()
		return err == nil && n >= 2
	})
	p.Terminate()
	select {
	case <-p.Stopped():
	case <-time.After(10 * time.Second):
		t.Fatal("Stopped not closed")
	}
	if p.hasLiveMember() {
		t.Error("the job still has a process after Stopped")
	}
	p.Wait()
}

// TestProcess_diesWithParentWindows: TerminateProcess of the parent closes its
// job handles, and kill-on-close takes the command with it.
func TestProcess_diesWithParentWindows(t *testing.T) {
	dir := t.TempDir()
	parent := exec.Command(os.Args[0], "-test.run=^TestProcessHelperParentWindows$")
	parent.Env = append(os.Environ(), "LOCKSTEP_PROCESS_HELPER="+dir)
	parent.Stderr = os.Stderr
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	defer parent.Process.Kill()
	var child int
	waitFor(t, "the child's pid", 10*time.Second, func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "child.pid"))
		if err != nil || !strings.HasSuffix(string(b), "\n") {
			return false
		}
		child, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	if !alive(child) {
		t.Fatal("the child is not running; the test proves nothing")
	}
	if err := parent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	parent.Wait()
	waitFor(t, "the child to die with its parent", 10*time.Second, func() bool { return !alive(child) })
}

// TestProcessHelperParentWindows is the parent of
// TestProcess_diesWithParentWindows; it does nothing in a normal test run.
func TestProcessHelperParentWindows(t *testing.T) {
	dir := os.Getenv("LOCKSTEP_PROCESS_HELPER")
	if dir == "" {
		t.Skip("helper process only")
	}
	p, err := Start(Spec{Argv: []string{"ping", "-n", "100", "127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "child.pid"), []byte(strconv.Itoa(p.Pid())+"\n"), 0o644)
	p.Wait()
}
