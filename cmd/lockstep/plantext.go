package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/runner"
)

// writePlan prints the plan for people: the workflow-level locks with their
// scope, then each step instance in order, as it is evaluated (onDiags gets
// each instance's diagnostics). Every attribute comes from the schema tables
// of package config, so a new attribute shows up by itself. It reports
// whether an instance could not be evaluated.
func writePlan(w io.Writer, doc *planDoc, onDiags func(*runner.PreviewInstance)) (failed bool) {
	out := bufio.NewWriterSize(w, 64<<10)
	defer out.Flush()
	st := doc.state
	var b strings.Builder
	fmt.Fprintf(&b, "lockstep will run %d step instance(s) in this order:\n", doc.count)
	if st.Reachable {
		fmt.Fprintf(&b, "(backend %s: current lock holders and once markers shown)\n", st.Backend)
	} else {
		fmt.Fprintf(&b, "(backend %s not reachable: %s; lock holders and once markers not shown)\n", orUnknown(st.Backend), safeText(st.Error))
	}
	if len(doc.locks) > 0 {
		b.WriteString("\nWorkflow-level locks, each held from the start of the first step of its scope to the end of the last:\n")
		for _, l := range doc.locks {
			b.WriteString("\n")
			writeWorkflowLock(&b, l, st)
		}
		b.WriteString("\nSteps:\n")
	}
	io.WriteString(out, b.String())
	doc.each(func(pi *runner.PreviewInstance) {
		if pi.Diags.HasErrors() {
			failed = true
			onDiags(pi)
		}
		b.Reset()
		b.WriteString("\n")
		writeInstance(&b, pi, st)
		io.WriteString(out, b.String())
	})
	return failed
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// attrLine writes one "name value" line of a step in the plan. The value is
// escaped (safeText): keys and values may carry text from other machines.
func attrLine(b *strings.Builder, name, value string) {
	fmt.Fprintf(b, "      %-12s %s\n", name, safeText(value))
}

// blockLine renders a block's attributes on one line: the key's value
// first (locks, once), then name=value for the others (absent quiet ones
// left out).
func blockLine(blk runner.PreviewBlock) string {
	var parts []string
	for _, a := range blk {
		switch {
		case a.Name == "key":
			parts = append(parts, a.Value.String())
		case a.Set || !a.Quiet:
			parts = append(parts, a.Name+"="+a.Value.String())
		}
	}
	return strings.Join(parts, " ")
}

func writeWorkflowLock(b *strings.Builder, l runner.PreviewLock, st *planState) {
	fmt.Fprintf(b, "  lock.%s\n", l.Name)
	attrLine(b, "key", blockLine(l.Attrs))
	scope := "(the whole run)"
	if l.Steps != nil {
		scope = "step." + strings.Join(l.Steps, ", step.")
	}
	attrLine(b, "steps", scope)
	writeLockNow(b, l.Key().Raw, st)
}

// writeLockNow writes who holds key now and who waits for it, in line.
func writeLockNow(b *strings.Builder, key string, st *planState) {
	ls, ok := st.holders(key)
	if !ok {
		return
	}
	attrLine(b, "", "  "+lockNow(ls))
	for i, w := range ls.Queue {
		pos := w.Position
		if pos == 0 {
			pos = i + 1
		}
		attrLine(b, "", fmt.Sprintf("  waiting %s of %d: %s", ordinal(pos), len(ls.Queue), holderSummary([]lock.Holder{w.Holder})))
	}
}

func writeInstance(b *strings.Builder, pi *runner.PreviewInstance, st *planState) {
	fmt.Fprintf(b, "  %s\n", pi.Address)
	if pi.Description != "" {
		attrLine(b, "description", pi.Description)
	}
	if len(pi.ForEachAfter) > 0 {
		attrLine(b, "for_each", runner.PreviewValue{After: pi.ForEachAfter}.String())
	}
	if len(pi.DependsOn) > 0 {
		attrLine(b, "after", "step."+strings.Join(pi.DependsOn, ", step."))
	}
	if len(pi.WorkflowLocks) > 0 {
		attrLine(b, "within", "lock."+strings.Join(pi.WorkflowLocks, ", lock."))
	}
	for _, l := range pi.Locks {
		name := "lock"
		if l.Label != "" {
			name = "lock " + l.Label
		}
		attrLine(b, name, blockLine(l.Attrs))
		writeLockNow(b, l.Key().Raw, st)
	}
	if pi.Once != nil {
		attrLine(b, "once", blockLine(pi.Once))
		writeOnceState(b, pi.OnceKey(), st)
	}
	for i, c := range pi.Checks {
		if c.Condition != nil {
			attrLine(b, fmt.Sprintf("check %d", i+1), fmt.Sprintf("condition %s (now: %s)", c.ConditionSource, c.Condition))
		}
		if c.Command != nil {
			attrLine(b, fmt.Sprintf("check %d", i+1), "command "+c.Command.String())
		}
	}
	for _, a := range pi.Attrs {
		if a.Set {
			attrLine(b, a.Name, a.Value.String())
		}
		if a.Name == "shell" && a.Set && pi.ShellArgs != nil && pi.ShellArgs.Text != "[]" {
			attrLine(b, "shell args", pi.ShellArgs.String())
		}
	}
	if pi.Retry != nil {
		attrLine(b, "retry", blockLine(pi.Retry))
	}
}

func writeOnceState(b *strings.Builder, key *runner.PreviewValue, st *planState) {
	if key == nil {
		return
	}
	rec, ok := st.once(key.Raw)
	if !ok {
		return
	}
	if rec != nil {
		attrLine(b, "", "  marker SET by "+orUnknown(rec.Owner)+" at "+rec.At.UTC().Format(time.RFC3339)+": the step will be skipped")
	} else {
		attrLine(b, "", "  marker not set: the step will run")
	}
}

func lockNow(ls lockState) string {
	if len(ls.Holders) == 0 {
		return "free now"
	}
	return "held now by " + holderSummary(ls.Holders)
}
