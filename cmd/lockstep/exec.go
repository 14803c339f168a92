package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/lockstep-dev/lockstep/config"
	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/runner"
	"github.com/lockstep-dev/lockstep/runner/supervise"
)

const execHelp = `Runs COMMAND while holding the lock KEY, like flock(1) across hosts. The lease
is renewed every ttl/3 while COMMAND runs; if it is lost, COMMAND's whole process
group gets SIGTERM, then SIGKILL after -kill-timeout, and exec exits 4. SIGINT,
SIGTERM, SIGHUP and SIGQUIT are forwarded to the group the same way (exit
128+n). The lock is released at the end in every case. COMMAND gets
LOCKSTEP_RUN_ID, LOCKSTEP_STEP, LOCKSTEP_LOCK_KEY and LOCKSTEP_FENCING_TOKEN in
its environment. While it waits, exec shows who holds the lock and its place in
line: in place on a terminal, a line every 5 seconds in a log.

With -c SCRIPT, COMMAND is /bin/sh -c SCRIPT and the arguments after KEY (and
an optional --) become its positional parameters $1, $2, …, never part of the
script: lockstep exec -c 'deploy "$1"' deploy/prod -- v42.

flock's habits: -n is -timeout 0s, -w SECONDS is -timeout in seconds (with
fractions), -E CODE is the exit code when the lock could not be acquired
(busy, timed out, queue full, or superseded in a newest-wins queue).

Exit status: COMMAND's own, else 2 usage, 3 busy (-on-busy fail, -n, or
-timeout passed; -E changes it), 4 lock lost, 5 backend unreachable, 126/127
COMMAND could not start, 128+n after signal n. A skip (busy with -on-busy skip,
the -once marker set, or superseded without -E) exits 0 with a note on stderr.`

func execCommand() *command {
	return &command{
		name:     "exec",
		signals:  true,
		synopsis: "Run one command while holding a lock",
		usage: "exec [-ttl D] [-timeout D | -n | -w SECONDS] [-on-busy wait|skip|fail] [-limit N | -shared]\n" +
			"                     [-queue fifo|newest] [-max-waiters N] [-once KEY]\n" +
			"                     [-E CODE] [-kill-timeout D] [-backend URL] [-config PATH]\n" +
			"                     KEY -- COMMAND [ARG...]  |  -c SCRIPT KEY [-- ARG...]",
		help:   execHelp,
		strict: true,
		args:   argCommand,
		setup: func(fs *flag.FlagSet) runFunc {
			o := &execOptions{}
			o.register(fs)
			return o.run
		},
	}
}

// execOptions are exec's parsed command line and what its run uses.
type execOptions struct {
	backend     backendFlags
	ttl         time.Duration
	timeout     waitFlag
	onBusy      string
	limit       int
	shared      bool   // -shared
	queue       string // -queue
	maxWaiters  int    // -max-waiters
	once        string
	killTimeout time.Duration
	noWait      bool        // -n
	waitSecs    secondsFlag // -w
	conflict    codeFlag    // -E
	script      string      // -c
	key         string
	argv        []string

	stderr io.Writer
	wr     *waitReporter
	causes lossCauses
}

func (o *execOptions) register(fs *flag.FlagSet) {
	o.backend.register(fs)
	fs.DurationVar(&o.ttl, "ttl", lock.DefaultTTL, "lease `duration`, renewed every ttl/3")
	fs.Var(&o.timeout, "timeout", "how long to wait for a busy lock (`duration`; default: no limit; 0s: try once)")
	fs.BoolVar(&o.noWait, "n", false, "do not wait for a busy lock (as flock -n; the same as -timeout 0s)")
	fs.Var(&o.waitSecs, "w", "wait at most `SECONDS` for a busy lock (as flock -w; fractions allowed)")
	fs.Var(&o.conflict, "E", "exit with `CODE` when the lock could not be acquired: busy, timed out, queue full or superseded (as flock -E; default 3, and 0 for superseded)")
	fs.StringVar(&o.script, "c", "", "run `SCRIPT` with /bin/sh -c; the arguments after KEY become $1, $2, …")
	fs.StringVar(&o.onBusy, "on-busy", "wait", "when the lock is busy: `wait`, skip (exit 0) or fail (exit 3)")
	fs.IntVar(&o.limit, "limit", 1, "holders allowed at once (a semaphore when above 1)")
	fs.BoolVar(&o.shared, "shared", false, "take the lock shared, with other -shared holders (as flock -s)")
	fs.StringVar(&o.queue, "queue", "fifo", "waiting line policy: `fifo`, or newest (a newer waiter supersedes this one)")
	fs.IntVar(&o.maxWaiters, "max-waiters", 0, "fail at once (exit 3) when `N` waiters are already queued (0: no limit)")
	fs.StringVar(&o.once, "once", "", "skip if the once marker `KEY` is set; set it after COMMAND succeeds")
	fs.DurationVar(&o.killTimeout, "kill-timeout", supervise.DefaultKillTimeout, "grace between SIGTERM and SIGKILL")
}

