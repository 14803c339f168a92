package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
)

func lockCommand() *command {
	return &command{
		name:     "lock",
		synopsis: "Inspect and manage locks (list, show, acquire, check, renew, release)",
		usage:    "lock <subcommand> [flags] [args]",
		help: `Inspect and manage locks directly, e.g. from shell scripts. Every subcommand
takes -backend URL and -config PATH.`,
		subs: []*command{lockListCommand(), lockShowCommand(), lockAcquireCommand(), lockCheckCommand(),
			lockRenewCommand(), lockReleaseCommand()},
	}
}

// withLocker opens the backend that bf selects and runs fn with env's
// context (cancelled by a stop signal). An error from fn after a signal
// carries the signal as its cause.
func withLocker(e *env, bf *backendFlags, fn func(ctx context.Context, l lock.Locker) error) error {
	logger, closeLog := e.logger()
	defer closeLog()
	l, err := bf.open(e, logger)
	if err != nil {
		return err
	}
	defer l.Close()
	return withCause(e.ctx, fn(e.ctx, l))
}

func lockListCommand() *command {
	return &command{
		name:     "lock list",
		signals:  true,
		synopsis: "List held locks whose key starts with PREFIX",
		usage:    "lock list [-json] [-backend URL] [-config PATH] [PREFIX]",
		help: `Lists every held lock whose key starts with PREFIX (all locks without one): key,
holders out of the limit, waiters in line, and per holder its owner, pid,
step, age and TTL left ("-" on the local backend, whose leases last as long
as their process). Tokens are never shown. -json prints one JSON object per
lock per line.`,
		args: argLockKey,
		setup: func(fs *flag.FlagSet) runFunc {
			var bf backendFlags
			bf.register(fs)
			asJSON := fs.Bool("json", false, "print JSON objects, one per line")
			return func(e *env, args []string) error {
				if err := positional(args, 0, 1, "at most one PREFIX"); err != nil {
					return err
				}
				return withLocker(e, &bf, func(ctx context.Context, l lock.Locker) error {
					locks, err := l.List(ctx, strings.Join(args, ""))
					if err != nil {
						return err
					}
					if *asJSON {
						return writeJSONLines(e.stdout, locks)
					}
					writeLockTable(e, locks)
					return nil
				})
			}
		},
	}
}

// writeJSONLines prints each element of items as one line of JSON.
func writeJSONLines[T any](w io.Writer, items []T) error {
	enc := json.NewEncoder(safeJSONWriter{w})
	enc.SetEscapeHTML(false)
	for _, it := range items {
		if err := enc.Encode(it); err != nil {
			return err
		}
	}
	return nil
}

func writeLockTable(e *env, locks []lock.LockInfo) {
	if len(locks) == 0 {
		fmt.Fprintln(e.stderr, "No locks held.")
		return
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tHOLDERS\tWAITERS\tOWNER\tPID\tSTEP\tAGE\tTTL")
	for _, li := range locks {
		limit := max(li.Limit, 1)
		for i, h := range li.Holders {
			key, count, waiters := safeText(li.Key), fmt.Sprintf("%d/%d", len(li.Holders), limit), fmt.Sprint(li.Waiters)
			if i > 0 {
				key, count, waiters = "", "", ""
			}
			age, ttl := "-", "-"
			if !h.Since.IsZero() {
				age = roundAge(time.Since(h.Since))
			}
			if h.TTL > 0 {
				ttl = roundAge(h.TTL)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", key, count, waiters, dash(h.Owner), h.PID, dash(h.Step), age, ttl)
		}
	}
	tw.Flush()
}

// dash is s escaped (safeText), or "-" when empty.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return safeText(s)
}

func lockShowCommand() *command {
	return &command{
		name:     "lock show",
		signals:  true,
		synopsis: "Show who holds KEY and who waits for it",
		usage:    "lock show [-json] [-backend URL] [-config PATH] KEY",
		help: `Shows who holds KEY as a lock-info block, followed by the waiters in line in
order, each with its holder information (free locks say so; exit 0 either
way). Tokens are never shown. -json prints the lock as one JSON object, its
waiters under "queue".`,
		args: argLockKey,
		setup: func(fs *flag.FlagSet) runFunc {
			var bf backendFlags
			bf.register(fs)
			asJSON := fs.Bool("json", false, "print the lock as one JSON object")
			return func(e *env, args []string) error {
				if err := positional(args, 1, 1, "one KEY"); err != nil {
					return err
				}
				return withLocker(e, &bf, func(ctx context.Context, l lock.Locker) error {
					li, err := l.Show(ctx, args[0])
					if err != nil {
						return err
					}
					if *asJSON {
						return writeJSONLines(e.stdout, []lock.LockInfo{jsonLockInfo(li, args[0])})
					}
					writeLockInfoQueue(e.stdout, args[0], li.Holders, li.Queue)
					return nil
				})
			}
		},
	}
}

// jsonLockInfo fills what a free lock leaves empty, so that -json always has
// key, limit, holders and waiters.
func jsonLockInfo(li lock.LockInfo, key string) lock.LockInfo {
	li.Key = key
	if li.Limit == 0 {
		li.Limit = 1
	}
	if li.Holders == nil {
		li.Holders = []lock.Holder{}
	}
	if li.Waiters == 0 {
		li.Waiters = len(li.Queue)
	}
	return li
}
