package main

import (
	"flag"
	"fmt"

	"github.com/hashicorp/hcl/v2"

	"github.com/lockstep-dev/lockstep/config"
)

func validateCommand() *command {
	return &command{
		name:     "validate",
		synopsis: "Check whether the workflow is valid",
		usage:    "validate [-json] [PATH]",
		help: `Check whether the workflow at PATH (a directory, default ".", or one file) is
valid: syntax, blocks and attributes, types, durations, references,
functions, cycles and the variable files loaded automatically from the
workflow directory (lockstep.vars, *.auto.vars). Every problem is reported in
one run. validate needs no variable values (it checks against unknown values
of each variable's type) and never contacts a backend.

Exit status: 0 valid, 2 invalid or usage error.`,
		args: argPath,
		setup: func(fs *flag.FlagSet) runFunc {
			asJSON := fs.Bool("json", false, "print the result as one JSON document on stdout")
			return func(e *env, args []string) error { return runValidate(e, args, *asJSON) }
		},
	}
}

// workflowPath returns the single optional PATH argument, "." by default.
func workflowPath(args []string) (string, error) {
	switch len(args) {
	case 0:
		return ".", nil
	case 1:
		return args[0], nil
	}
	return "", usagef("expected at most one PATH argument, got %d", len(args))
}

func runValidate(e *env, args []string, asJSON bool) error {
	path, err := workflowPath(args)
	if err != nil {
		return err
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
	if asJSON {
		if err := writeJSONValidation(e.stdout, files, diags); err != nil {
			return &usageError{err}
		}
	} else {
		e.diagnostics(files, diags)
		if !diags.HasErrors() {
			fmt.Fprintln(e.stdout, "Success! The workflow is valid.")
		}
	}
	if diags.HasErrors() {
		return reported(usagef("the workflow is not valid"))
	}
	return nil
}
