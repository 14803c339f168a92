package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/mattn/go-isatty"

	"github.com/lockstep-dev/lockstep/config"
	"github.com/lockstep-dev/lockstep/runner"
)

// waitRefresh is how often a waiting line is printed again in a log (not a
// terminal), so a CI log shows that lockstep is alive and who it waits for.
const waitRefresh = 5 * time.Second

// humanUI renders run events for people: progress on stderr, step output on
// stdout and stderr (prefixed by the step address when steps overlap). On a
// terminal the waiting line is redrawn in place every second.
type humanUI struct {
	mu      sync.Mutex
	stdout  io.Writer
	stderr  io.Writer
	tty     bool
	prefix  bool
	files   map[string]*hcl.File
	waits   map[string]runner.Event // step -> latest lock_wait
	printed map[string]time.Time    // step -> when its waiting line was last printed (log mode)
	status  bool                    // a status line is on the terminal
	stop    chan struct{}
	done    chan struct{}
}

func newHumanUI(stdout, stderr io.Writer) *humanUI {
	u := &humanUI{stdout: stdout, stderr: stderr, waits: map[string]runner.Event{}, printed: map[string]time.Time{},
		stop: make(chan struct{}), done: make(chan struct{})}
	if f, ok := stderr.(*os.File); ok {
		u.tty = isatty.IsTerminal(f.Fd()) && os.Getenv("TERM") != "dumb"
	}
	go u.refresh()
	return u
}

// close stops the refresher and clears the status line.
func (u *humanUI) close() {
	close(u.stop)
	<-u.done
	u.mu.Lock()
	defer u.mu.Unlock()
	u.clearStatus()
}

func (u *humanUI) refresh() {
	defer close(u.done)
	period := waitRefresh
	if u.tty {
		period = time.Second
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-u.stop:
			return
		case now := <-t.C:
			u.mu.Lock()
			u.redrawWaits(now)
			u.mu.Unlock()
		}
	}
}

// redrawWaits shows the current waits: in place on a terminal, as new lines
// every waitRefresh in a log. Callers hold mu.
func (u *humanUI) redrawWaits(now time.Time) {
	if len(u.waits) == 0 {
		return
	}
	steps := make([]string, 0, len(u.waits))
	for s := range u.waits {
		steps = append(steps, s)
	}
	sort.Strings(steps)
	if !u.tty {
		for _, s := range steps {
			if now.Sub(u.printed[s]) >= waitRefresh-100*time.Millisecond {
				fmt.Fprintln(u.stderr, eventMessage(u.waits[s], now))
				u.printed[s] = now
			}
		}
		return
	}
	line := eventMessage(u.waits[steps[0]], now)
	if len(steps) > 1 {
		line += fmt.Sprintf(" (and %d more waiting)", len(steps)-1)
	}
	fmt.Fprintf(u.stderr, "\r\033[K%s", line)
	u.status = true
}

func (u *humanUI) clearStatus() {
	if u.status {
		fmt.Fprint(u.stderr, "\r\033[K")
		u.status = false
	}
}

// println prints a progress line on stderr, keeping the status line below it.
func (u *humanUI) println(s string) {
	u.clearStatus()
	fmt.Fprintln(u.stderr, s)
}

// event renders one runner event.
func (u *humanUI) event(ev runner.Event) {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch ev.Type {
	case runner.EventRunStart, runner.EventLockReleased:
		return
	case runner.EventStepOutput:
		u.clearStatus()
		w := u.stdout
		if ev.Stream == "stderr" {
			w = u.stderr
		}
		if u.prefix {
			fmt.Fprintf(w, "%s: %s\n", ev.Step, ev.Line)
		} else {
			fmt.Fprintln(w, ev.Line)
		}
	case runner.EventLockWait:
		_, again := u.waits[ev.Step]
		u.waits[ev.Step] = ev
		if !again {
			u.println(eventMessage(ev, ev.Time))
			u.printed[ev.Step] = ev.Time
		}
	case runner.EventLockAcquired:
		delete(u.waits, ev.Step)
		u.println(eventMessage(ev, ev.Time))
	case runner.EventStepDone:
		delete(u.waits, ev.Step)
		if ev.Status != runner.StatusSkipped {
			u.println(eventMessage(ev, ev.Time))
		}
	case runner.EventRunDone:
		u.clearStatus()
	default:
		delete(u.waits, ev.Step)
		u.println(eventMessage(ev, ev.Time))
	}
	if u.tty {
		u.redrawWaits(time.Now())
	}
}

// diagnostics prints diagnostics with source snippets on stderr.
func (u *humanUI) diagnostics(wf *config.Workflow, diags hcl.Diagnostics) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.clearStatus()
	var files map[string]*hcl.File
	if wf != nil {
		files = wf.Files
	}
	writeDiagnostics(u.stderr, files, diags)
}

// errorEvent prints a failure that is not about the workflow's source.
func (u *humanUI) errorEvent(err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.println("lockstep run: " + err.Error())
}

// finish prints the summary table, failure details and outputs.
func (u *humanUI) finish(wf *config.Workflow, res *runner.Result) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.clearStatus()
	for _, in := range res.Instances {
		if in.Busy != nil && in.Status == runner.StatusFailed {
			fmt.Fprintf(u.stderr, "\n%s: could not acquire its lock: %v\n", in.Address, in.Busy)
			writeLockInfo(u.stderr, in.Busy.Key, in.Busy.Holders)
		}
		if len(in.Diags) > 0 {
			var files map[string]*hcl.File
			if wf != nil {
				files = wf.Files
			}
			writeDiagnostics(u.stderr, files, in.Diags)
		}
	}
	writeSummary(u.stderr, res)
	writeOutputs(u.stdout, res.Outputs)
}

// diagWriter prints diagnostics in the output mode of the command.
type diagWriter interface {
	diagnostics(wf *config.Workflow, diags hcl.Diagnostics)
}
