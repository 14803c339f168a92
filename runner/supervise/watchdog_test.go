//go:build unix

package supervise

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// TestMain lets the test binary serve as its own watchdog, as the lockstep
// binary does: startWatchdog re-executes it with WatchdogArg.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == WatchdogArg {
		os.Exit(WatchdogMain(os.Stdin))
	}
	os.Exit(m.Run())
}

// Helper modes of TestWatchdogHelperParent.
const (
	helperWatchdog   = "watchdog"    // watchdog on, the step keeps running
	helperNoWatchdog = "no-watchdog" // watchdog off (the canary)
	helperLinger     = "linger"      // watchdog on, the step's leader exits first
	helperLeak       = "leak"        // watchdog on, its pipe's write end leaked
	// As on macOS: no parent-death signal for the step, the watchdog started
	// before it, and the canary of that without the watchdog.
	helperAsMacOS           = "as-macos"
	helperAsMacOSNoWatchdog = "as-macos-no-watchdog"
)

// withWatchdog reports whether the helper mode enables the watchdog.
func withWatchdog(mode string) bool {
	return mode != helperNoWatchdog && mode != helperAsMacOSNoWatchdog
}

// crashedParent re-executes the test binary as a parent that starts a step
// whose grandchild (in the step's group) records its pid, waits for the
// parent to be ready, kills it with SIGKILL and returns the grandchild's pid
// and the watchdog's (0 without one), and the step's own pid.
func crashedParent(t *testing.T, mode string) (child, grandchild, watchdogPid int) {
	t.Helper()
	dir := t.TempDir()
	parent := exec.Command(os.Args[0], "-test.run=^TestWatchdogHelperParent$")
	parent.Env = append(os.Environ(), "LOCKSTEP_WATCHDOG_HELPER="+dir, "LOCKSTEP_WATCHDOG_MODE="+mode)
	parent.Stdout = os.Stderr // the helper's failure report
	parent.Stderr = os.Stderr
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	defer parent.Process.Kill()
	child = readPid(t, filepath.Join(dir, "child.pid"))
	grandchild = readPid(t, filepath.Join(dir, "grandchild.pid"))
	t.Cleanup(func() {
		syscall.Kill(child, syscall.SIGKILL)
		syscall.Kill(grandchild, syscall.SIGKILL)
	})
	if withWatchdog(mode) {
		watchdogPid = readPid(t, filepath.Join(dir, "watchdog.pid"))
		t.Cleanup(func() { syscall.Kill(watchdogPid, syscall.SIGKILL) })
	}
	if mode == helperLeak {
		holder := readPid(t, filepath.Join(dir, "leak.pid"))
		t.Cleanup(func() { syscall.Kill(holder, syscall.SIGKILL) })
	}
	readPid(t, filepath.Join(dir, "ready"))
	if !alive(grandchild) {
		t.Fatal("the grandchild died before its parent was killed; the test proves nothing")
	}
	if err := parent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	parent.Wait()
	return child, grandchild, watchdogPid
}

// TestWatchdog_killsGroupOfKilledParent: kill -9 of the parent takes the
// whole step group with it, grandchild included, even though the watchdog
// was sent SIGINT, SIGTERM and SIGHUP first; the watchdog then exits.
func TestWatchdog_killsGroupOfKilledParent(t *testing.T) {
	_, grandchild, wd := crashedParent(t, helperWatchdog)
	waitFor(t, "the grandchild to die with its parent", 5*time.Second, func() bool { return !alive(grandchild) })
	waitFor(t, "the watchdog to exit", 5*time.Second, func() bool { return !alive(wd) })
}

// TestWatchdog_lingeringGroup: a group that outlived its leader stays
// registered, so kill -9 of the parent still kills what is left of it.
func TestWatchdog_lingeringGroup(t *testing.T) {
	_, grandchild, wd := crashedParent(t, helperLinger)
	waitFor(t, "the lingering grandchild to die with its parent", 5*time.Second, func() bool { return !alive(grandchild) })
	waitFor(t, "the watchdog to exit", 5*time.Second, func() bool { return !alive(wd) })
}

// TestWatchdog_leakedPipe: should the pipe's write end leak into a process
// that outlives lockstep, the watchdog never sees end of file; its
// parent-death signal still makes it kill the group, orphanGrace later.
func TestWatchdog_leakedPipe(t *testing.T) {
	_, grandchild, wd := crashedParent(t, helperLeak)
	waitFor(t, "the grandchild to die with its parent", orphanGrace+5*time.Second, func() bool { return !alive(grandchild) })
	waitFor(t, "the watchdog to exit", 5*time.Second, func() bool { return !alive(wd) })
}

