package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/lockstep-dev/lockstep/config"
	"github.com/lockstep-dev/lockstep/runner"
	"github.com/lockstep-dev/lockstep/runner/supervise"
)

const runSynopsis = "run [-var K=V]... [-var-file F]... [-target ADDR]... [-parallelism N] [-lock-timeout D] [-keep-going] [-json] [-backend URL] [PATH]"

const runDescription = `Run the workflow in PATH (a directory or a file; default "."): every step
instance once its dependencies finished, holding its locks while it runs.
Progress goes to stderr, the steps' output streams through, and a summary
ends the run. Exit codes: 0 ok, 1 a step failed, 2 usage or configuration,
3 a lock was busy, 4 a lock was lost, 5 backend unavailable, 130/143 SIGINT/SIGTERM.`

// runOutput is where a run's events, diagnostics and results go: people
// (humanUI) or machines (jsonStream).
type runOutput interface {
	diagWriter
	event(ev runner.Event)
	errorEvent(err error)
	finish(wf *config.Workflow, res *runner.Result)
	close()
}

func runMain(args []string) int { return runCommand(args, os.Stdout, os.Stderr) }

// runCommand is run with its output streams given, so tests can run it in
// process.
func runCommand(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("run", runSynopsis, runDescription)
	var wff workflowFlags
	wff.register(fs)
	parallelism := fs.Int("parallelism", runner.DefaultParallelism, "step instances to run at once")
	var lockTimeout waitFlag
	fs.Var(&lockTimeout, "lock-timeout", "how long every lock may be waited for (overrides each lock's timeout; 0s tries once)")
	keepGoing := fs.Bool("keep-going", false, "after a failure, keep starting steps that do not depend on it")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	path, ok := workflowPath(fs)
	if !ok {
		return exitUsage
	}
	if *parallelism < 1 {
		return usageFail(fs, "-parallelism must be at least 1")
	}
	logger, closeLog := newLogger()
	defer closeLog()
	supervise.EnableWatchdog(logger) // the step groups die with lockstep, even on kill -9

	var out runOutput
	if wff.json {
		out = &jsonRunOutput{newJSONStream(stdout)}
	} else {
		out = newHumanUI(stdout, stderr)
	}
	defer out.close()

	wf, vars, ok := loadForRun(path, &wff, os.Environ(), out)
	if !ok {
		return exitUsage
	}
	plan, diags := runner.NewPlan(wf, wff.targets)
	if diags.HasErrors() {
		out.diagnostics(wf, diags)
		return exitUsage
	}
	return execute(wf, vars, plan, &wff, runSettings{*parallelism, lockTimeout, *keepGoing}, out, logger)
}

// runSettings are run's own flags.
type runSettings struct {
	parallelism int
	lockTimeout waitFlag
	keepGoing   bool
}

// execute opens the backend, runs the plan under signal handling and
// reports the result; it returns the exit code.
func execute(wf *config.Workflow, vars map[string]cty.Value, plan *runner.Plan, wff *workflowFlags, rs runSettings,
	out runOutput, logger hclog.Logger) int {
	sigs := startSignals()
	defer sigs.stop()
	var backend *config.Backend
	if wf.Settings != nil {
		backend = wf.Settings.Backend
	}
	locker, desc, err := openLocker(sigs.ctx, wff.backend, backend, logger)
	if err != nil {
		out.errorEvent(err)
		return exitCodeFor(err)
	}
	defer locker.Close()
	logger.Debug("backend opened", "backend", desc)
	if w := evictionWarning(sigs.ctx, locker); w != "" {
		logger.Warn(w)
		out.diagnostics(wf, hcl.Diagnostics{{Severity: hcl.DiagWarning, Summary: "Redis may evict lock keys", Detail: w + "."}})
	}

	opts := runner.Options{Locker: locker, Variables: vars, Parallelism: rs.parallelism, KeepGoing: rs.keepGoing,
		RunID: newRunID(), Holder: processHolder(), Logger: logger.Named("runner"),
		OnEvent: func(ev runner.Event) {
			if ev.Type != runner.EventStepOutput {
				logger.Debug(eventMessage(ev, ev.Time), "type", string(ev.Type))
			}
			out.event(ev)
		}}
	opts.Holder.Workflow = wf.Dir
	if rs.lockTimeout.set {
		d := rs.lockTimeout.wait()
		opts.LockTimeout = &d
	}
	switch o := out.(type) {
	case *humanUI:
		o.prefix = plan.MayOverlap(rs.parallelism)
	case *jsonRunOutput:
		o.signal = sigs.first.Load // run_done's exit_code is 130/143 after a signal
	}
	r := runner.New(plan, opts)
	sigs.runner.Store(r)
	res := r.Run(sigs.ctx)
	if res.Diags.HasErrors() {
		out.diagnostics(wf, res.Diags)
		return exitUsage
	}
	out.finish(wf, res)
	return exitForOutcome(res.Outcome, sigs.first.Load())
}

// exitForOutcome maps a run's outcome to the exit code of DESIGN section 5.
// sig is the first signal received, if any.
func exitForOutcome(o runner.Outcome, sig *os.Signal) int {
	if sig != nil {
		if *sig == syscall.SIGTERM {
			return exitTerminated
		}
		return exitInterrupt
	}
	switch o {
	case runner.OutcomeSucceeded:
		return exitOK
	case runner.OutcomeLockBusy:
		return exitBusy
	case runner.OutcomeLockLost:
		return exitLost
	case runner.OutcomeUnavailable:
		return exitUnavailable
	case runner.OutcomeInterrupted:
		return exitInterrupt
	}
	return exitFailed
}

// runSignals turns the first SIGINT or SIGTERM into cancellation of ctx (steps
// are stopped gracefully and every lock released) and any further one into
// Kill of the runner.
type runSignals struct {
	ctx    context.Context
	first  atomic.Pointer[os.Signal]
	runner atomic.Pointer[runner.Runner]
	stop   func()
}

func startSignals() *runSignals {
	ctx, cancel := context.WithCancel(context.Background())
	s := &runSignals{ctx: ctx}
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, stopSignals...)
	quit := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-ch:
				if s.first.CompareAndSwap(nil, &sig) {
					cancel()
				} else if r := s.runner.Load(); r != nil {
					r.Kill()
				}
			case <-quit:
				return
			}
		}
	}()
	s.stop = func() {
		signal.Stop(ch)
		close(quit)
		cancel()
	}
	return s
}

// jsonRunOutput is the -json form of a run's output.
type jsonRunOutput struct{ *jsonStream }

func (j *jsonRunOutput) finish(*config.Workflow, *runner.Result) {}
func (j *jsonRunOutput) close()                                  {}
