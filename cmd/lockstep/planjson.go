package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"

	"github.com/hashicorp/hcl/v2"

	"github.com/lockstep-dev/lockstep/runner"
)

// planValue is a value in plan -json: known with its value, known after some
// steps or locks, or sensitive. A default carries "default": true.
type planValue struct {
	Value      json.RawMessage `json:"value,omitempty"`
	Known      bool            `json:"known"`
	Sensitive  bool            `json:"sensitive,omitempty"`
	Default    bool            `json:"default,omitempty"`
	After      []string        `json:"known_after,omitempty"`
	AfterLocks []string        `json:"known_after_locks,omitempty"`
}

// planBlock is a block's attributes in plan -json: one property per
// attribute of its schema (absent ones with their defaults, or only those
// set when setOnly), in schema order, after the fixed properties.
type planBlock struct {
	fixed   []jsonProp
	attrs   runner.PreviewBlock
	setOnly bool
}

type jsonProp struct {
	name  string
	value any
}

func (b planBlock) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	first := true
	write := func(name string, v any) error {
		if !first {
			buf.WriteByte(',')
		}
		first = false
		k, _ := json.Marshal(name)
		buf.Write(k)
		buf.WriteByte(':')
		return jsonInto(&buf, v)
	}
	for _, p := range b.fixed {
		if err := write(p.name, p.value); err != nil {
			return nil, err
		}
	}
	for _, a := range b.attrs {
		if b.setOnly && !a.Set {
			continue
		}
		if err := write(a.Name, toPlanValue(&a.Value)); err != nil {
			return nil, err
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func jsonInto(buf *bytes.Buffer, v any) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	buf.Truncate(buf.Len() - 1) // the encoder's newline
	return nil
}

type planCheck struct {
	Condition       *planValue `json:"condition,omitempty"`
	ConditionSource string     `json:"condition_source,omitempty"`
	Command         *planValue `json:"command,omitempty"`
}

func toPlanValue(v *runner.PreviewValue) *planValue {
	if v == nil {
		return nil
	}
	out := &planValue{Known: v.Known && !v.Sensitive, Sensitive: v.Sensitive, Default: v.Default, After: v.After,
		AfterLocks: v.AfterLocks}
	switch {
	case out.Known && json.Valid([]byte(v.Text)):
		out.Value = json.RawMessage(v.Text)
	case out.Known && v.Default:
		out.Value = json.RawMessage("null") // absent, no default: "(no limit)", "(forever)"
	case out.Known:
		out.Value, _ = json.Marshal(v.Text)
	}
	return out
}

// lockJSON is a lock in plan -json: name (workflow-level) or label, every
// attribute, the scope of a workflow-level lock and who holds it now.
func lockJSON(l runner.PreviewLock, st *planState) planBlock {
	var fixed []jsonProp
	if l.Name != "" {
		fixed = append(fixed, jsonProp{"name", l.Name})
	}
	if l.Label != "" {
		fixed = append(fixed, jsonProp{"label", l.Label})
	}
	if l.Name != "" {
		steps := []string{}
		for _, s := range l.Steps {
			steps = append(steps, "step."+s)
		}
		fixed = append(fixed, jsonProp{"whole_run", l.Steps == nil}, jsonProp{"steps", steps})
	}
	b := planBlock{fixed: fixed, attrs: l.Attrs}
	if ls, ok := st.holders(l.Key().Raw); ok {
		b.fixed = append(b.fixed, jsonProp{"now", &ls})
	}
	return b
}

func stepJSON(pi *runner.PreviewInstance, st *planState) planBlock {
	fixed := []jsonProp{{"address", pi.Address}, {"step", pi.Step}}
	opt := func(name string, v any, set bool) {
		if set {
			fixed = append(fixed, jsonProp{name, v})
		}
	}
	opt("description", pi.Description, pi.Description != "")
	opt("depends_on", pi.DependsOn, len(pi.DependsOn) > 0)
	opt("for_each_known_after", pi.ForEachAfter, len(pi.ForEachAfter) > 0)
	opt("workflow_locks", pi.WorkflowLocks, len(pi.WorkflowLocks) > 0)
	opt("shell_args", toPlanValue(pi.ShellArgs), pi.Shell && pi.ShellArgs != nil)
	var locks []planBlock
	for _, l := range pi.Locks {
		locks = append(locks, lockJSON(l, st))
	}
	opt("locks", locks, len(locks) > 0)
	if k := pi.OnceKey(); k != nil {
		opt("once_key", toPlanValue(k), true)
		opt("once", planBlock{attrs: pi.Once}, true)
		rec, _ := st.once(k.Raw)
		opt("once_marker", rec, rec != nil)
	}
	var checks []planCheck
	for _, c := range pi.Checks {
		checks = append(checks, planCheck{Condition: toPlanValue(c.Condition), ConditionSource: c.ConditionSource,
			Command: toPlanValue(c.Command)})
	}
	opt("checks", checks, len(checks) > 0)
	opt("retry", planBlock{attrs: pi.Retry}, pi.Retry != nil)
	opt("errors", diagTexts(pi.Diags), pi.Diags.HasErrors())
	return planBlock{fixed: fixed, attrs: pi.Attrs, setOnly: true}
}

func diagTexts(diags hcl.Diagnostics) []string {
	var out []string
	for _, d := range diags {
		out = append(out, d.Error())
	}
	return out
}

// writePlanJSON prints the plan as one JSON document (docs/cli.md): the
// workflow-level locks, the steps (written as they are evaluated), then the
// backend and whether it answered. It reports whether a step or a
// workflow-level lock could not be evaluated.
func writePlanJSON(w io.Writer, doc *planDoc, lockDiags hcl.Diagnostics) (failed bool) {
	out := bufio.NewWriterSize(w, 64<<10)
	defer out.Flush()
	failed = lockDiags.HasErrors()
	st := doc.state
	locks := []planBlock{}
	for _, l := range doc.locks {
		locks = append(locks, lockJSON(l, st))
	}
	io.WriteString(out, "{\n  \"locks\": ")
	writeIndented(out, locks)
	if len(lockDiags) > 0 {
		io.WriteString(out, ",\n  \"errors\": ")
		writeIndented(out, diagTexts(lockDiags))
	}
	io.WriteString(out, ",\n  \"steps\": [")
	first := true
	doc.each(func(pi *runner.PreviewInstance) {
		if pi.Diags.HasErrors() {
			failed = true
		}
		if !first {
			io.WriteString(out, ",")
		}
		first = false
		io.WriteString(out, "\n    ")
		writeIndentedAt(out, stepJSON(pi, st), "    ")
	})
	if !first {
		io.WriteString(out, "\n  ")
	}
	io.WriteString(out, "],\n  \"backend\": ")
	writeIndented(out, &planState{Backend: st.Backend, Reachable: st.Reachable, Error: st.Error})
	io.WriteString(out, "\n}\n")
	return failed
}

// writeIndented writes v as JSON indented for a property of the document.
func writeIndented(w io.Writer, v any) { writeIndentedAt(w, v, "  ") }

func writeIndentedAt(w io.Writer, v any, prefix string) {
	var buf, ind bytes.Buffer
	if jsonInto(&buf, v) != nil || json.Indent(&ind, buf.Bytes(), prefix, "  ") != nil {
		io.WriteString(w, "null")
		return
	}
	w.Write(safeJSON(ind.Bytes()))
}