// TestWatchdog_canary: without the watchdog the same grandchild outlives its
// killed parent, which is what the tests above would miss if it were broken.
func TestWatchdog_canary(t *testing.T) {
	child, grandchild, _ := crashedParent(t, helperNoWatchdog)
	// Only the step's direct child dies, of its parent-death signal.
	waitFor(t, "the step to die with its parent", 5*time.Second, func() bool { return !alive(child) })
	if !alive(grandchild) {
		t.Fatal("the grandchild died without the watchdog: the watchdog tests cannot tell it works")
	}
}

// TestWatchdog_aloneCoversStep runs the watchdog as macOS does: the step has
// no parent-death signal and the watchdog starts before it. kill -9 of the
// parent still takes the step itself and its grandchild with it.
func TestWatchdog_aloneCoversStep(t *testing.T) {
	child, grandchild, wd := crashedParent(t, helperAsMacOS)
	waitFor(t, "the step to die with its parent", 5*time.Second, func() bool { return !alive(child) })
	waitFor(t, "the grandchild to die with its parent", 5*time.Second, func() bool { return !alive(grandchild) })
	waitFor(t, "the watchdog to exit", 5*time.Second, func() bool { return !alive(wd) })
}

// TestWatchdog_aloneCanary: as macOS runs, but without the watchdog, the step
// itself outlives its killed parent, which is what TestWatchdog_aloneCoversStep
// would miss if the watchdog did not cover it there.
func TestWatchdog_aloneCanary(t *testing.T) {
	child, _, _ := crashedParent(t, helperAsMacOSNoWatchdog)
	// The watchdog tests show a dead parent's processes die within a second;
	// give them that long here too.
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if !alive(child) {
			t.Fatal("the step died without a parent-death signal and a watchdog: TestWatchdog_aloneCoversStep cannot tell the watchdog covers it")
		}
		time.Sleep(20 * time.Millisecond) // polling external process state
	}
}

// TestWatchdogHelperParent is the parent process of the watchdog tests; it
// does nothing in a normal test run.
func TestWatchdogHelperParent(t *testing.T) {
	dir := os.Getenv("LOCKSTEP_WATCHDOG_HELPER")
	if dir == "" {
		t.Skip("helper process only")
	}
	mode := os.Getenv("LOCKSTEP_WATCHDOG_MODE")
	if mode == helperAsMacOS || mode == helperAsMacOSNoWatchdog {
		asMacOS()
	}
	if withWatchdog(mode) {
		EnableWatchdog(hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: os.Stderr}))
	}
	script := `sleep 100 & echo $! > "$0"; wait`
	if mode == helperLinger {
		script = `sleep 100 & echo $! > "$0"`
	}
	p, err := Start(Spec{Argv: []string{"/bin/sh", "-c", script, filepath.Join(dir, "grandchild.pid")}})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "child.pid"), []byte(strconv.Itoa(p.Pid())+"\n"), 0o644)
	if mode == helperAsMacOS && currentWatchdog().pidForTest() == 0 {
		t.Fatal("the step started before the watchdog, which is its only cover")
	}
	if mode == helperLinger {
		p.Wait()
	}
	if withWatchdog(mode) {
		var pid int
		waitFor(t, "the watchdog to start", 10*time.Second, func() bool {
			pid = currentWatchdog().pidForTest()
			return pid != 0
		})
		// Once it has set itself up it must shrug these off: only the end of
		// its parent ends it.
		// Where that cannot be seen (no /proc), they are not sent.
		shrugged := []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}
		if _, known := ignores(pid, shrugged...); known {
			waitFor(t, "the watchdog to ignore SIGINT, SIGTERM and SIGHUP", 10*time.Second, func() bool {
				ok, _ := ignores(pid, shrugged...)
				return ok
			})
			for _, sig := range shrugged {
				syscall.Kill(pid, sig)
			}
		}
		os.WriteFile(filepath.Join(dir, "watchdog.pid"), []byte(strconv.Itoa(pid)+"\n"), 0o644)
	}
	if mode == helperLeak {
		leakPipe(t, dir)
	}
	os.WriteFile(filepath.Join(dir, "ready"), []byte("1\n"), 0o644)
	select {} // until killed
}

// leakPipe starts a process of its own group holding the watchdog pipe's
// write end, and records its pid in dir/leak.pid.
func leakPipe(t *testing.T, dir string) {
	c := currentWatchdog()
	c.mu.Lock()
	holder := exec.Command("sleep", "100")
	holder.ExtraFiles = []*os.File{c.w}
	holder.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err := holder.Start()
	c.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "leak.pid"), []byte(strconv.Itoa(holder.Process.Pid)+"\n"), 0o644)
}

func (c *watchdogClient) disabledForTest() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.w == nil
}

