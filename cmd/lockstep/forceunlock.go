package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/lockstep-dev/lockstep/lock"
)

func forceUnlockCommand() *command {
	return &command{
		name:     "force-unlock",
		signals:  true,
		synopsis: "Remove a lock held by someone else",
		usage:    "force-unlock [-force] [-backend URL] [-config PATH] KEY",
		help: `Removes every holder of KEY and wakes its waiters. The holders are not told:
a step still running under the lock loses it at its next renewal and is stopped.
On a terminal it shows the lock and asks for confirmation; elsewhere it refuses
unless -force is given.`,
		args: argLockKey,
		setup: func(fs *flag.FlagSet) runFunc {
			var bf backendFlags
			bf.register(fs)
			force := fs.Bool("force", false, "do not ask for confirmation")
			return func(e *env, args []string) error {
				if err := positional(args, 1, 1, "one KEY"); err != nil {
					return err
				}
				return withLocker(e, &bf, func(ctx context.Context, l lock.Locker) error {
					return forceUnlock(e, l, args[0], *force)
				})
			}
		},
	}
}

func forceUnlock(e *env, l lock.Locker, key string, force bool) error {
	holders, err := lock.HoldersOf(e.ctx, l, key)
	if err != nil {
		return err
	}
	if len(holders) == 0 {
		return fmt.Errorf("lock %q is not held", key)
	}
	if !force {
		if err := confirmForceUnlock(e, key, holders); err != nil {
			return err
		}
	}
	if err := l.ForceRelease(e.ctx, key); err != nil {
		if errors.Is(err, lock.ErrNotHeld) {
			return fmt.Errorf("lock %q was released meanwhile", key)
		}
		return err
	}
	fmt.Fprintf(e.stderr, "Lock %q has been force-unlocked (%s).\n", key, holderSummary(holders))
	return nil
}

// confirmForceUnlock asks for "yes" when stdin is a terminal (the prompt goes
// to stderr); without one it refuses with a usage error.
func confirmForceUnlock(e *env, key string, holders []lock.Holder) error {
	writeLockInfo(e.stderr, key, holders)
	if !e.term.stdin {
		return usagef("refusing to force-unlock %q without a terminal to confirm on; pass -force", key)
	}
	fmt.Fprintf(e.stderr, "\nDo you really want to force-unlock %q?\n"+
		"  A step running under it will lose its lock and be stopped.\n"+
		"  Only 'yes' will be accepted to confirm.\n\n  Enter a value: ", key)
	line, _ := bufio.NewReader(e.stdin).ReadString('\n')
	if strings.TrimSpace(line) != "yes" {
		return errors.New("force-unlock cancelled")
	}
	return nil
}
