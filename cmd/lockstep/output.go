package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/runner"
)

func outputCommand() *command {
	return &command{
		name:     "output",
		synopsis: "Print the outputs of the last run on this machine",
		usage:    "output [-json | -raw] [-workflow PATH] [NAME]",
		help: `Prints the outputs of the last run of the workflow at PATH (-workflow, default
"."; the same path given to run) on this machine, as 'name = value' lines, or
the one output NAME. lockstep keeps them after every run in the per-user state
directory beside the local backend's (` + "`" + `lockstep-outputs` + "`" + `), one file per workflow
path. Sensitive values are never written there: they show as "(sensitive
value)". After a run that failed, outputs that could not be evaluated show as
"(not known)".

-json prints them as one JSON object, {"NAME": {"sensitive": bool, "known":
bool, "value": …}}, or with NAME the value alone. -raw prints NAME's string,
number or bool without quotes, for shell scripts.

Exit status: 0, 1 when the workflow has no recorded outputs (it has not run
on this machine, or has no output blocks) or NAME no value to print
(unknown, sensitive with -json or -raw, or not an output), 2 usage.`,
		args: argNone,
		setup: func(fs *flag.FlagSet) runFunc {
			o := &outputOptions{}
			fs.BoolVar(&o.json, "json", false, "print JSON")
			fs.BoolVar(&o.raw, "raw", false, "print NAME's value without quotes (strings, numbers, bools)")
			fs.StringVar(&o.workflow, "workflow", ".", "the workflow `PATH` given to run (a directory or a file)")
			return o.run
		},
	}
}

type outputOptions struct {
	json, raw bool
	workflow  string
}

// outputRecord is what lockstep keeps of a run's outputs.
type outputRecord struct {
	FormatVersion string                  `json:"format_version"`
	Workflow      string                  `json:"workflow"`
	RunID         string                  `json:"run_id"`
	Outcome       string                  `json:"outcome"`
	Finished      time.Time               `json:"finished"`
	Outputs       map[string]outputStored `json:"outputs"`
	Order         []string                `json:"order"`
}

// outputStored is one output; Value and Type are absent when it is
// sensitive or not known.
type outputStored struct {
	Sensitive bool            `json:"sensitive"`
	Known     bool            `json:"known"`
	Value     json.RawMessage `json:"value,omitempty"`
	Type      json.RawMessage `json:"type,omitempty"`
}

// outputsDir is where outputs are kept: beside the local backend's default
// directory, per user.
func outputsDir() string { return lock.DefaultLocalDir() + "-outputs" }

// outputsFile is the file for the workflow at path (made absolute).
func outputsFile(path string) (file, abs string, err error) {
	abs, err = filepath.Abs(path)
	if err != nil {
		return "", "", err
	}
	sum := sha256.Sum256([]byte(filepath.Clean(abs)))
	return filepath.Join(outputsDir(), hex.EncodeToString(sum[:16])+".json"), abs, nil
}

// saveOutputs keeps res's outputs for `lockstep output`; a workflow without
// outputs writes nothing (and drops what an earlier version of it left). A
// failure to write them is a warning: the run's own result stands.
func saveOutputs(e *env, path string, res *runner.Result) {
	file, abs, err := outputsFile(path)
	if err == nil && len(res.Outputs) == 0 {
		os.Remove(file)
		return
	}
	if err == nil {
		err = writeOutputRecord(file, newOutputRecord(abs, res))
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "lockstep run: warning: the outputs could not be kept for 'lockstep output': %v\n", err)
	}
}

func newOutputRecord(abs string, res *runner.Result) *outputRecord {
	rec := &outputRecord{FormatVersion: "1", Workflow: abs, RunID: res.RunID, Outcome: res.Outcome.String(),
		Finished: time.Now().UTC(), Outputs: map[string]outputStored{}, Order: []string{}}
	for _, o := range res.Outputs {
		st := outputStored{Sensitive: o.Sensitive || (o.Value != cty.NilVal && o.Value.ContainsMarked())}
		if !st.Sensitive && o.Value != cty.NilVal && o.Value.IsWhollyKnown() {
			v, verr := ctyjson.Marshal(o.Value, o.Value.Type())
			t, terr := ctyjson.MarshalType(o.Value.Type())
			if verr == nil && terr == nil {
				st.Known, st.Value, st.Type = true, v, t
			}
		}
		rec.Outputs[o.Name] = st
		rec.Order = append(rec.Order, o.Name)
	}
	return rec
}

// writeOutputRecord writes rec to file atomically, mode 0600 in a 0700
// directory.
func writeOutputRecord(file string, rec *outputRecord) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	tmp := file + ".tmp" + newRunID()
	if err := os.WriteFile(tmp, append(safeJSON(b), '\n'), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, file); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func (o *outputOptions) run(e *env, args []string) error {
	if err := positional(args, 0, 1, "at most one NAME"); err != nil {
		return err
	}
	if o.raw && (o.json || len(args) == 0) {
		return usagef("-raw prints one output: give NAME, and not -json")
	}
	file, abs, err := outputsFile(o.workflow)
	if err != nil {
		return usagef("-workflow %s: %v", o.workflow, err)
	}
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no outputs of %s recorded on this machine: it has not run here (lockstep run %s), or it has no outputs", abs, o.workflow)
	}
	var rec outputRecord
	if err == nil {
		err = json.Unmarshal(b, &rec)
	}
	if err != nil {
		return fmt.Errorf("read the outputs of %s: %w", abs, err)
	}
	if len(args) == 1 {
		return o.printOne(e, &rec, args[0])
	}
	return o.printAll(e, &rec)
}
