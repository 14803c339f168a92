package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
)

const lockUsage = `Usage: lockstep lock <subcommand> [flags] [args]

Inspect and manage locks directly, e.g. from shell scripts.

Subcommands:
  list    [-json] [PREFIX]            List held locks whose key starts with PREFIX
  show    [-json] KEY                 Show who holds KEY
  acquire [-ttl D] [-timeout D] KEY   Take KEY and print its token (Redis backends only)
  check   KEY TOKEN                   Exit 0 if TOKEN holds KEY, 4 if not
  renew   [-ttl D] KEY TOKEN          Extend TOKEN's lease on KEY
  release KEY TOKEN                   Release TOKEN's lease on KEY

Every subcommand takes -backend URL and -config PATH. Run
'lockstep lock <subcommand> -help' for its flags.
`

func lockMain(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, lockUsage)
		return exitUsage
	}
	sub := map[string]func([]string) int{
		"list": lockListMain, "show": lockShowMain, "acquire": lockAcquireMain,
		"check": lockCheckMain, "renew": lockRenewMain, "release": lockReleaseMain,
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(os.Stdout, lockUsage)
		return exitOK
	}
	run, ok := sub[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "lockstep lock: unknown subcommand %q\n\n%s", args[0], lockUsage)
		return exitUsage
	}
	return run(args[1:])
}

// withLocker opens the backend that bf selects and runs fn with a context
// cancelled by SIGINT/SIGTERM. It prints fn's error as "lockstep NAME: …" and
// returns the exit code for it.
func withLocker(name string, bf *backendFlags, fn func(ctx context.Context, l lock.Locker) error) int {
	logger, closeLog := newLogger()
	defer closeLog()
	ctx, _, stop := signalContext()
	defer stop()
	l, _, err := bf.open(ctx, logger)
	if err != nil {
		return fail(name, err)
	}
	defer l.Close()
	if err := withCause(ctx, fn(ctx, l)); err != nil {
		return fail(name, err)
	}
	return exitOK
}

// positional checks fs's positional arguments: at least min, at most max.
func positional(fs *flag.FlagSet, min, max int, what string) ([]string, int, bool) {
	a := fs.Args()
	if len(a) < min || len(a) > max {
		return nil, usageFail(fs, "want "+what), false
	}
	return a, 0, true
}

func lockListMain(args []string) int {
	fs := newFlagSet("lock list", "lock list [-json] [-backend URL] [-config PATH] [PREFIX]",
		"Lists every held lock whose key starts with PREFIX (all locks without one): key,\nholders and waiters. Tokens are never shown. -json prints one JSON object per lock\nper line.")
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
	return withLocker("lock list", &bf, func(ctx context.Context, l lock.Locker) error {
		locks, err := l.List(ctx, prefix)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSONLines(locks)
		}
		writeLockTable(locks)
		return nil
	})
}

// writeJSONLines prints each element of items as one line of JSON on stdout.
func writeJSONLines[T any](items []T) error {
	enc := json.NewEncoder(os.Stdout)
	for _, it := range items {
		if err := enc.Encode(it); err != nil {
			return err
		}
	}
	return nil
}

