package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/lockstep-dev/lockstep/config"
	"github.com/lockstep-dev/lockstep/runner"
)

// finish prints the failure details, the summary table and the outputs.
func (u *humanUI) finish(wf *config.Workflow, res *runner.Result) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.clearStatus()
	for _, in := range res.Instances {
		if in.Busy != nil && in.Status == runner.StatusFailed {
			fmt.Fprintf(u.stderr, "\n%s: could not acquire its lock: %s\n", safeText(in.Address), safeText(in.Busy.Error()))
			writeLockInfo(u.stderr, in.Busy.Key, in.Busy.Holders)
		}
		if len(in.Diags) > 0 {
			writeDiagnostics(u.stderr, workflowFiles(wf), in.Diags, u.colour)
		}
	}
	writeSummary(u.stderr, res)
	writeOutputs(u.stdout, res.Outputs, res.Outcome == runner.OutcomeSucceeded)
}

// writeSummary prints the end-of-run table: step, status, how long it waited
// for its locks and how long it ran (apart, so a 20s deploy after 41s in line
// shows as both).
func writeSummary(w io.Writer, res *runner.Result) {
	if len(res.Instances) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tSTATUS\tLOCK WAIT\tRUN TIME")
	for _, in := range res.Instances {
		status := in.Status
		if in.Reason != runner.ReasonNone {
			status += " (" + strings.ReplaceAll(string(in.Reason), "_", " ") + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", safeText(in.Address), status, roundAge(in.LockWait), roundAge(runTime(in.Duration, in.LockWait)))
	}
	tw.Flush()
	counts := map[string]int{}
	for _, in := range res.Instances {
		counts[in.Status]++
	}
	fmt.Fprintf(w, "\n%s: %d succeeded, %d skipped, %d failed, %d not run, in %s.\n", outcomeTitle(res.Outcome),
		counts[runner.StatusSucceeded], counts[runner.StatusSkipped], counts[runner.StatusFailed], counts[runner.StatusNotRun],
		roundAge(res.Duration))
}

// runTime is a step's time after its locks were acquired: its whole
// duration less the lock wait.
func runTime(total, lockWait time.Duration) time.Duration { return max(0, total-lockWait) }

func outcomeTitle(o runner.Outcome) string {
	switch o {
	case runner.OutcomeSucceeded:
		return "Run complete"
	case runner.OutcomeLockBusy:
		return "Run failed (lock busy)"
	case runner.OutcomeLockLost:
		return "Run failed (lock lost)"
	case runner.OutcomeUnavailable:
		return "Run failed (backend unavailable)"
	case runner.OutcomeInterrupted:
		return "Run interrupted"
	}
	return "Run failed"
}

// writeOutputs prints the outputs as NAME = VALUE, sensitive ones hidden.
// After a run that did not succeed only the outputs whose values are known
// are printed: the others would only say "(not known)".
func writeOutputs(w io.Writer, outputs []runner.OutputValue, succeeded bool) {
	var b strings.Builder
	for _, o := range outputs {
		if !succeeded && !outputKnown(o) {
			continue
		}
		fmt.Fprintf(&b, "%s = %s\n", o.Name, displayValue(o.Value, o.Sensitive))
	}
	if b.Len() > 0 {
		fmt.Fprintf(w, "\nOutputs:\n\n%s", b.String())
	}
}

// outputKnown reports whether an output has a value to show (sensitive
// values count: the placeholder says they exist).
func outputKnown(o runner.OutputValue) bool {
	return o.Value != cty.NilVal && o.Value.IsWhollyKnown() && (o.Sensitive || !o.Value.IsNull() || len(o.Diags) == 0)
}

// displayValue renders a value for people: JSON form, or a placeholder when
// it is sensitive, unknown or missing.
func displayValue(v cty.Value, sensitive bool) string {
	switch {
	case sensitive || (v != cty.NilVal && v.ContainsMarked()):
		return runner.SensitivePlaceholder
	case v == cty.NilVal:
		return "(error)"
	case !v.IsWhollyKnown():
		return "(not known)"
	case v.IsNull():
		return "null"
	}
	return runner.FormatValue(v)
}