func (c *watchdogClient) pidForTest() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc == nil {
		return 0
	}
	return c.proc.Pid
}

// startGroup starts sleep as the leader of a new process group.
func startGroup(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "100")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd.Process.Pid
}

// TestGroupSet: at end of file the watchdog kills exactly the groups still
// registered, and ignores malformed lines and ids that are not one foreign
// group.
func TestGroupSet(t *testing.T) {
	kept, dropped := startGroup(t), startGroup(t)
	in := "+" + strconv.Itoa(kept) + "\n+" + strconv.Itoa(dropped) + "\n-" + strconv.Itoa(dropped) +
		"\n+1\n+0\n+-5\n+" + strconv.Itoa(os.Getpid()) + "\nbogus\n+\n"
	s := newGroupSet()
	s.read(strings.NewReader(in))
	killed := s.killAll()
	if !slices.Equal(killed, []int{kept}) {
		t.Fatalf("killed %v, want [%d]", killed, kept)
	}
	waitFor(t, "the registered group to die", 5*time.Second, func() bool { return !alive(kept) })
	if !alive(dropped) {
		t.Error("a deregistered group was killed")
	}
}

// TestWatchdogClient_deregistersWhenEmpty: a group is deregistered at once
// when its leader leaves it empty, and only once it is empty when something
// outlived the leader.
func TestWatchdogClient_deregistersWhenEmpty(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func() string {
		select {
		case l := <-lines:
			return l
		case <-time.After(5 * time.Second):
			t.Fatal("timed out waiting for a message to the watchdog")
			return ""
		}
	}
	// A client of the test's own; this test binary never enables the
	// process-wide watchdog in-process, so StartProcess writes nothing.
	c := newWatchdogClient(w, hclog.NewNullLogger())
	defer c.disable("test over", nil)

	pidFile := filepath.Join(t.TempDir(), "grandchild.pid")
	p, err := Start(Spec{Argv: []string{"/bin/sh", "-c", `sleep 100 & echo $! > "$0"`, pidFile}})
	if err != nil {
		t.Fatal(err)
	}
	c.started(p.Pid())
	grandchild := readPid(t, pidFile)
	t.Cleanup(func() { syscall.Kill(grandchild, syscall.SIGKILL) })
	p.Wait()
	c.reaped(p.Pid())
	if got, want := next(), "+"+strconv.Itoa(p.Pid()); got != want {
		t.Fatalf("first message %q, want %q", got, want)
	}
	select {
	case l := <-lines:
		t.Fatalf("%q sent while the group still has a member", l)
	case <-time.After(3 * lingerPoll):
	}
	syscall.Kill(grandchild, syscall.SIGKILL)
	if got, want := next(), "-"+strconv.Itoa(p.Pid()); got != want {
		t.Fatalf("after the group emptied: %q, want %q", got, want)
	}

	q, err := Start(Spec{Argv: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	c.started(q.Pid())
	q.Wait()
	c.reaped(q.Pid())
	for _, want := range []string{"+" + strconv.Itoa(q.Pid()), "-" + strconv.Itoa(q.Pid())} {
		if got := next(); got != want {
			t.Fatalf("message %q, want %q", got, want)
		}
	}
}

// TestWatchdogClient_stuckWatchdog: a watchdog that stopped reading cannot
// stall the steps; the client gives up on it once the pipe stays full.
func TestWatchdogClient_stuckWatchdog(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := newWatchdogClient(w, hclog.NewNullLogger())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for pgid := 2; pgid < 1_000_000; pgid++ {
			c.started(pgid) // nobody reads: the pipe fills up
			c.mu.Lock()
			off := c.w == nil
			c.mu.Unlock()
			if off {
				return
			}
		}
		t.Error("the client never gave up on a full pipe")
	}()
	select {
	case <-done:
	case <-time.After(10 * watchdogWriteTimeout):
		t.Fatal("a step start blocked on a watchdog that does not read")
	}
}

// TestWatchdogClient_stalledWatchdogResumes: a watchdog that stopped reading
// (SIGSTOP) until the client gave up on it must not, once it runs again, take
// the closed pipe for lockstep's death and kill the groups of commands that
// still run. (It read the end of file and killed them.)
func TestWatchdogClient_stalledWatchdogResumes(t *testing.T) {
	c := delayedClient(t)
	slow, err := Start(Spec{Argv: []string{"sleep", "100"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { slow.Kill(); slow.Wait() })
	c.started(slow.Pid())
	go c.delayedStart()
	waitFor(t, "the watchdog to start", 10*time.Second, func() bool { return c.pidForTest() != 0 })
	pid := c.pidForTest()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })

	gone := deadGroup(t)
	deadline := time.Now().Add(30 * watchdogWriteTimeout)
	for !c.disabledForTest() {
		if time.Now().After(deadline) {
			t.Fatal("the client never gave up on a watchdog that does not read")
		}
		c.started(gone) // nobody reads: the pipe fills up
		c.reaped(gone)
	}
	syscall.Kill(pid, syscall.SIGCONT)
	waitFor(t, "the watchdog to end", 10*time.Second, func() bool { return !alive(pid) })
	exited := make(chan int, 1)
	go func() { exited <- slow.Wait() }()
	select {
	case code := <-exited:
		t.Fatalf("the running command exited %d after the client gave up on its watchdog", code)
	case <-time.After(500 * time.Millisecond):
	}
}

// TestWatchdogClient_delayedStartWaitsForALiveCommand: with a start delay,
// the watchdog is not started when every command ended within the delay; the
// next command schedules the start again, and it happens while that command
// runs, with that command's group registered: closing the pipe makes the
// watchdog kill it. (The delay is an hour here and the start is called by
// hand, so the test does not depend on timing.)
func TestWatchdogClient_delayedStartWaitsForALiveCommand(t *testing.T) {
	c := delayedClient(t)
	state := func() (pid, live int, armed bool) {
		pid = c.pidForTest()
		c.mu.Lock()
		defer c.mu.Unlock()
		return pid, len(c.live), c.armed
	}

	quick, err := Start(Spec{Argv: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	c.started(quick.Pid())
	if _, _, armed := state(); !armed {
		t.Fatal("the first command scheduled no watchdog start")
	}
	quick.Wait()
	c.reaped(quick.Pid())
	done := make(chan struct{})
	go func() { c.delayedStart(); close(done) }() // blocks while a watchdog it started runs
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the start after a command that ended within the delay started a watchdog")
	}
	if pid, live, armed := state(); pid != 0 || live != 0 || armed {
		t.Fatalf("after a command that ended within the delay: watchdog pid %d, %d registered, armed %t; want none, 0, false", pid, live, armed)
	}

	slow, err := Start(Spec{Argv: []string{"sleep", "100"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { slow.Kill(); slow.Wait() })
	c.started(slow.Pid())
	if _, live, armed := state(); live != 1 || !armed {
		t.Fatalf("the next command: %d registered, armed %t; want 1, true", live, armed)
	}
	go c.delayedStart()
	waitFor(t, "the watchdog to start while a command runs", 10*time.Second, func() bool {
		pid, _, _ := state()
		return pid != 0
	})
	c.disable("test: as if lockstep died", nil)
	exited := make(chan int, 1)
	go func() { exited <- slow.Wait() }()
	select {
	case code := <-exited:
		if code != 128+int(syscall.SIGKILL) {
			t.Fatalf("the command exited %d, want %d (killed by the watchdog)", code, 128+int(syscall.SIGKILL))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the watchdog did not kill the registered command's group")
	}
}

// TestWatchdogClient_manyQuickCommandsBeforeTheStart: thousands of commands
// that end within the delay write nothing to the pipe nobody reads yet (it
// used to fill up after about 3,600 of them: a one-second stall, then the
// watchdog switched off for good), and a later long command still gets it.
func TestWatchdogClient_manyQuickCommandsBeforeTheStart(t *testing.T) {
	c := delayedClient(t)
	gone := deadGroup(t)
	for range 10000 {
		c.started(gone)
		c.reaped(gone)
	}
	c.mu.Lock()
	w := c.w
	c.mu.Unlock()
	if w == nil {
		t.Fatal("the watchdog was switched off")
	}
	slow, err := Start(Spec{Argv: []string{"sleep", "100"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { slow.Kill(); slow.Wait() })
	c.started(slow.Pid())
	go c.delayedStart()
	waitFor(t, "the watchdog to start", 10*time.Second, func() bool { return c.pidForTest() != 0 })
	c.disable("test: as if lockstep died", nil)
	exited := make(chan int, 1)
	go func() { exited <- slow.Wait() }()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the watchdog did not kill the registered command's group")
	}
}

// delayedClient is a watchdog client of the test's own with an hour's start
// delay (the test calls delayedStart itself) and its pipe not yet read.
func delayedClient(t *testing.T) *watchdogClient {
	saved := watchdogDelay
	watchdogDelay = time.Hour
	t.Cleanup(func() { watchdogDelay = saved })
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	c := newWatchdogClient(w, hclog.NewNullLogger())
	c.pending = r
	t.Cleanup(func() { c.disable("test over", nil) })
	return c
}

// deadGroup is the id of a process group that no longer exists: a reaped
// command's.
func deadGroup(t *testing.T) int {
	p, err := Start(Spec{Argv: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	p.Wait()
	return p.Pid()
}
