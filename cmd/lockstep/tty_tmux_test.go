//go:build unix

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// longInfo is a holder's LOCKSTEP_HOLDER_INFO that makes a waiting line far
// wider than an 80-column terminal.
const longInfo = "https://ci.example.com/platform/payments-service/-/jobs/123456789?pipeline=987654&runner=shared-large-7&stage=deploy-production"

const ttyWorkflow = `
step "a" {
  lock {
    key = "tty/a"
  }
  command = [env("TESTSTEP"), "print", "a"]
}

step "b" {
  lock {
    key = "tty/b"
  }
  command = [env("TESTSTEP"), "print", "b"]
}

step "work" {
  kill_timeout = "30s"
  command      = [env("TESTSTEP"), "touch", "working", "sleep", "60s"]
}
`

// tmuxPane is a detached tmux session of its own (a private server socket).
type tmuxPane struct {
	t    *testing.T
	sock string
}

func (p *tmuxPane) run(args ...string) string {
	p.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", p.sock}, args...)...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// screen returns the pane's visible rows.
func (p *tmuxPane) screen() []string {
	return strings.Split(strings.TrimRight(p.run("capture-pane", "-p", "-t", "t"), "\n"), "\n")
}

// history returns the pane's scrollback and visible rows.
func (p *tmuxPane) history() []string {
	return strings.Split(p.run("capture-pane", "-p", "-S", "-", "-t", "t"), "\n")
}

// waitingRows counts the rows of a screen that show a waiting line.
func waitingRows(screen []string) int {
	n := 0
	for _, row := range screen {
		if strings.Contains(row, "Waiting for") { // a 25-column line is cut before "lock"
			n++
		}
	}
	return n
}

func TestWaitingRows_canary(t *testing.T) {
	stale := []string{`step.a: Waiting for lock "tty/a", held by x`, `step.a: Waiting for lock "tty/a", held by x`,
		`step.b: Waiting for lock "tty/b", held by x`}
	if waitingRows(stale) != 3 {
		t.Fatal("the row counter misses a stale waiting line")
	}
}

// TestTTY_tmux drives `lockstep run` in an 80x24 tmux pane while two of its
// steps wait for locks held with a long LOCKSTEP_HOLDER_INFO: the screen
// never holds more than one waiting line per waiter, before and after the
// pane is narrowed to 25 columns and widened to 120; the first Ctrl-C prints
// the interrupt message (with the step's kill_timeout) within 100 ms (the
// best of up to three runs: tmux's own pipeline is slow on a loaded machine).
// LOCKSTEP_TTY_BIN runs another lockstep binary (to measure an old one).
func TestTTY_tmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (apt-get install -y tmux; .ci/run installs it)")
	}
	bin := os.Getenv("LOCKSTEP_TTY_BIN")
	if bin == "" {
		bin = lockstepBin(t)
	}
	srv := locktest.StartServer(t, nil)
	env := []string{"LOCKSTEP_BACKEND=" + srv.URL(), "LOCKSTEP_HOLDER_INFO=" + longInfo}
	for _, key := range []string{"tty/a", "tty/b"} {
		if code, p := runLockstep(t, "", env, "lock", "acquire", "-ttl", "120s", key); code != 0 {
			t.Fatalf("lock acquire %s: exit %d: %s", key, code, p.stderr)
		}
	}
	dir := writeWorkflow(t, map[string]string{"main.hcl": ttyWorkflow})
	pane := startTmux(t, dir, bin, srv.URL())
	waitCond(t, 30*time.Second, "the waiting lines and the running step", func() bool {
		_, err := os.Stat(filepath.Join(dir, "working"))
		return err == nil && waitingRows(pane.screen()) >= 2
	})
	most := map[int]int{}
	for _, width := range []int{80, 25, 120} {
		pane.run("resize-window", "-t", "t", "-x", fmt.Sprint(width), "-y", "24")
		time.Sleep(300 * time.Millisecond) // the redraw after the resize
		settled := waitingRows(pane.history())
		deadline := time.Now().Add(2500 * time.Millisecond) // more than two redraws
		for time.Now().Before(deadline) {
			screen := pane.screen()
			n := waitingRows(screen)
			most[width] = max(most[width], n)
			if n > 2 {
				t.Errorf("%d columns: %d waiting lines on the screen for 2 waiters:\n%s", width, n, strings.Join(screen, "\n"))
				break
			}
			time.Sleep(20 * time.Millisecond) // sampling the screen
		}
		// Redraws replace the lines: nothing piles up in the scrollback
		// either (a resize may push one reflowed copy there, once).
		if grown := waitingRows(pane.history()) - settled; grown > 0 {
			t.Errorf("%d columns: %d waiting lines piled up in the scrollback in 2.5s", width, grown)
		}
	}
	t.Logf("tmux: waiting lines on screen at most %d (80 cols), %d (25 cols), %d (120 cols) for 2 waiters", most[80], most[25], most[120])
	latency := interruptLatency(t, pane, filepath.Join(dir, "pane.log"))
	t.Logf("tmux: the interrupt message appeared %s after Ctrl-C", latency.Round(time.Millisecond))
	// The latency runs through tmux's server, the pane's pipe and a
	// polling reader, which a loaded machine can hold up for hundreds of
	// milliseconds: the best of three fresh runs is lockstep's. A lockstep
	// that is slow to say it (a redraw tick, a blocked write) is slow
	// every time and still fails.
	for attempt := 2; latency > interruptWithin && attempt <= 3; attempt++ {
		dir := writeWorkflow(t, map[string]string{"main.hcl": ttyWorkflow})
		pane := startTmux(t, dir, bin, srv.URL())
		waitCond(t, 30*time.Second, "the waiting lines and the running step", func() bool {
			_, err := os.Stat(filepath.Join(dir, "working"))
			return err == nil && waitingRows(pane.screen()) >= 2
		})
		latency = min(latency, interruptLatency(t, pane, filepath.Join(dir, "pane.log")))
		t.Logf("tmux: attempt %d: best interrupt message latency %s", attempt, latency.Round(time.Millisecond))
	}
	if latency > interruptWithin {
		t.Errorf("the interrupt message took %s (best of 3 runs), want within %s", latency, interruptWithin)
	}
}

