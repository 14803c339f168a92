package supervise

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// alive reports whether pid exists and is not a zombie (a zombie's parent
// may be an init that does not reap in containers).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}

// TestProcess_diesWithParent re-executes the test binary as a parent that
// starts a child, churns OS threads (a thread that exits would fire the
// parent-death signal if it had forked the child), reports the child's pid
// and blocks; then it kills the parent with SIGKILL and expects the child to
// die.
func TestProcess_diesWithParent(t *testing.T) {
	dir := t.TempDir()
	parent := exec.Command(os.Args[0], "-test.run=^TestProcessHelperParent$")
	parent.Env = append(os.Environ(), "LOCKSTEP_PROCESS_HELPER="+dir)
	parent.Stderr = os.Stderr
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	defer parent.Process.Kill()
	child := readPid(t, filepath.Join(dir, "child.pid"))
	// The helper writes "churned" after its thread churn; the child must
	// have survived it.
	waitFor(t, "helper to churn threads", 10*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(dir, "churned"))
		return err == nil
	})
	if !alive(child) {
		t.Fatal("child died when unrelated parent threads exited")
	}
	if err := parent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	parent.Wait()
	waitFor(t, "child to die with its parent", 5*time.Second, func() bool { return !alive(child) })
}

// TestProcessHelperParent is the parent process of TestProcess_diesWithParent;
// it does nothing in a normal test run.
func TestProcessHelperParent(t *testing.T) {
	dir := os.Getenv("LOCKSTEP_PROCESS_HELPER")
	if dir == "" {
		t.Skip("helper process only")
	}
	// Start from a goroutine whose thread is thrown away afterwards. The main
	// thread is never terminated (the runtime wedges it instead), so a
	// goroutine that lands on it keeps it and another one tries.
	res := make(chan *Process)
	var start func()
	start = func() {
		runtime.LockOSThread() // exiting while locked terminates this thread
		if syscall.Gettid() == os.Getpid() {
			go start()
			select {} // hold the main thread
		}
		p, err := Start(Spec{Argv: []string{"sleep", "100"}})
		if err != nil {
			panic(err)
		}
		res <- p
	}
	go start()
	p := <-res
	os.WriteFile(filepath.Join(dir, "child.pid"), []byte(strconv.Itoa(p.Pid())+"\n"), 0o644)
	// Every goroutine that exits while locked takes its thread with it;
	// enough of them run on every idle thread, including the one that forked
	// the child unless Start keeps it locked.
	for range 200 {
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() { runtime.LockOSThread() })
		}
		wg.Wait()
	}
	os.WriteFile(filepath.Join(dir, "churned"), nil, 0o644)
	p.Wait()
}
