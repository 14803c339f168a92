package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/lockstep-dev/lockstep/config"
	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/runner"
)

// waitRefresh is how often a waiting line is printed again in a log (not a
// terminal), so that a CI log (and a CI job's no-output timeout) sees that
// lockstep is alive and whom it waits for.
const waitRefresh = 5 * time.Second

// maxStatusLines is the most waiting lines shown at once on a terminal; the
// rest are counted on the last one.
const maxStatusLines = 8

// humanUI renders events for people: progress on stderr, step output on
// stdout and stderr (prefixed by the step address when steps overlap). Each
// waiter has one waiting line: on a terminal, in a block redrawn in place
// every second (and at once after a resize); in a log, printed again every
// waitRefresh. Text from other machines is escaped (safeText).
type humanUI struct {
	mu      sync.Mutex
	stdout  io.Writer
	stderr  io.Writer
	status  *statusBlock // nil in a log
	colour  bool
	prefix  bool
	waits   map[string]runner.Event // step -> latest lock_wait
	printed map[string]time.Time    // step -> when its waiting line was last printed (log)
	stop    chan struct{}
	done    chan struct{}
}

func newHumanUI(e *env) *humanUI {
	u := &humanUI{stdout: e.stdout, stderr: e.stderr, colour: e.colour(), waits: map[string]runner.Event{},
		printed: map[string]time.Time{}, stop: make(chan struct{}), done: make(chan struct{})}
	if e.statusTTY() {
		u.status = &statusBlock{w: e.stderr, width: e.term.width}
	}
	go u.refresh(e.sig.resized())
	return u
}

// close stops the refresher and clears the waiting lines.
func (u *humanUI) close() {
	close(u.stop)
	<-u.done
	u.mu.Lock()
	defer u.mu.Unlock()
	u.clearStatus()
}

func (u *humanUI) refresh(resized <-chan struct{}) {
	defer close(u.done)
	period := waitRefresh
	if u.status != nil {
		period = time.Second
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-u.stop:
			return
		case <-resized:
		case <-t.C:
		}
		u.mu.Lock()
		u.redrawWaits(time.Now())
		u.mu.Unlock()
	}
}

// redrawWaits shows the current waits: in place on a terminal, as new lines
// every waitRefresh in a log. Callers hold mu.
func (u *humanUI) redrawWaits(now time.Time) {
	steps := make([]string, 0, len(u.waits))
	for s := range u.waits {
		steps = append(steps, s)
	}
	sort.Strings(steps)
	if u.status == nil {
		for _, s := range steps {
			if now.Sub(u.printed[s]) >= waitRefresh-100*time.Millisecond {
				fmt.Fprintln(u.stderr, eventMessage(u.waits[s], now))
				u.printed[s] = now
			}
		}
		return
	}
	if len(steps) == 0 {
		u.clearStatus()
		return
	}
	lines := make([]string, 0, min(len(steps), maxStatusLines))
	for i, s := range steps {
		if i == maxStatusLines-1 && len(steps) > maxStatusLines {
			lines = append(lines, fmt.Sprintf("… and %d more waiting", len(steps)-i))
			break
		}
		lines = append(lines, eventMessage(u.waits[s], now))
	}
	u.status.draw(lines)
}

func (u *humanUI) clearStatus() {
	if u.status != nil {
		u.status.clear()
	}
}

// println prints a progress line on stderr, above the waiting lines.
func (u *humanUI) println(s string) {
	u.clearStatus()
	fmt.Fprintln(u.stderr, s)
}

// event renders one runner event.
func (u *humanUI) event(ev runner.Event) {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch ev.Type {
	case runner.EventRunStart:
		return
	case runner.EventLockReleased:
		if !runner.IsLockAddress(ev.Step) {
			return // a step's own locks are released as it ends
		}
		u.println(eventMessage(ev, ev.Time))
	case runner.EventStepOutput:
		u.clearStatus()
		w := u.stdout
		if ev.Stream == "stderr" {
			w = u.stderr
		}
		if u.prefix {
			fmt.Fprintf(w, "%s: %s\n", safeText(ev.Step), ev.Line)
		} else {
			fmt.Fprintln(w, ev.Line)
		}
	case runner.EventLockWait:
		_, again := u.waits[ev.Step]
		u.waits[ev.Step] = ev
		if !again && u.status == nil {
			u.println(eventMessage(ev, ev.Time))
			u.printed[ev.Step] = ev.Time
		}
	case runner.EventStepStart:
		u.println(eventMessage(ev, ev.Time))
	case runner.EventStepDone:
		delete(u.waits, ev.Step)
		u.endLockWait(ev)
		if ev.Status != runner.StatusSkipped {
			u.println(eventMessage(ev, ev.Time))
		}
	case runner.EventRunDone:
		u.clearStatus()
	default:
		delete(u.waits, ev.Step)
		u.endLockWait(ev)
		u.println(eventMessage(ev, ev.Time))
	}
	if u.status != nil {
		u.redrawWaits(time.Now())
	}
}

// endLockWait ends the waiting line of a workflow-level lock whose wait
// ended without the lock (busy, superseded, given up): the step_skipped
// and step_done events of the steps it decided carry its key. Callers hold
// mu.
func (u *humanUI) endLockWait(ev runner.Event) {
	if ev.Lock == "" || ev.Type != runner.EventStepDone && ev.Type != runner.EventStepSkipped {
		return
	}
	for addr, w := range u.waits {
		if runner.IsLockAddress(addr) && w.Lock == ev.Lock {
			delete(u.waits, addr)
		}
	}
}

// message prints a line of lockstep's own (a warning, a note) on stderr.
func (u *humanUI) message(s string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.println(s)
	if u.status != nil {
		u.redrawWaits(time.Now())
	}
}

// interruptMessage says what the first stop signal does now: "Interrupt
// received: stopping steps (up to 30s); press Ctrl-C again to kill". what
// names what is stopped; grace is the longest kill timeout of what runs.
func interruptMessage(sig os.Signal, what string, grace time.Duration) string {
	head, again := "Interrupt received", "press Ctrl-C again to kill"
	if sig != os.Interrupt {
		head, again = fmt.Sprintf("Signal %q received", sig.String()), "a second signal kills at once"
	}
	return fmt.Sprintf("%s: stopping %s (up to %s); %s", head, what, roundAge(grace), again)
}

// diagnostics prints diagnostics with source snippets on stderr.
func (u *humanUI) diagnostics(wf *config.Workflow, diags hcl.Diagnostics) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.clearStatus()
	writeDiagnostics(u.stderr, workflowFiles(wf), diags, u.colour)
}

// errorEvent prints a failure that is not about the workflow's source (the
// backend could not be opened: nothing ran).
func (u *humanUI) errorEvent(err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.println("lockstep run: " + safeLines(err.Error()))
	if errors.Is(err, lock.ErrUnavailable) {
		fmt.Fprintln(u.stderr, "\nRun failed (backend unavailable): nothing ran.")
	}
}

// workflowFiles returns wf's files for diagnostic snippets (nil for nil).
func workflowFiles(wf *config.Workflow) map[string]*hcl.File {
	if wf == nil {
		return nil
	}
	return wf.Files
}

// diagWriter prints diagnostics in the output mode of the command.
type diagWriter interface {
	diagnostics(wf *config.Workflow, diags hcl.Diagnostics)
}
