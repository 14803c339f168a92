package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/mattn/go-isatty"

	"github.com/lockstep-dev/lockstep/lock"
)

func forceUnlockMain(args []string) int {
	fs := newFlagSet("force-unlock", "force-unlock [-force] [-backend URL] [-config PATH] KEY",
		"Removes every holder of KEY and wakes its waiters. The holders are not told:\na step still running under the lock loses it at its next renewal and is stopped.\nOn a terminal it shows the lock and asks for confirmation; elsewhere it refuses\nunless -force is given.")
	var bf backendFlags
	bf.register(fs)
	force := fs.Bool("force", false, "do not ask for confirmation")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	a, code, ok := positional(fs, 1, 1, "one KEY")
	if !ok {
		return code
	}
	key := a[0]
	return withLocker("force-unlock", &bf, func(ctx context.Context, l lock.Locker) error {
		holders, err := lock.HoldersOf(ctx, l, key)
		if err != nil {
			return err
		}
		if len(holders) == 0 {
			return fmt.Errorf("lock %q is not held", key)
		}
		if !*force {
			if err := confirmForceUnlock(key, holders); err != nil {
				return err
			}
		}
		if err := l.ForceRelease(ctx, key); err != nil {
			if errors.Is(err, lock.ErrNotHeld) {
				return fmt.Errorf("lock %q was released meanwhile", key)
			}
			return err
		}
		fmt.Fprintf(os.Stderr, "Lock %q has been force-unlocked (%s).\n", key, holderSummary(holders))
		return nil
	})
}

// confirmForceUnlock asks for "yes" when stdin is a terminal (the prompt goes
// to stderr); without one it refuses with a usage error.
func confirmForceUnlock(key string, holders []lock.Holder) error {
	if !isatty.IsTerminal(os.Stdin.Fd()) {
		writeLockInfo(os.Stderr, key, holders)
		return usagef("refusing to force-unlock %q without a terminal to confirm on; pass -force", key)
	}
	writeLockInfo(os.Stderr, key, holders)
	fmt.Fprintf(os.Stderr, "\nDo you really want to force-unlock %q?\n"+
		"  A step running under it will lose its lock and be stopped.\n"+
		"  Only 'yes' will be accepted to confirm.\n\n  Enter a value: ", key)
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	if strings.TrimSpace(line) != "yes" {
		return errors.New("force-unlock cancelled")
	}
	return nil
}
