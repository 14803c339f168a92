package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/lockstep-dev/lockstep/lock"
)

const onceUsage = `Usage: lockstep once <subcommand> [flags] [args]

List and forget once markers: the done-records a step (or 'exec -once') writes
after it succeeded, which make later runs skip it.

Subcommands:
  list   [-json] [PREFIX]   List markers whose key starts with PREFIX
  forget KEY                Delete the marker KEY so that the work runs again

Both take -backend URL and -config PATH.
`

func onceMain(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, onceUsage)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(os.Stdout, onceUsage)
		return exitOK
	case "list":
		return onceListMain(args[1:])
	case "forget":
		return onceForgetMain(args[1:])
	}
	fmt.Fprintf(os.Stderr, "lockstep once: unknown subcommand %q\n\n%s", args[0], onceUsage)
	return exitUsage
}

func onceListMain(args []string) int {
	fs := newFlagSet("once list", "once list [-json] [-backend URL] [-config PATH] [PREFIX]",
		"Lists once markers whose key starts with PREFIX: who wrote each, when, in which\nrun and step, and how long it is kept. -json prints one JSON object per line.")
	var bf backendFlags
	bf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON objects, one per line")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	a, code, ok := positional(fs, 0, 1, "at most one PREFIX")
	if !ok {
		return code
	}
	prefix := strings.Join(a, "")
	return withLocker("once list", &bf, func(ctx context.Context, l lock.Locker) error {
		recs, err := l.ListOnce(ctx, prefix)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSONLines(recs)
		}
		writeOnceTable(recs)
		return nil
	})
}

func writeOnceTable(recs []lock.OnceRecord) {
	if len(recs) == 0 {
		fmt.Fprintln(os.Stderr, "No once markers.")
		return
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tBY\tAT\tRUN\tSTEP\tKEPT")
	for _, r := range recs {
		kept := "forever"
		if r.TTL > 0 {
			kept = roundAge(r.TTL) + " more"
		}
		at := "-"
		if !r.At.IsZero() {
			at = r.At.UTC().Format("2006-01-02T15:04:05Z")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Key, dash(r.Owner), at, dash(r.RunID), dash(r.Step), kept)
	}
	tw.Flush()
}

func onceForgetMain(args []string) int {
	fs := newFlagSet("once forget", "once forget [-backend URL] [-config PATH] KEY",
		"Deletes the once marker KEY, so that the work it records runs again.")
	var bf backendFlags
	bf.register(fs)
	if code, done := parseFlags(fs, args); done {
		return code
	}
	a, code, ok := positional(fs, 1, 1, "one KEY")
	if !ok {
		return code
	}
	return withLocker("once forget", &bf, func(ctx context.Context, l lock.Locker) error {
		err := l.ForgetOnce(ctx, a[0])
		if errors.Is(err, lock.ErrNotHeld) {
			return fmt.Errorf("no once marker %q", a[0])
		}
		if err == nil {
			fmt.Fprintf(os.Stderr, "Forgot once marker %q.\n", a[0])
		}
		return err
	})
}
