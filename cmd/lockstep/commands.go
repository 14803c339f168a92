package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/lockstep-dev/lockstep/runner/supervise"
)

// Exit codes, as DESIGN section 5 fixes them.
const (
	exitOK          = 0   // every step succeeded or was skipped
	exitFailed      = 1   // a step failed
	exitUsage       = 2   // usage or configuration error; nothing ran
	exitBusy        = 3   // a lock could not be acquired
	exitLost        = 4   // a lock was lost while its step ran
	exitUnavailable = 5   // the backend could not be reached or refused us
	exitInterrupt   = 130 // SIGINT
	exitTerminated  = 143 // SIGTERM
)

// command is one lockstep subcommand. run gets the arguments after the
// command name and returns the exit code.
type command struct {
	name     string
	synopsis string
	run      func(args []string) int
}

// commands lists every subcommand in the order help shows them. Each lives in
// a file of its own.
var commands = []command{
	{"validate", "Check whether the workflow is valid", validateMain},
	{"plan", "Show what a run would do", planMain},
	{"run", "Run the workflow", runMain},
	{"fmt", "Rewrite workflow files to the canonical format", fmtMain},
	{"graph", "Print the step dependency graph in DOT", graphMain},
	{"exec", "Run one command while holding a lock", execMain},
	{"lock", "Inspect and manage locks (list, show, acquire, check, renew, release)", lockMain},
	{"force-unlock", "Remove a lock held by someone else", forceUnlockMain},
	{"once", "List and forget once markers", onceMain},
	{"version", "Print the lockstep version", versionMain},
}

// Main runs the lockstep command line and returns the process exit code.
func Main() int {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == supervise.WatchdogArg {
		// lockstep re-executed as its own watchdog (supervise.EnableWatchdog).
		return supervise.WatchdogMain(os.Stdin)
	}
	if len(args) == 0 {
		usage(os.Stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(os.Stdout)
		return exitOK
	case "-v", "-version", "--version":
		return versionMain(nil)
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(args[1:])
		}
	}
	fmt.Fprintf(os.Stderr, "lockstep: unknown command %q\n\n", args[0])
	usage(os.Stderr)
	return exitUsage
}

func usage(w *os.File) {
	var b strings.Builder
	b.WriteString("Usage: lockstep <command> [flags] [args]\n\n")
	b.WriteString("lockstep runs declarative workflows whose steps coordinate through distributed locks.\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-13s %s\n", c.name, c.synopsis)
	}
	b.WriteString("\nRun 'lockstep <command> -help' for a command's flags.\n")
	fmt.Fprint(w, b.String())
}
