package main

// Multi-process safety tests (TESTING.md, "Safety and fault catalogue"): real
// lockstep processes, real redis-servers, the teststep probe recording its
// critical sections, an independent checker reading the records. Each test
// logs the figure it measures. LOCKSTEP_FULL=1 runs the full-size variants
// (docs/guarantees.md); CI runs reduced sizes.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// fullSize reports whether LOCKSTEP_FULL=1 asks for the full-size runs.
func fullSize() bool { return os.Getenv("LOCKSTEP_FULL") == "1" }

// size picks the CI or the full size of a test.
func size[T any](ci, full T) T {
	if fullSize() {
		return full
	}
	return ci
}

var built struct {
	once sync.Once
	path string
	err  error
}

// lockstepBin builds the real lockstep binary once per test binary, next to
// the teststep copy testscript.Main put in PATH (removed when the tests end).
func lockstepBin(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		step, err := exec.LookPath("teststep")
		if err != nil {
			built.err = fmt.Errorf("teststep not in PATH (TestMain sets it up): %w", err)
			return
		}
		built.path = filepath.Join(filepath.Dir(step), "lockstep-built")
		out, err := exec.Command("go", "build", "-o", built.path, ".").CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// raceNoExitSleep keeps teststep (a copy of this test binary, built with
// -race in CI) from sleeping 1s at exit, the race runtime's default.
const raceNoExitSleep = "GORACE=atexit_sleep_ms=0"

// proc is a lockstep process started by a test.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan struct{}
	code           int
}

// syncBuffer is a bytes.Buffer safe for the writer goroutine of exec and the
// test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startLockstep starts the built lockstep with args in dir (or a temp dir),
// with env added to a clean environment (PATH, HOME, TMPDIR). It is killed
// when the test ends if still running.
func startLockstep(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	return startProgram(t, dir, env, lockstepBin(t), args...)
}

// startProgram starts name as startLockstep starts lockstep (a wrapper that
// ends by executing lockstep).
func startProgram(t *testing.T, dir string, env []string, name string, args ...string) *proc {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"TMPDIR=" + os.TempDir(),
		"XDG_RUNTIME_DIR=",
		"NO_COLOR=1",
		raceNoExitSleep,
	}, env...)
	p := &proc{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start lockstep: %v", err)
	}
	go func() {
		err := cmd.Wait()
		p.code = procExitCode(err)
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	return p
}

func procExitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// wait waits for the process to exit (failing after limit) and returns its
// exit code.
func (p *proc) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(limit):
		t.Fatalf("lockstep %v did not exit within %s\nstderr:\n%s", p.cmd.Args[1:], limit, p.stderr)
		return -1
	}
}

// runLockstep runs lockstep to completion and returns its exit code.
func runLockstep(t *testing.T, dir string, env []string, args ...string) (int, *proc) {
	t.Helper()
	p := startLockstep(t, dir, env, args...)
	return p.wait(t, 2*time.Minute), p
}

// record is one line of teststep record: "enter|exit NS PID FENCE LABEL".
type record struct {
	kind  string
	ns    int64
	pid   int
	fence int64 // -1 when the probe ran without a fencing token
	label string
}

// section is one critical section from a record file.
type section struct {
	enter, exit int64
	pid         int
	fence       int64
	label       string
}

// readSections pairs the enter and exit lines of a record file by pid and
// label, sorted by enter time. An enter without an exit counts as a section
// open until the end of time.
func readSections(t *testing.T, file string) []section {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatalf("read records: %v", err)
	}
	defer f.Close()
	open := map[string]int{}
	var out []section
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		r, err := parseRecord(sc.Text())
		if err != nil {
			t.Fatalf("record file %s: %v", file, err)
		}
		id := fmt.Sprintf("%d %s", r.pid, r.label)
		switch r.kind {
		case "enter":
			open[id] = len(out)
			out = append(out, section{enter: r.ns, exit: 1<<63 - 1, pid: r.pid, fence: r.fence, label: r.label})
		case "exit":
			i, ok := open[id]
			if !ok {
				t.Fatalf("record file %s: exit without enter: %q", file, sc.Text())
			}
			out[i].exit = r.ns
			delete(open, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].enter < out[j].enter })
	return out
}

