package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/lockstep-dev/lockstep/runner"
)

// printAll prints every output of rec.
func (o *outputOptions) printAll(e *env, rec *outputRecord) error {
	if o.json {
		b, err := json.MarshalIndent(rec.Outputs, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s\n", safeJSON(b))
		return nil
	}
	fmt.Fprintf(e.stderr, "Outputs of run %s (%s) at %s:\n", rec.RunID, rec.Outcome, rec.Finished.Format("2006-01-02T15:04:05Z"))
	var b strings.Builder
	for _, name := range rec.Order {
		fmt.Fprintf(&b, "%s = %s\n", name, storedDisplay(rec.Outputs[name]))
	}
	fmt.Fprint(e.stdout, b.String())
	return nil
}

// printOne prints the output name of rec.
func (o *outputOptions) printOne(e *env, rec *outputRecord, name string) error {
	st, ok := rec.Outputs[name]
	switch {
	case !ok:
		msg := fmt.Sprintf("the workflow has no output %q", name)
		if s := suggest(name, rec.Order); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		return fmt.Errorf("%s", msg)
	case st.Sensitive && (o.json || o.raw):
		return fmt.Errorf("output %q is sensitive: lockstep never stores sensitive values", name)
	case !st.Known && !st.Sensitive && (o.json || o.raw):
		return fmt.Errorf("output %q is not known: run %s ended %s before it could be evaluated", name, rec.RunID, rec.Outcome)
	case o.json:
		fmt.Fprintf(e.stdout, "%s\n", safeJSON(st.Value))
		return nil
	case o.raw:
		return printRaw(e, name, st)
	}
	fmt.Fprintln(e.stdout, storedDisplay(st))
	return nil
}

// printRaw prints a primitive value without quotes.
func printRaw(e *env, name string, st outputStored) error {
	v, err := storedValue(st)
	if err != nil {
		return err
	}
	switch {
	case v.IsNull():
		return fmt.Errorf("output %q is null", name)
	case v.Type() == cty.String:
		fmt.Fprintln(e.stdout, v.AsString())
	case v.Type() == cty.Number, v.Type() == cty.Bool:
		fmt.Fprintln(e.stdout, runner.FormatValue(v))
	default:
		return fmt.Errorf("output %q is a %s: -raw prints strings, numbers and bools; use -json", name, v.Type().FriendlyName())
	}
	return nil
}

// storedValue decodes a stored output.
func storedValue(st outputStored) (cty.Value, error) {
	t, err := ctyjson.UnmarshalType(st.Type)
	if err != nil {
		return cty.NilVal, fmt.Errorf("stored output type: %w", err)
	}
	v, err := ctyjson.Unmarshal(st.Value, t)
	if err != nil {
		return cty.NilVal, fmt.Errorf("stored output value: %w", err)
	}
	return v, nil
}

// storedDisplay renders a stored output as run does.
func storedDisplay(st outputStored) string {
	switch {
	case st.Sensitive:
		return runner.SensitivePlaceholder
	case !st.Known:
		return "(not known)"
	}
	v, err := storedValue(st)
	if err != nil {
		return "(error: " + err.Error() + ")"
	}
	return displayValue(v, false)
}
