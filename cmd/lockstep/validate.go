package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/hcl/v2"
	"github.com/lockstep-dev/lockstep/config"
)

const validateUsage = `Usage: lockstep validate [-json] [PATH]

  Check whether the workflow at PATH (a directory, default ".", or one file)
  is valid: syntax, blocks and attributes, types, durations, references,
  functions and cycles. Every problem is reported in one run. validate
  needs no variable values (it checks against unknown values of each
  variable's type) and never contacts a backend.

  Exit status: 0 valid, 2 invalid or usage error.

Flags:
`

// parseUsageFlags parses args with fs, printing usage (with usageText) to stdout
// for -help and to stderr for a bad flag. It returns the exit code to stop
// with, or -1 to carry on.
func parseUsageFlags(fs *flag.FlagSet, usageText string, args []string) int {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	printUsage := func(w io.Writer) {
		fmt.Fprint(w, usageText)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printUsage(os.Stdout)
		return exitOK
	case err != nil:
		fmt.Fprintf(os.Stderr, "lockstep %s: %s\n\n", fs.Name(), err)
		printUsage(os.Stderr)
		return exitUsage
	}
	return -1
}

// workflowPath returns the single optional PATH argument, "." by default.
func workflowPath(fs *flag.FlagSet) (string, bool) {
	switch fs.NArg() {
	case 0:
		return ".", true
	case 1:
		return fs.Arg(0), true
	}
	fmt.Fprintf(os.Stderr, "lockstep %s: expected at most one PATH argument, got %d\n", fs.Name(), fs.NArg())
	return "", false
}

func validateMain(args []string) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the result as one JSON document on stdout")
	if code := parseUsageFlags(fs, validateUsage, args); code >= 0 {
		return code
	}
	path, ok := workflowPath(fs)
	if !ok {
		return exitUsage
	}
	w, diags := config.Load(path, nil)
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
