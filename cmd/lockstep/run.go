package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/lockstep-dev/lockstep/config"
	"github.com/lockstep-dev/lockstep/runner"
	"github.com/lockstep-dev/lockstep/runner/supervise"
)

const runHelp = `Run the workflow in PATH (a directory or a file; default "."): every step
instance once its dependencies finished, holding its locks while it runs.
Progress goes to stderr, the steps' output streams through, and a summary
ends the run with each step's lock wait and run time. While a step waits for
a lock, its waiting line (who holds it, for how long, the place in line) is
redrawn in place on a terminal and printed again every 5 seconds in a log.
The outputs are kept for 'lockstep output' (sensitive values never written).

The first SIGINT, SIGTERM, SIGHUP or SIGQUIT (or a broken stdout) stops the
running steps (SIGTERM, SIGKILL after their kill_timeout), releases every
lock and exits 128+n; a second one kills the steps at once.

Exit codes: 0 ok, 1 a step failed, 2 usage or configuration, 3 a lock was
busy, 4 a lock was lost, 5 backend unavailable, 128+n after signal n (130
SIGINT, 143 SIGTERM, 129 SIGHUP, 131 SIGQUIT, 141 SIGPIPE).`

func runCommand() *command {
	return &command{
		name:     "run",
		signals:  true,
		synopsis: "Run the workflow",
		usage: "run [-var K=V]... [-var-file F]... [-target ADDR]... [-parallelism N] [-lock-timeout D]\n" +
			"                    [-keep-going] [-json] [-backend URL] [PATH]",
		help: runHelp,
		args: argPath,
		setup: func(fs *flag.FlagSet) runFunc {
			o := &runOptions{}
			o.wff.register(fs)
			fs.IntVar(&o.parallelism, "parallelism", runner.DefaultParallelism, "step instances to run at once")
			fs.Var(&o.lockTimeout, "lock-timeout", "how long every lock may be waited for (overrides each lock's timeout; 0s tries once)")
			fs.BoolVar(&o.keepGoing, "keep-going", false, "after a failure, keep starting steps that do not depend on it")
			return o.run
		},
	}
}

// runOptions are run's flags.
type runOptions struct {
	wff         workflowFlags
	parallelism int
	lockTimeout waitFlag
	keepGoing   bool
}

// runOutput is where a run's events, diagnostics and results go: people
// (humanUI) or machines (jsonRunOutput).
type runOutput interface {
	diagWriter
	event(ev runner.Event)
	errorEvent(err error)
	finish(wf *config.Workflow, res *runner.Result)
	close()
}

// runJob is a loaded workflow ready to run.
type runJob struct {
	path string // as given: where 'lockstep output' finds the outputs
	wf   *config.Workflow
	vars map[string]cty.Value
	plan *runner.Plan
	opts *runOptions
}

func (o *runOptions) run(e *env, args []string) error {
	path, err := workflowPath(args)
	if err != nil {
		return err
	}
	if o.parallelism < 1 {
		return usagef("-parallelism must be at least 1")
	}
	logger, closeLog := e.logger()
	defer closeLog()
	supervise.EnableWatchdog(logger) // the step groups die with lockstep, even on kill -9
	var out runOutput
	if o.wff.json {
		out = &jsonRunOutput{newJSONStream(e.stdout)}
	} else {
		out = newHumanUI(e)
	}
	defer out.close()
	wf, vars, ok := loadForRun(e, path, &o.wff, out)
	if !ok {
		return reported(usagef("the workflow has errors"))
	}
	plan, diags := runner.NewPlan(wf, o.wff.targets)
	if diags.HasErrors() {
		out.diagnostics(wf, diags)
		return reported(usagef("the workflow has errors"))
	}
	return execute(e, &runJob{path: path, wf: wf, vars: vars, plan: plan, opts: o}, out, logger)
}