// interruptWithin is how soon the first Ctrl-C's message must appear.
const interruptWithin = 100 * time.Millisecond

// startTmux starts `lockstep run .` in dir in a detached 80x24 tmux session
// whose output is also appended to dir/pane.log.
func startTmux(t *testing.T, dir, bin, backend string) *tmuxPane {
	t.Helper()
	pane := &tmuxPane{t: t, sock: filepath.Join(t.TempDir(), "tmux.sock")}
	teststep, _ := exec.LookPath("teststep")
	cmd := fmt.Sprintf("env LOCKSTEP_BACKEND=%s TESTSTEP=%s GORACE=atexit_sleep_ms=0 %s run .; sleep 60", backend, teststep, bin)
	pane.run("-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", "80", "-y", "24", "-c", dir, cmd)
	t.Cleanup(func() { exec.Command("tmux", "-S", pane.sock, "kill-server").Run() })
	pane.run("set-option", "-g", "window-size", "manual")
	pane.run("pipe-pane", "-t", "t", "-o", "cat >> "+filepath.Join(dir, "pane.log"))
	return pane
}

// interruptLatency sends Ctrl-C to the pane and returns how long the
// interrupt message took to appear in its output.
func interruptLatency(t *testing.T, pane *tmuxPane, log string) time.Duration {
	t.Helper()
	const msg = "Interrupt received: stopping steps (up to 30s); press Ctrl-C again to kill"
	before, _ := os.ReadFile(log)
	start := time.Now()
	pane.run("send-keys", "-t", "t", "C-c")
	for {
		b, _ := os.ReadFile(log)
		if strings.Contains(string(b[len(before):]), msg) {
			return time.Since(start)
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("no interrupt message 10s after Ctrl-C; the pane shows:\n%s", strings.Join(pane.screen(), "\n"))
		}
		time.Sleep(time.Millisecond) // polling the pane's output
	}
}