func parseRecord(line string) (record, error) {
	f := strings.SplitN(line, " ", 5)
	if len(f) != 5 || (f[0] != "enter" && f[0] != "exit") {
		return record{}, fmt.Errorf("bad record line %q", line)
	}
	r := record{kind: f[0], label: f[4], fence: -1}
	var err1, err2 error
	r.ns, err1 = strconv.ParseInt(f[1], 10, 64)
	r.pid, err2 = strconv.Atoi(f[2])
	if err := errors.Join(err1, err2); err != nil {
		return record{}, fmt.Errorf("bad record line %q: %w", line, err)
	}
	if f[3] != "-" {
		n, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil {
			return record{}, fmt.Errorf("bad fence in %q: %w", line, err)
		}
		r.fence = n
	}
	return r, nil
}

// fenceViolations counts sections (in enter order) whose fencing token is not
// strictly greater than the one before.
func fenceViolations(secs []section) int {
	n := 0
	for i := 1; i < len(secs); i++ {
		if secs[i].fence <= secs[i-1].fence {
			n++
		}
	}
	return n
}

// admin is a test's own client for inspecting and attacking the server.
func adminClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DisableIdentity: true})
	t.Cleanup(func() { c.Close() })
	return c
}

// liveLockKeys lists the lockstep keys that hold a lease or a queue: keys
// with a TTL, leaving out a holders hash that keeps only the fence ("f")
// after its last lease was released.
func liveLockKeys(t *testing.T, a *redis.Client) []string {
	t.Helper()
	ctx := context.Background()
	keys, err := a.Keys(ctx, "lockstep:*").Result()
	if err != nil {
		t.Fatalf("keys: %v", err)
	}
	var live []string
	for _, k := range keys {
		if d, err := a.PTTL(ctx, k).Result(); err != nil || d <= 0 {
			continue
		}
		if strings.HasSuffix(k, ":h") {
			if fields, err := a.HKeys(ctx, k).Result(); err == nil && len(fields) == 1 && fields[0] == "f" {
				continue
			}
		}
		live = append(live, k)
	}
	return live
}

// waitFile waits until path exists and is not empty, failing after limit.
func waitFile(t *testing.T, path string, limit time.Duration) []byte {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %s", path, limit)
		}
		time.Sleep(5 * time.Millisecond) // polling the file system
	}
}

// waitCond polls cond until it holds, failing after limit.
func waitCond(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(5 * time.Millisecond) // polling another process's state
	}
	return time.Since(start)
}

// pollUntil polls cond until it holds or limit passes, and says how long it
// waited and whether cond held.
func pollUntil(limit time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			return time.Since(start), false
		}
		time.Sleep(5 * time.Millisecond) // polling another process's state
	}
	return time.Since(start), true
}

// readPid reads a pid file written by teststep spawn-sleep.
func readPid(t *testing.T, path string) int {
	t.Helper()
	b := waitFile(t, path, 30*time.Second)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file %s: %v", path, err)
	}
	// If lockstep fails to take it down, do not leave it behind.
	t.Cleanup(func() {
		if alive(pid) {
			killPid(pid)
		}
	})
	return pid
}

// checkOverlapsFile counts overlapping critical sections in a record file
// with the shared checker (checkOverlaps, overlaps_test.go), and cross-checks
// it with a second count of its own: a section that enters before every
// earlier-entered section has exited.
func checkOverlapsFile(t *testing.T, file string) int {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	report, err := checkOverlaps(string(data), 1)
	if err != nil {
		t.Fatalf("checker: %v", err)
	}
	mine := 0
	var maxExit int64
	for i, s := range readSections(t, file) {
		if i > 0 && s.enter < maxExit {
			mine++
		}
		maxExit = max(maxExit, s.exit)
	}
	if (mine == 0) != (report.Overlaps == 0) {
		t.Errorf("the checkers disagree: shared checker %s; second count %d overlaps", report, mine)
	}
	return report.Overlaps
}