// execute opens the backend, runs the plan (the first stop signal cancels
// e.ctx; a second kills the steps) and reports the result. It returns nil
// or an error whose exit code is the run's.
func execute(e *env, job *runJob, out runOutput, logger hclog.Logger) error {
	wf := job.wf
	var backend *config.Backend
	if wf.Settings != nil {
		backend = wf.Settings.Backend
	}
	locker, spec, err := openLocker(e.ctx, e, job.opts.wff.backend, backend, logger)
	if err != nil {
		return reported(runOpenError(out, wf, err))
	}
	defer locker.Close()
	logger.Debug("backend opened", "backend", spec.desc)
	if w := evictionWarning(e.ctx, locker); w != "" {
		logger.Warn(w)
		out.diagnostics(wf, hcl.Diagnostics{{Severity: hcl.DiagWarning, Summary: "Redis may evict lock keys", Detail: w + "."}})
	}
	running := &stepTracker{steps: map[string]bool{}}
	causes := lossCauses{}
	opts := runner.Options{Locker: locker, Variables: job.vars, Parallelism: job.opts.parallelism, KeepGoing: job.opts.keepGoing,
		RunID: newRunID(), Holder: processHolder(e.getenv), Logger: logger.Named("runner"),
		Environ: childEnviron(e.osEnviron(), wf), // also what env() reads in a step's body
		OnEvent: func(ev runner.Event) {
			causes.note(&ev) // a loss after failed renewals names their cause
			if ev.Type != runner.EventStepOutput && logger.IsDebug() {
				// Formatted only for a debug log: four events a step.
				logger.Debug(eventMessage(ev, ev.Time), "type", string(ev.Type))
			}
			running.event(ev)
			out.event(ev)
		}}
	opts.Holder.Workflow = wf.Dir
	if job.opts.lockTimeout.set {
		d := job.opts.lockTimeout.wait()
		opts.LockTimeout = &d
	}
	switch o := out.(type) {
	case *humanUI:
		o.prefix = job.plan.MayOverlap(job.opts.parallelism)
	case *jsonRunOutput:
		o.exitFor = func(oc runner.Outcome) int { return exitCode(e.withSignal(outcomeErr(oc))) }
	}
	r := runner.New(job.plan, opts)
	e.sig.onStop(runInterrupt(e, job, out, running), r.Kill)
	res := r.Run(e.ctx)
	if res.Diags.HasErrors() {
		out.diagnostics(wf, res.Diags)
		return reported(usagef("the workflow has errors"))
	}
	out.finish(wf, res)
	saveOutputs(e, job.path, res)
	return reported(outcomeErr(res.Outcome))
}

// runOpenError shows an error opening the backend in the output's form and
// returns it.
func runOpenError(out runOutput, wf *config.Workflow, err error) error {
	if de, ok := err.(*diagError); ok {
		out.diagnostics(&config.Workflow{Files: de.files}, de.diags)
		return err
	}
	out.errorEvent(err)
	return err
}

// runInterrupt returns what the first stop signal prints during a run, on
// stderr in both output modes: the interrupt message with the longest
// kill_timeout of the steps running now.
func runInterrupt(e *env, job *runJob, out runOutput, running *stepTracker) func(os.Signal) {
	return func(sig os.Signal) {
		msg := interruptMessage(sig, "steps", killTimeoutOf(e, job, running.list()))
		if u, ok := out.(*humanUI); ok {
			u.message(msg)
			return
		}
		fmt.Fprintln(e.stderr, msg)
	}
}

// stepTracker knows which step instances run now (started, not done).
type stepTracker struct {
	mu    sync.Mutex
	steps map[string]bool
}

func (t *stepTracker) event(ev runner.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch ev.Type {
	case runner.EventStepStart:
		t.steps[ev.Step] = true
	case runner.EventStepDone:
		delete(t.steps, ev.Step)
	}
}

func (t *stepTracker) list() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, 0, len(t.steps))
	for s := range t.steps {
		out = append(out, s)
	}
	return out
}

// killTimeoutOf is the longest kill_timeout of the steps (addresses) given,
// evaluated against the workflow's variables and locals; a step whose value
// depends on more than that counts with the default.
func killTimeoutOf(e *env, job *runJob, addrs []string) time.Duration {
	grace := time.Duration(0)
	cwd, _ := os.Getwd()
	scope, _ := runner.BaseScope(job.wf, job.vars, cwd, nil)
	for _, a := range addrs {
		d := runner.DefaultKillTimeout
		if st := job.wf.Steps[stepName(a)]; st != nil && scope != nil {
			vals, _ := scope.EvalAttrs(st.Attrs)
			if v := vals.Duration("kill_timeout"); v > 0 {
				d = v
			}
		}
		grace = max(grace, d)
	}
	if grace == 0 {
		grace = runner.DefaultKillTimeout
	}
	return grace
}

// stepName is NAME of step.NAME or step.NAME["key"].
func stepName(addr string) string {
	name, _, _ := strings.Cut(strings.TrimPrefix(addr, "step."), "[")
	return name
}

// jsonRunOutput is the -json form of a run's output.
type jsonRunOutput struct{ *jsonStream }

func (j *jsonRunOutput) finish(*config.Workflow, *runner.Result) {}
func (j *jsonRunOutput) close()                                  {}
