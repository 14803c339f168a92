package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/agext/levenshtein"
)

// newFlagSet returns the flag set of c with c's flags and -no-color
// registered, and the function that runs c. Flag errors are returned, never
// printed: the dispatcher reports them.
func newFlagSet(c *command, noColor *bool) (*flag.FlagSet, runFunc) {
	fs := flag.NewFlagSet("lockstep "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var run runFunc
	if c.setup != nil {
		run = c.setup(fs)
	}
	fs.BoolVar(noColor, "no-color", *noColor, "no colour in diagnostics (as NO_COLOR)")
	return fs, run
}

// parseArgs parses args against fs and returns the positional arguments.
// Flags may come anywhere among them, as people type them (`run
// examples/ci-deploy -var env=production`), unless strict (exec, whose
// COMMAND has flags of its own); "--" ends the flags (a strict command gets
// that "--" among its arguments). A mistyped flag gets a "did you mean" from
// the flags fs has.
func parseArgs(fs *flag.FlagSet, args []string, strict bool) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, flagError(fs, err)
		}
		rest := fs.Args()
		consumed := len(args) - len(rest)
		ended := consumed > 0 && args[consumed-1] == "--"
		if strict && ended {
			// Keep the "--" that ended the flags: exec tells `exec -- CMD`
			// (no KEY) from `exec KEY -- CMD` by it.
			return append(pos, args[consumed-1:]...), nil
		}
		if strict || len(rest) == 0 || ended {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// flagError turns a flag package error into a usage error, with a
// suggestion for an unknown flag.
func flagError(fs *flag.FlagSet, err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		if s := suggest(strings.TrimPrefix(name, "-"), names); s != "" {
			msg += fmt.Sprintf(" (did you mean -%s?)", s)
		}
	}
	return &usageError{errors.New(msg)}
}

// suggest returns the candidate closest to typed when it is close enough to
// be a typo (Terraform's rule: a Levenshtein distance below 3), else "".
func suggest(typed string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := levenshtein.Distance(typed, c, nil); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// writeHelp prints c's help: usage line, description, subcommands and flags.
func writeHelp(w io.Writer, c *command) {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: lockstep %s\n\n%s\n", c.usage, strings.TrimRight(c.help, "\n"))
	if len(c.subs) > 0 {
		b.WriteString("\nSubcommands:\n")
		for _, s := range c.subs {
			fmt.Fprintf(&b, "  %-8s %s\n", strings.TrimPrefix(s.name, c.name+" "), s.synopsis)
		}
		fmt.Fprintf(&b, "\nRun 'lockstep %s <subcommand> -help' for its flags.\n", c.name)
	}
	if c.setup != nil {
		var noColor bool
		fs, _ := newFlagSet(c, &noColor)
		b.WriteString("\nFlags:\n")
		fs.SetOutput(&b)
		fs.PrintDefaults()
	}
	io.WriteString(w, b.String())
}

// positional checks the number of positional arguments: at least min, at
// most max.
func positional(args []string, min, max int, what string) error {
	if len(args) < min || len(args) > max {
		return usagef("want %s", what)
	}
	return nil
}

// waitFlag is a -timeout duration: unset means wait without limit, 0s means
// try once.
type waitFlag struct {
	d   time.Duration
	set bool
}

func (f *waitFlag) String() string {
	if f == nil || !f.set {
		return ""
	}
	return f.d.String()
}

func (f *waitFlag) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	if d < 0 {
		return errors.New("negative duration")
	}
	f.d, f.set = d, true
	return nil
}

// wait returns the lock.Request.Wait value for the flag.
func (f *waitFlag) wait() time.Duration {
	if !f.set {
		return -1 // lock.WaitForever
	}
	return f.d
}