func writeLockTable(locks []lock.LockInfo) {
	if len(locks) == 0 {
		fmt.Fprintln(os.Stderr, "No locks held.")
		return
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tHOLDERS\tWAITERS\tOWNER\tPID\tSTEP\tAGE\tTTL")
	for _, li := range locks {
		limit := max(li.Limit, 1)
		for i, h := range li.Holders {
			key, count, waiters := li.Key, fmt.Sprintf("%d/%d", len(li.Holders), limit), fmt.Sprint(li.Waiters)
			if i > 0 {
				key, count, waiters = "", "", ""
			}
			age := "-"
			if !h.Since.IsZero() {
				age = roundAge(time.Since(h.Since))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", key, count, waiters, dash(h.Owner), h.PID, dash(h.Step), age, roundAge(h.TTL))
		}
	}
	tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func lockShowMain(args []string) int {
	fs := newFlagSet("lock show", "lock show [-json] [-backend URL] [-config PATH] KEY",
		"Shows who holds KEY as a lock-info block (free locks say so; exit 0 either way).\nTokens are never shown.")
	var bf backendFlags
	bf.register(fs)
	asJSON := fs.Bool("json", false, "print the lock as one JSON object")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	a, code, ok := positional(fs, 1, 1, "one KEY")
	if !ok {
		return code
	}
	return withLocker("lock show", &bf, func(ctx context.Context, l lock.Locker) error {
		if *asJSON {
			li, err := lockInfoOf(ctx, l, a[0])
			if err != nil {
				return err
			}
			return writeJSONLines([]lock.LockInfo{li})
		}
		holders, err := lock.HoldersOf(ctx, l, a[0])
		if err != nil {
			return err
		}
		writeLockInfo(os.Stdout, a[0], holders)
		return nil
	})
}

// lockInfoOf returns key as List reports it (limit, holders, waiters), or a
// free lock with no holders.
func lockInfoOf(ctx context.Context, l lock.Locker, key string) (lock.LockInfo, error) {
	locks, err := l.List(ctx, key)
	if err != nil {
		return lock.LockInfo{}, err
	}
	for _, li := range locks {
		if li.Key == key {
			return li, nil
		}
	}
	return lock.LockInfo{Key: key, Limit: 1, Holders: []lock.Holder{}}, nil
}

func lockAcquireMain(args []string) int {
	fs := newFlagSet("lock acquire", "lock acquire [-ttl D] [-timeout D] [-backend URL] [-config PATH] KEY",
		"Takes KEY and prints its token on stdout (the only command that prints a token).\nThe lease lasts -ttl; keep it with 'lock renew' and give it up with 'lock release'.\nNeeds a Redis backend: a local-backend lock lives only as long as its process.")
	var bf backendFlags
	bf.register(fs)
	ttl := fs.Duration("ttl", lock.DefaultTTL, "lease `duration`")
	var timeout waitFlag
	fs.Var(&timeout, "timeout", "how long to wait for a busy lock (`duration`; default: no limit; 0s: try once)")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	a, code, ok := positional(fs, 1, 1, "one KEY")
	if !ok {
		return code
	}
	return withLocker("lock acquire", &bf, func(ctx context.Context, l lock.Locker) error {
		if bf.local {
			return usagef("the local backend keeps a lock only while its process lives, so a lock acquired by this command would end when it exits; use exec, or a Redis backend (-backend redis://…)")
		}
		h := processHolder()
		h.RunID, h.Step = newRunID(), "lock acquire"
		lease, err := l.Acquire(ctx, lock.Request{Key: a[0], TTL: *ttl, Wait: timeout.wait(), Holder: h,
			OnWait: newWaitReporter(a[0])})
		if err != nil {
			return busyInfo(a[0], err)
		}
		fmt.Fprintln(os.Stdout, lease.Token)
		fmt.Fprintf(os.Stderr, "Acquired %q (fencing token %d, ttl %s).\n", lease.Key, lease.Fence, lease.TTL)
		return nil
	})
}

// waitReporter prints, while a request waits, the lock-info block and a
// "Waiting for…" line on stderr: once at the start and again only when the
// holders change (a wake-up that finds the same holders prints nothing).
type waitReporter struct {
	key  string
	last string
}

func newWaitReporter(key string) func([]lock.Holder) {
	r := &waitReporter{key: key, last: "\x00"}
	return r.report
}

func (r *waitReporter) report(holders []lock.Holder) {
	var id strings.Builder
	for _, h := range holders {
		fmt.Fprintf(&id, "%s/%d/%d;", h.Owner, h.PID, h.Fence)
	}
	if id.String() == r.last {
		return
	}
	r.last = id.String()
	writeLockInfo(os.Stderr, r.key, holders)
	fmt.Fprintf(os.Stderr, "Waiting for lock %q, held by %s...\n", r.key, holderSummary(holders))
}

// busyInfo prints the lock-info block of a BusyError to stderr and returns
// err unchanged.
func busyInfo(key string, err error) error {
	var be *lock.BusyError
	if errors.As(err, &be) {
		writeLockInfo(os.Stderr, key, be.Holders)
	}
	return err
}

func lockTokenCmd(name, synopsis, desc string, args []string, withTTL bool, fn func(ctx context.Context, l lock.Locker, key, token string, ttl time.Duration) error) int {
	fs := newFlagSet(name, synopsis, desc)
	var bf backendFlags
	bf.register(fs)
	ttl := lock.DefaultTTL
	if withTTL {
		fs.DurationVar(&ttl, "ttl", lock.DefaultTTL, "new lease `duration` from now")
	}
	if code, done := parseFlags(fs, args); done {
		return code
	}
	a, code, ok := positional(fs, 2, 2, "KEY and TOKEN")
	if !ok {
		return code
	}
	return withLocker(name, &bf, func(ctx context.Context, l lock.Locker) error {
		return fn(ctx, l, a[0], a[1], ttl)
	})
}

func lockCheckMain(args []string) int {
	return lockTokenCmd("lock check", "lock check [-backend URL] [-config PATH] KEY TOKEN",
		"Exits 0 if TOKEN holds KEY, 4 if it does not (expired, released or taken).", args, false,
		func(ctx context.Context, l lock.Locker, key, token string, _ time.Duration) error {
			return l.Check(ctx, key, token)
		})
}

func lockRenewMain(args []string) int {
	return lockTokenCmd("lock renew", "lock renew [-ttl D] [-backend URL] [-config PATH] KEY TOKEN",
		"Extends TOKEN's lease on KEY to -ttl from now. Never re-creates a lock that\nexpired or was released: exits 4 instead.", args, true,
		func(ctx context.Context, l lock.Locker, key, token string, ttl time.Duration) error {
			return l.Renew(ctx, key, token, ttl)
		})
}

func lockReleaseMain(args []string) int {
	return lockTokenCmd("lock release", "lock release [-backend URL] [-config PATH] KEY TOKEN",
		"Releases TOKEN's lease on KEY and wakes the next waiter. Exits 4, deleting\nnothing, when TOKEN does not hold KEY.", args, false,
		func(ctx context.Context, l lock.Locker, key, token string, _ time.Duration) error {
			return l.Release(ctx, key, token)
		})
}