// parseArgs takes KEY and COMMAND (or -c's arguments) from args, which keep
// the "--" that may have ended the flags.
func (o *execOptions) parseArgs(args []string) error {
	const want = "want KEY -- COMMAND [ARG...]"
	switch {
	case len(args) > 0 && args[0] == "--":
		return usagef("the lock KEY is missing before --: %s", want)
	case len(args) == 0:
		return usagef(want)
	case args[0] == "":
		return usagef("the lock KEY is empty: %s", want)
	}
	o.key, args = args[0], args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if o.script != "" {
		o.argv = (&config.ShellScript{Script: o.script, Args: args}).Argv(runner.Shell)
		return o.check()
	}
	if len(args) == 0 {
		return usagef(want)
	}
	o.argv = args
	return o.check()
}

func (o *execOptions) check() error {
	switch {
	case o.onBusy != "wait" && o.onBusy != "skip" && o.onBusy != "fail":
		return usagef("-on-busy %q: want wait, skip or fail", o.onBusy)
	case o.ttl < time.Second:
		return usagef("-ttl %s: at least 1s", o.ttl)
	case o.limit < 1:
		return usagef("-limit %d: at least 1", o.limit)
	case o.shared && o.limit > 1:
		return usagef("-shared with -limit %d: semaphores are exclusive", o.limit)
	case o.queue != string(lock.FIFO) && o.queue != string(lock.Newest):
		return usagef("-queue %q: want fifo or newest", o.queue)
	case o.maxWaiters < 0:
		return usagef("-max-waiters %d: at least 0", o.maxWaiters)
	case o.killTimeout <= 0:
		return usagef("-kill-timeout %s: must be positive", o.killTimeout)
	case o.noWait && (o.waitSecs.set || o.timeout.set), o.waitSecs.set && o.timeout.set:
		return usagef("-n, -w and -timeout all say how long to wait: give one")
	}
	return nil
}

// wait is the acquire wait that -on-busy, -n, -w and -timeout make.
func (o *execOptions) wait() time.Duration {
	switch {
	case o.onBusy != "wait", o.noWait:
		return 0
	case o.waitSecs.set:
		return o.waitSecs.d
	}
	return o.timeout.wait()
}

// lockSpec is the lock exec holds, as a step's lock block would say it.
func (o *execOptions) lockSpec() runner.LockSpec {
	mode := lock.Exclusive
	if o.shared {
		mode = lock.Shared
	}
	return runner.LockSpec{Key: o.key, TTL: o.ttl, Limit: o.limit, Wait: o.wait(), OnBusy: o.onBusy,
		Mode: mode, Queue: lock.Policy(o.queue), MaxWaiters: o.maxWaiters}
}

func (o *execOptions) run(e *env, args []string) error {
	if err := o.parseArgs(args); err != nil {
		return err
	}
	logger, closeLog := e.logger()
	defer closeLog()
	supervise.EnableWatchdog(logger) // the command's group dies with lockstep, even on kill -9
	l, err := o.backend.open(e, logger)
	if err != nil {
		return err
	}
	defer l.Close()
	if w := evictionWarning(e.ctx, l); w != "" {
		logger.Warn(w)
		fmt.Fprintln(e.stderr, "lockstep exec: warning: "+w)
	}
	o.stderr, o.wr, o.causes = e.stderr, newWaitReporter(e, o.key), lossCauses{}
	defer o.wr.close()
	r := runner.New(nil, runner.Options{Locker: l, Holder: processHolder(e.getenv), RunID: newRunID(),
		Environ: dropEnv(e.environ(), o.backend.secretEnv), Logger: logger, OnEvent: o.onEvent})
	e.sig.onStop(o.interrupted, nil)
	stop := killOnSecondSignal(r, e.sig.againChan())
	defer stop()
	res := r.RunCommand(e.ctx, o.command(e))
	code, err := o.outcome(e.ctx, res)
	return o.result(e, code, withCause(e.ctx, err))
}

// command is the one-step run exec makes of its command line.
func (o *execOptions) command(e *env) runner.Command {
	c := runner.Command{Name: "exec", Argv: o.argv, Locks: []runner.LockSpec{o.lockSpec()}, OnceKey: o.once,
		KillTimeout: o.killTimeout, Stdin: e.stdin, Stdout: childStream(e.stdout), Stderr: childStream(e.stderr)}
	if e.term.stdin {
		// The command runs in its own process group, which is not the
		// terminal's foreground group: reading the terminal would stop it.
		c.Stdin = nil
	}
	return c
}

