package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/hashicorp/hcl/v2"
	"github.com/lockstep-dev/lockstep/config"
)

const validateHelp = `  Check whether the workflow at PATH (a directory, default ".", or one file)
  is valid: syntax, blocks and attributes, types, durations, references,
  functions, cycles and the variable files loaded automatically from the
  workflow directory (lockstep.vars, *.auto.vars). Every problem is reported
  in one run. validate needs no variable values (it checks against unknown
  values of each variable's type) and never contacts a backend.

  Exit status: 0 valid, 2 invalid or usage error.`

// workflowPath returns the single optional PATH argument, "." by default;
// ok is false (after a usage message) when there are more.
func workflowPath(fs *flag.FlagSet) (path string, ok bool) {
	switch fs.NArg() {
	case 0:
		return ".", true
	case 1:
		return fs.Arg(0), true
	}
	usageFail(fs, fmt.Sprintf("expected at most one PATH argument, got %d", fs.NArg()))
	return "", false
}

func validateMain(args []string) int {
	fs := newFlagSet("validate", "validate [-json] [PATH]", validateHelp)
	asJSON := fs.Bool("json", false, "print the result as one JSON document on stdout")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	path, ok := workflowPath(fs)
	if !ok {
		return exitUsage
	}
	w, diags := config.Load(path, nil)
	if w != nil && !diags.HasErrors() {
		_, vd := w.ResolveVariables(config.VariableInputs{Partial: true})
		diags = append(diags, vd...)
	}
	var files map[string]*hcl.File
	if w != nil {
		files = w.Files
	}
	if *asJSON {
		if err := writeJSONValidation(os.Stdout, files, diags); err != nil {
			fmt.Fprintf(os.Stderr, "lockstep validate: %s\n", err)
			return exitUsage
		}
	} else {
		writeDiagnostics(os.Stderr, files, diags)
		if !diags.HasErrors() {
			fmt.Fprintln(os.Stdout, "Success! The workflow is valid.")
		}
	}
	if diags.HasErrors() {
		return exitUsage
	}
	return exitOK
}
