package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

// newFlagSet returns a flag set for "lockstep NAME" whose -help prints
// synopsis, the description and the flags to stdout.
func newFlagSet(name, synopsis, description string) *flag.FlagSet {
	fs := flag.NewFlagSet("lockstep "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		w := os.Stdout
		fmt.Fprintf(w, "Usage: lockstep %s\n\n%s\n", synopsis, description)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(w, "\nFlags:")
			fs.SetOutput(w)
			fs.PrintDefaults()
			fs.SetOutput(io.Discard)
		}
	}
	return fs
}

// parseFlags parses args. It returns done=true with the exit code when the
// command must stop: 0 after -help, 2 (with the message and a hint on stderr)
// on a bad flag.
func parseFlags(fs *flag.FlagSet, args []string) (code int, done bool) {
	// flag calls Usage itself on -help and on every bad flag; print it only
	// for -help, once.
	usage := fs.Usage
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.Usage = usage
	if errors.Is(err, flag.ErrHelp) {
		usage()
		return exitOK, true
	}
	if err != nil {
		return usageFail(fs, err.Error()), true
	}
	return 0, false
}

// usageFail prints a usage error for fs's command and returns exit code 2.
func usageFail(fs *flag.FlagSet, msg string) int {
	fmt.Fprintf(os.Stderr, "%s: %s\nRun '%s -help' for usage.\n", fs.Name(), msg, fs.Name())
	return exitUsage
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