// onEvent shows what the run reports while the command has not started or
// runs: the waiting line, and a lost lock at once.
func (o *execOptions) onEvent(ev runner.Event) {
	switch ev.Type {
	case runner.EventLockWait:
		o.wr.onEvent(ev)
	case runner.EventLockAcquired:
		o.wr.close()
	case runner.EventLockRenewFailed:
		o.causes.note(&ev)
		fmt.Fprintln(o.stderr, renewFailedMessage("lockstep exec: ", ev))
	case runner.EventLockRenewRecovered:
		o.causes.note(&ev)
		fmt.Fprintf(o.stderr, "lockstep exec: Lock %q renewed again; kept\n", safeText(ev.Lock))
	case runner.EventLockLost:
		o.causes.note(&ev)
		fmt.Fprintln(o.stderr, lockLostMessage("lockstep exec: ", "the command", ev))
	}
}

// killOnSecondSignal kills the command's group at once when another stop
// signal arrives after the first. The returned function ends the watch.
func killOnSecondSignal(r *runner.Runner, again <-chan os.Signal) (stop func()) {
	done := make(chan struct{})
	go func() {
		select {
		case <-again:
			r.Kill()
		case <-done:
		}
	}()
	return func() { close(done) }
}

// interrupted says, at the first stop signal, what exec does now.
func (o *execOptions) interrupted(sig os.Signal) {
	if o.wr.waiting() {
		return // nothing runs yet: exec gives up the wait at once
	}
	o.wr.message(interruptMessage(sig, "the command", o.killTimeout))
}

// outcome turns the run's result into exec's: the command's exit code, or
// an error whose exit code exitCode gives. Skips are said on stderr.
func (o *execOptions) outcome(ctx context.Context, res *runner.InstanceResult) (int, error) {
	switch {
	case res.Status == runner.StatusSucceeded:
		return exitOK, nil
	case res.Reason == runner.ReasonExit:
		return res.ExitCode, nil
	case res.Reason == runner.ReasonLockBusy && res.Status == runner.StatusSkipped:
		fmt.Fprintf(o.stderr, "lockstep exec: skipped: lock %q is held by %s\n", safeText(o.key), holderSummary(res.Busy.Holders))
		return exitOK, nil
	case res.Reason == runner.ReasonLockBusy:
		return 0, busyInfo(o.stderr, o.key, res.Busy)
	case res.Reason == runner.ReasonOnce:
		rec := res.Once
		fmt.Fprintf(o.stderr, "lockstep exec: skipped: once marker %q was set by %s at %s (run %s)\n",
			safeText(o.once), safeText(dash(rec.Owner)), rec.At.UTC().Format(time.RFC3339), safeText(dash(rec.RunID)))
		return exitOK, nil
	case res.Reason == runner.ReasonStart:
		return startFailure(o.stderr, res.Err), nil
	case res.Reason == runner.ReasonLockLost:
		return 0, &codeError{res.Err, exitLost}
	case res.Reason == runner.ReasonInterrupted && ctx.Err() != nil:
		return 0, ctx.Err()
	}
	return 0, res.Err
}

// result turns the outcome into exec's error: the command's code passes
// through; a lock that could not be acquired takes -E's code; a superseded
// waiter says so and exits 0 (or -E's code).
func (o *execOptions) result(e *env, code int, err error) error {
	var se *lock.SupersededError
	switch {
	case err == nil && code == 0:
		return nil
	case err == nil:
		return exitStatus(code)
	case errors.As(err, &se):
		fmt.Fprintf(e.stderr, "lockstep exec: skipped: superseded in the queue of %q by %s\n", safeText(o.key), holderSummary([]lock.Holder{se.By}))
		if o.conflict.set {
			return exitStatus(o.conflict.code)
		}
		return nil
	case errors.Is(err, lock.ErrBusy) && o.conflict.set:
		return &codeError{err, o.conflict.code}
	}
	return err
}

// startFailure reports a command that could not start and returns the shell's
// code for it: 127 not found, 126 otherwise.
func startFailure(w io.Writer, err error) int {
	fmt.Fprintf(w, "lockstep exec: %s\n", safeText(err.Error()))
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, exec.ErrNotFound) {
		return 127
	}
	return 126
}

// secondsFlag is -w SECONDS: a non-negative number of seconds, fractions
// allowed (flock's -w).
type secondsFlag struct {
	d   time.Duration
	set bool
}

func (f *secondsFlag) String() string {
	if f == nil || !f.set {
		return ""
	}
	return strconv.FormatFloat(f.d.Seconds(), 'f', -1, 64)
}

func (f *secondsFlag) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || v > 1e9 {
		return errors.New("want a number of seconds, e.g. 10 or 0.5")
	}
	f.d, f.set = time.Duration(v*float64(time.Second)), true
	return nil
}

// codeFlag is -E CODE: an exit status from 0 to 255.
type codeFlag struct {
	code int
	set  bool
}

func (f *codeFlag) String() string {
	if f == nil || !f.set {
		return ""
	}
	return strconv.Itoa(f.code)
}

func (f *codeFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 255 {
		return errors.New("want an exit status from 0 to 255")
	}
	f.code, f.set = n, true
	return nil
}
