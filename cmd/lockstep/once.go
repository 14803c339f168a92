package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/lockstep-dev/lockstep/lock"
)

func onceCommand() *command {
	return &command{
		name:     "once",
		synopsis: "List and forget once markers",
		usage:    "once <subcommand> [flags] [args]",
		help: `List and forget once markers: the done-records a step (or 'exec -once') writes
after it succeeded, which make later runs skip it. Both subcommands take
-backend URL and -config PATH.`,
		subs: []*command{onceListCommand(), onceForgetCommand()},
	}
}

func onceListCommand() *command {
	return &command{
		name:     "once list",
		signals:  true,
		synopsis: "List markers whose key starts with PREFIX",
		usage:    "once list [-json] [-backend URL] [-config PATH] [PREFIX]",
		help: `Lists once markers whose key starts with PREFIX: who wrote each, when, in which
run and step, and how long it is kept. -json prints one JSON object per line.`,
		args: argOnceKey,
		setup: func(fs *flag.FlagSet) runFunc {
			var bf backendFlags
			bf.register(fs)
			asJSON := fs.Bool("json", false, "print JSON objects, one per line")
			return func(e *env, args []string) error {
				if err := positional(args, 0, 1, "at most one PREFIX"); err != nil {
					return err
				}
				return withLocker(e, &bf, func(ctx context.Context, l lock.Locker) error {
					recs, err := l.ListOnce(ctx, strings.Join(args, ""))
					if err != nil {
						return err
					}
					if *asJSON {
						return writeJSONLines(e.stdout, recs)
					}
					writeOnceTable(e, recs)
					return nil
				})
			}
		},
	}
}

func writeOnceTable(e *env, recs []lock.OnceRecord) {
	if len(recs) == 0 {
		fmt.Fprintln(e.stderr, "No once markers.")
		return
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", safeText(r.Key), dash(r.Owner), at, dash(r.RunID), dash(r.Step), kept)
	}
	tw.Flush()
}

func onceForgetCommand() *command {
	return &command{
		name:     "once forget",
		signals:  true,
		synopsis: "Delete the marker KEY so that the work runs again",
		usage:    "once forget [-backend URL] [-config PATH] KEY",
		help:     "Deletes the once marker KEY, so that the work it records runs again.",
		args:     argOnceKey,
		setup: func(fs *flag.FlagSet) runFunc {
			var bf backendFlags
			bf.register(fs)
			return func(e *env, args []string) error {
				if err := positional(args, 1, 1, "one KEY"); err != nil {
					return err
				}
				return withLocker(e, &bf, func(ctx context.Context, l lock.Locker) error {
					err := l.ForgetOnce(ctx, args[0])
					if errors.Is(err, lock.ErrNotHeld) {
						return fmt.Errorf("no once marker %q", args[0])
					}
					if err == nil {
						fmt.Fprintf(e.stderr, "Forgot once marker %q.\n", args[0])
					}
					return err
				})
			}
		},
	}
}
