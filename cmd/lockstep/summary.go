package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/zclconf/go-cty/cty"

	"github.com/lockstep-dev/lockstep/runner"
)

// writeSummary prints the end-of-run table: step, status, lock wait, duration.
func writeSummary(w io.Writer, res *runner.Result) {
	if len(res.Instances) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tSTATUS\tLOCK WAIT\tDURATION")
	for _, in := range res.Instances {
		status := in.Status
		if in.Reason != runner.ReasonNone {
			status += " (" + strings.ReplaceAll(string(in.Reason), "_", " ") + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", in.Address, status, roundAge(in.LockWait), roundAge(in.Duration))
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
func writeOutputs(w io.Writer, outputs []runner.OutputValue) {
	if len(outputs) == 0 {
		return
	}
	fmt.Fprint(w, "\nOutputs:\n\n")
	for _, o := range outputs {
		fmt.Fprintf(w, "%s = %s\n", o.Name, displayValue(o.Value, o.Sensitive))
	}
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
