package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// runFunc runs a command with its positional arguments; its flags were
// parsed into the variables its setup registered.
type runFunc func(e *env, args []string) error

// command describes one subcommand. Its help text, flags and completion come
// from here, for -help, the man page (man.go) and shell completion alike.
// Each command lives in a file of its own.
type command struct {
	name     string // "plan", "lock show"
	synopsis string // one line, for the command list
	usage    string // the usage line after "lockstep "
	help     string // the description, in paragraphs
	// setup registers the command's flags on fs and returns the function
	// that runs it. nil for a command that only groups subcommands.
	setup func(fs *flag.FlagSet) runFunc
	subs  []*command
	// strict takes flags only before the first argument (exec: the flags
	// after KEY belong to COMMAND).
	strict bool
	// signals: the command runs others or talks to a backend, so stop
	// signals must stop it gracefully (env.watchSignals).
	signals bool
	args    argKind // what the positional arguments are, for completion
}

// argKind says what a command's positional arguments are.
type argKind int

const (
	argNone      argKind = iota
	argPath              // a workflow directory or file
	argFiles             // workflow files or directories (fmt)
	argLockKey           // a lock key
	argOnceKey           // a once-marker key
	argCommand           // exec: KEY, then a command line
	argHelpTopic         // help: a command name
)

// commandList returns every command in the order help lists them. It is
// built on each call (cheaply): nothing of it exists until a command runs.
func commandList() []*command {
	return []*command{
		validateCommand(), planCommand(), runCommand(), outputCommand(), fmtCommand(), graphCommand(),
		execCommand(), lockCommand(), forceUnlockCommand(), onceCommand(), versionCommand(), completionPrintCommand(),
	}
}

// dispatch runs the command that args name, after the global options, and
// reports its error on stderr. It is the one dispatcher of the CLI.
func dispatch(e *env, args []string) error {
	args, done, err := e.globalOptions(args)
	if err != nil || done {
		e.report("", err)
		return err
	}
	c, rest, err := findCommand(commandList(), args)
	if err != nil {
		e.report("", err)
		var ue *usageError
		if c != nil && errors.As(err, &ue) {
			writeHelp(e.stderr, c)
		}
		return err
	}
	if c.name == "help" {
		return e.helpTopic(rest)
	}
	fs, run := newFlagSet(c, &e.noColor)
	pos, err := parseArgs(fs, rest, c.strict)
	switch {
	case errors.Is(err, flag.ErrHelp):
		writeHelp(e.stdout, c)
		return nil
	case err == nil:
		if c.signals {
			e.watchSignals()
		}
		err = run(e, pos)
	}
	e.report(c.name, err)
	return err
}

// findCommand finds the command args name (a subcommand too) and returns it
// with the arguments after its name. An unknown name is a usage error with a
// suggestion; c is then the group whose subcommand was wrong, if any.
func findCommand(list []*command, args []string) (c *command, rest []string, err error) {
	if len(args) == 0 {
		return nil, nil, &usageError{errors.New("no command given; run 'lockstep -help' for the list")}
	}
	if args[0] == "help" {
		return &command{name: "help"}, args[1:], nil
	}
	var group *command
	prefix := ""
	for {
		var names []string
		for _, cand := range list {
			short := strings.TrimPrefix(cand.name, prefix)
			if short == args[0] {
				c = cand
			}
			names = append(names, short)
		}
		if c == nil {
			what := "command"
			if group != nil {
				what = "subcommand of " + group.name
			}
			msg := fmt.Sprintf("unknown %s %q", what, args[0])
			if s := suggest(args[0], names); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			if group == nil {
				msg += "\nRun 'lockstep -help' for the list of commands."
			}
			return group, nil, &usageError{errors.New(msg)}
		}
		args = args[1:]
		if len(c.subs) == 0 || (len(args) > 0 && isHelpArg(args[0])) {
			return c, args, nil
		}
		if len(args) == 0 {
			return c, nil, &usageError{fmt.Errorf("%s needs a subcommand", c.name)}
		}
		group, list, prefix, c = c, c.subs, c.name+" ", nil
	}
}

func isHelpArg(s string) bool {
	return s == "-h" || s == "-help" || s == "--help"
}

// globalOptions handles the options before the command, as Terraform's:
// -chdir=DIR (switch directory first), -no-color, -help, -version and the
// completion installers. done means the option did all there was to do.
func (e *env) globalOptions(args []string) (rest []string, done bool, err error) {
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		opt, val, hasVal := strings.Cut(strings.TrimPrefix(args[0], "-"), "=")
		opt = strings.TrimPrefix(opt, "-")
		args = args[1:]
		switch opt {
		case "chdir":
			if !hasVal {
				if len(args) == 0 {
					return nil, false, usagef("-chdir needs a directory: -chdir=DIR")
				}
				val, args = args[0], args[1:]
			}
			if e.chdir == nil {
				return nil, false, usagef("-chdir is not available here")
			}
			if err := e.chdir(val); err != nil {
				return nil, false, usagef("-chdir: %v", err)
			}
		case "no-color":
			e.noColor = true
		case "h", "help":
			writeUsage(e.stdout)
			return nil, true, nil
		case "v", "version":
			return nil, true, runVersion(e, false)
		case "install-autocomplete", "uninstall-autocomplete":
			return nil, true, e.autocomplete(opt == "install-autocomplete")
		default:
			return nil, false, usagef("unknown global option -%s (global options: -chdir=DIR, -no-color, -help, -version, -install-autocomplete, -uninstall-autocomplete)", opt)
		}
	}
	if len(args) == 0 {
		writeUsage(e.stderr)
		return nil, false, reported(usagef("no command given"))
	}
	return args, false, nil
}

// helpTopic prints the help of the command topic names ("help lock show"),
// or the command list.
func (e *env) helpTopic(topic []string) error {
	if len(topic) == 0 {
		writeUsage(e.stdout)
		return nil
	}
	c, rest, err := findCommand(commandList(), topic)
	if err != nil && len(rest) == 0 && c == nil {
		e.report("help", err)
		return err
	}
	writeHelp(e.stdout, c)
	return nil
}

// writeUsage prints the top-level help: commands and global options.
func writeUsage(w io.Writer) {
	var b strings.Builder
	b.WriteString("Usage: lockstep [global options] <command> [flags] [args]\n\n")
	b.WriteString("lockstep runs declarative workflows whose steps coordinate through distributed locks.\n\nCommands:\n")
	for _, c := range commandList() {
		fmt.Fprintf(&b, "  %-13s %s\n", c.name, c.synopsis)
	}
	b.WriteString(globalHelp)
	io.WriteString(w, b.String())
}

const globalHelp = `
Global options (before the command):
  -chdir=DIR               switch to DIR before running the command
  -no-color                no colour in diagnostics (every command also takes it)
  -help                    this help; 'lockstep <command> -help' shows a command's flags
  -version                 print the version (as 'lockstep version')
  -install-autocomplete    install shell completion for bash, zsh and fish
  -uninstall-autocomplete  remove it again

Run 'lockstep <command> -help' for a command's flags.
`
