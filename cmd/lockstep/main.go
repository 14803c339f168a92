// Command lockstep runs declarative workflows whose steps coordinate through
// distributed locks. See the README and docs/cli.md.
package main

import (
	"context"
	"os"

	"github.com/lockstep-dev/lockstep/runner/supervise"
)

func main() { os.Exit(Main()) }

// profStop holds what a profiling build (prof_tag.go) runs as Main returns.
var profStop []func()

// Main runs the lockstep command line and returns the process exit code. It
// is the only function that touches the process's streams, environment and
// signals: it builds one env from them, runs the dispatcher, and maps the
// result to an exit code in one place (exitCode).
func Main() int {
	defer func() {
		for _, stop := range profStop {
			stop()
		}
	}()
	args := os.Args[1:]
	if len(args) > 0 && args[0] == supervise.WatchdogArg {
		// lockstep re-executed as its own watchdog (supervise.EnableWatchdog).
		return supervise.WatchdogMain(os.Stdin)
	}
	if os.Getenv("COMP_LINE") != "" {
		// A shell asks for completions (lockstep -install-autocomplete).
		return completeMain(os.Stdout, os.Getenv)
	}
	e := &env{
		stdin:     os.Stdin,
		stdout:    &pipeWriter{w: os.Stdout},
		stderr:    &pipeWriter{w: os.Stderr},
		getenv:    os.Getenv,
		osEnviron: os.Environ,
		chdir:     os.Chdir,
		term:      detectTerminal(os.Stdin, os.Stdout, os.Stderr, os.Getenv),
		ctx:       context.Background(),
		watch:     watchSignals,
	}
	defer e.sig.stop()
	return exitCode(e.withSignal(dispatch(e, args)))
}
