package main

import (
	"context"
	"flag"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/hashicorp/go-hclog"
	"github.com/posener/complete"
)

// Shell completion is posener/complete's (v1, as in Terraform and the other
// HashiCorp CLIs): a shell runs `lockstep` with COMP_LINE set, and Main hands
// over to completeMain before anything else is set up. The tree of commands,
// flags and argument predictors is built from the same command table as
// -help and the man page, only when a shell asks, and the library's
// Command.Predict does the completing.
//
// completeMain reads COMP_LINE itself rather than through the library's
// (*Complete).Complete: that method also reaches the library's installer,
// whose fish template links text/template, whose reflective method calls make
// the Go linker keep every exported method of every type (go-redis's
// hundreds): 11 MB more binary and slower start-up for every command.

// completeMain prints the completions of the line in COMP_LINE (up to
// COMP_POINT) on stdout, one per line, as the library's Complete does.
func completeMain(stdout io.Writer, getenv func(string) string) int {
	line := getenv("COMP_LINE")
	if p, err := strconv.Atoi(getenv("COMP_POINT")); err == nil && p >= 0 && p < len(line) {
		line = line[:p]
	}
	a := completionArgs(line)
	var b strings.Builder
	tree := completionTree(getenv)
	for _, option := range tree.Predict(a) {
		if strings.HasPrefix(option, a.Last) {
			b.WriteString(option + "\n")
		}
	}
	io.WriteString(stdout, b.String())
	return exitOK
}

// completionArgs splits a command line as the library's (unexported) newArgs
// does: fields by spaces, an empty last field after a trailing space, and a
// last field "a=b" split in two.
func completionArgs(line string) complete.Args {
	parts := strings.Fields(line)
	if len(line) > 0 && unicode.IsSpace(rune(line[len(line)-1])) {
		parts = append(parts, "")
	}
	if n := len(parts); n > 0 {
		parts = append(parts[:n-1], strings.Split(parts[n-1], "=")...)
	}
	var a complete.Args
	if len(parts) > 0 {
		a.All = parts[1:]
		a.Last = parts[len(parts)-1]
	}
	if len(a.All) > 0 {
		a.Completed = a.All[:len(a.All)-1]
	}
	if n := len(a.Completed); n > 0 {
		a.LastCompleted = a.Completed[n-1]
	}
	return a
}

// completionTree describes every command for posener/complete.
func completionTree(getenv func(string) string) complete.Command {
	top := complete.Command{Sub: complete.Commands{}, Flags: complete.Flags{
		"-chdir": complete.PredictDirs("*"), "-no-color": nil, "-help": nil, "-version": nil,
		"-install-autocomplete": nil, "-uninstall-autocomplete": nil,
	}}
	for _, c := range commandList() {
		top.Sub[c.name] = completionCommand(c, getenv)
	}
	top.Sub["help"] = complete.Command{Args: complete.PredictSet(commandNames()...)}
	return top
}

func commandNames() []string {
	var names []string
	for _, c := range commandList() {
		names = append(names, c.name)
	}
	return names
}

func completionCommand(c *command, getenv func(string) string) complete.Command {
	cc := complete.Command{Flags: complete.Flags{}, Args: argPredictor(c.args, getenv)}
	if len(c.subs) > 0 {
		cc.Sub = complete.Commands{}
		for _, s := range c.subs {
			cc.Sub[strings.TrimPrefix(s.name, c.name+" ")] = completionCommand(s, getenv)
		}
	}
	if c.setup == nil {
		return cc
	}
	var noColor bool
	fs, _ := newFlagSet(c, &noColor)
	fs.VisitAll(func(f *flag.Flag) {
		cc.Flags["-"+f.Name] = flagPredictor(f)
	})
	return cc
}

// flagPredictor predicts a flag's value: nothing for a bool flag, files and
// directories for the flags that take paths, anything else otherwise.
func flagPredictor(f *flag.Flag) complete.Predictor {
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return nil
	}
	switch f.Name {
	case "config", "workflow":
		return complete.PredictOr(complete.PredictDirs("*"), complete.PredictFiles("*.hcl"))
	case "var-file":
		return complete.PredictFiles("*")
	case "on-busy":
		return complete.PredictSet("wait", "skip", "fail")
	case "backend":
		return complete.PredictSet("redis://", "rediss://", "unix://", "local://")
	}
	return complete.PredictAnything
}

// argPredictor predicts positional arguments. Lock and once keys come from
// the backend of LOCKSTEP_BACKEND (else the local default), asked for at
// most completionTimeout.
func argPredictor(kind argKind, getenv func(string) string) complete.Predictor {
	switch kind {
	case argPath, argFiles:
		return complete.PredictOr(complete.PredictDirs("*"), complete.PredictFiles("*.hcl"), complete.PredictFiles("*.hcl.json"))
	case argLockKey:
		return complete.PredictFunc(func(a complete.Args) []string { return backendKeys(getenv, a.Last, false) })
	case argOnceKey:
		return complete.PredictFunc(func(a complete.Args) []string { return backendKeys(getenv, a.Last, true) })
	case argHelpTopic:
		return complete.PredictSet(commandNames()...)
	}
	return nil
}

// completionTimeout bounds a backend lookup for completion: a shell waits.
const completionTimeout = 500 * time.Millisecond

// backendKeys lists the held lock keys (or once keys) starting with prefix.
// Any problem yields no completions.
func backendKeys(getenv func(string) string, prefix string, once bool) []string {
	ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
	defer cancel()
	e := &env{getenv: getenv, stderr: io.Discard, ctx: ctx}
	l, _, err := openLocker(ctx, e, "", nil, hclog.NewNullLogger())
	if err != nil {
		return nil
	}
	defer l.Close()
	var keys []string
	if once {
		recs, _ := l.ListOnce(ctx, prefix)
		for _, r := range recs {
			keys = append(keys, r.Key)
		}
		return keys
	}
	locks, _ := l.List(ctx, prefix)
	for _, li := range locks {
		keys = append(keys, li.Key)
	}
	return keys
}
