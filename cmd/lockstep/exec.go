package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"

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
		usage: "exec [-ttl D] [-timeout D | -n | -w SECONDS] [-on-busy wait|skip|fail] [-limit N] [-once KEY]\n" +
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

// execOptions are exec's parsed command line and what its lifecycle uses.
type execOptions struct {
	backend     backendFlags
	ttl         time.Duration
	timeout     waitFlag
	onBusy      string
	limit       int
	once        string
	killTimeout time.Duration
	noWait      bool        // -n
	waitSecs    secondsFlag // -w
	conflict    codeFlag    // -E
	script      string      // -c
	key         string
	argv        []string

	// The command's streams and environment, the logger and the run id.
	stdin          io.Reader
	stdout, stderr io.Writer
	environ        []string
	getenv         func(string) string
	logger         hclog.Logger
	again          <-chan os.Signal // stop signals after the first
	runID          string
	wr             *waitReporter
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

func (o *execOptions) run(e *env, args []string) error {
	if err := o.parseArgs(args); err != nil {
		return err
	}
	o.stdin, o.stdout, o.stderr = e.stdin, childStream(e.stdout), childStream(e.stderr)
	if e.term.stdin {
		// The command runs in its own process group, which is not the
		// terminal's foreground group: reading the terminal would stop it.
		o.stdin = nil
	}
	o.environ, o.getenv, o.again = e.environ(), e.getenv, e.sig.againChan()
	logger, closeLog := e.logger()
	defer closeLog()
	o.logger = logger
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
	o.wr = newWaitReporter(e, o.key)
	defer o.wr.close()
	e.sig.onStop(o.interrupted, nil)
	code, err := runExec(e.ctx, l, o)
	return o.result(e, code, withCause(e.ctx, err))
}

// interrupted says, at the first stop signal, what exec does now.
func (o *execOptions) interrupted(sig os.Signal) {
	if o.wr.waiting() {
		return // nothing runs yet: exec gives up the wait at once
	}
	o.wr.message(interruptMessage(sig, "the command", o.killTimeout))
}

// result turns runExec's outcome into exec's error: the command's code
// passes through; a lock that could not be acquired takes -E's code; a
// superseded waiter says so and exits 0 (or -E's code).
func (o *execOptions) result(e *env, code int, err error) error {
	var se *lock.SupersededError
	switch {
	case err == nil && code == 0:
		return nil
	case err == nil:
		return exitStatus(code)
	case errors.As(err, &se):
		fmt.Fprintf(e.stderr, "lockstep exec: skipped: superseded in the queue of %q by %s\n", o.key, holderSummary([]lock.Holder{se.By}))
		if o.conflict.set {
			return exitStatus(o.conflict.code)
		}
		return nil
	case errors.Is(err, lock.ErrBusy) && o.conflict.set:
		return &codeError{err, o.conflict.code}
	}
	return err
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

// runExec acquires, runs and releases. It returns the command's exit code, or
// an error whose exit code exitCodeFor gives.
func runExec(ctx context.Context, l lock.Locker, o *execOptions) (int, error) {
	logger := o.logger
	h := processHolder(o.getenv)
	h.RunID, h.Step = newRunID(), "exec"
	lease, err := l.Acquire(ctx, lock.Request{Key: o.key, TTL: o.ttl, Limit: o.limit, Wait: o.wait(), Holder: h,
		OnWait: o.wr.onWait, OnQueue: o.wr.onQueue})
	o.wr.close()
	if err != nil {
		if errors.Is(err, lock.ErrBusy) && o.onBusy == "skip" {
			var be *lock.BusyError
			errors.As(err, &be)
			fmt.Fprintf(o.stderr, "lockstep exec: skipped: lock %q is held by %s\n", o.key, holderSummary(be.Holders))
			return exitOK, nil
		}
		return 0, busyInfo(o.stderr, o.key, err)
	}
	logger.Debug("lock acquired", "key", o.key, "fence", lease.Fence)
	defer releaseLease(ctx, l, lease, o, logger)
	if o.once != "" {
		rec, err := l.Once(ctx, o.once)
		if err != nil {
			return 0, err
		}
		if rec != nil {
			fmt.Fprintf(o.stderr, "lockstep exec: skipped: once marker %q was set by %s at %s (run %s)\n",
				o.once, dash(rec.Owner), rec.At.UTC().Format(time.RFC3339), dash(rec.RunID))
			return exitOK, nil
		}
	}
	o.runID = h.RunID
	code, err := superviseCommand(ctx, l, lease, o)
	if err != nil || code != 0 || o.once == "" {
		return code, err
	}
	rec := lock.OnceRecord{Key: o.once, Owner: h.Owner, PID: h.PID, RunID: h.RunID, Step: h.Step, Info: h.Info}
	if err := l.MarkOnce(context.WithoutCancel(ctx), rec, 0); err != nil {
		return 0, fmt.Errorf("write once marker %q: %w", o.once, err)
	}
	return exitOK, nil
}

// releaseLease releases on a context that survives cancellation, so an
// interrupted exec still frees the lock at once.
func releaseLease(ctx context.Context, l lock.Locker, lease *lock.Lease, o *execOptions, logger hclog.Logger) {
	rctx, cancel := lock.CleanupContext(ctx)
	defer cancel()
	if err := l.Release(rctx, lease.Key, lease.Token); err != nil && !errors.Is(err, lock.ErrNotHeld) {
		fmt.Fprintf(o.stderr, "lockstep exec: release %q: %v (the lease ends when its TTL runs out)\n", lease.Key, err)
	}
	logger.Debug("lock released", "key", lease.Key)
}

// superviseCommand runs the command under a lease keeper. It stops the
// command's group when the lease is lost or a signal arrives (a second signal
// kills it at once).
func superviseCommand(ctx context.Context, l lock.Locker, lease *lock.Lease, o *execOptions) (int, error) {
	logger, runID := o.logger, o.runID
	// The lease is kept until the command is gone, also through the grace
	// period after a signal: letting it lapse while the group still runs
	// would let the next holder in beside it.
	keeper := lock.Keep(context.WithoutCancel(ctx), l, lease, &lock.KeepOptions{Logger: logger})
	defer keeper.Stop()
	env := append(o.environ,
		"LOCKSTEP_RUN_ID="+runID, "LOCKSTEP_STEP=exec", "LOCKSTEP_LOCK_KEY="+o.key,
		"LOCKSTEP_FENCING_TOKEN="+strconv.FormatInt(lease.Fence, 10))
	p, err := supervise.Start(supervise.Spec{Argv: o.argv, Env: env, Stdin: o.stdin,
		Stdout: o.stdout, Stderr: o.stderr, KillTimeout: o.killTimeout})
	if err != nil {
		return startFailure(o.stderr, err), nil
	}
	select {
	case <-p.Done():
		code := p.Wait()
		// A loss noticed in the same instant as the exit still means the
		// command may have run without the lock at its end: never report
		// success (or write the once marker) then.
		select {
		case <-keeper.Lost():
			fmt.Fprintf(o.stderr, "lockstep exec: lock %q lost as the command exited: %v\n", o.key, keeper.Err())
			return 0, fmt.Errorf("%w: %w", errLost, keeper.Err())
		default:
		}
		return code, nil
	case <-keeper.Lost():
		fmt.Fprintf(o.stderr, "lockstep exec: lock %q lost: %v; stopping the command\n", o.key, keeper.Err())
		p.Terminate()
		<-p.Stopped()
		return 0, fmt.Errorf("%w: %w", errLost, keeper.Err())
	case <-ctx.Done():
		fmt.Fprintf(o.stderr, "lockstep exec: %v; stopping the command\n", context.Cause(ctx))
		p.Terminate()
		go killOnSecondSignal(p, o.again)
		<-p.Stopped() // the lock is released after this: no member may be left
		return 0, ctx.Err()
	}
}

// killOnSecondSignal kills p's group at once when another SIGINT or SIGTERM
// arrives before it exits.
func killOnSecondSignal(p *supervise.Process, again <-chan os.Signal) {
	select {
	case <-again:
		p.Kill()
	case <-p.Stopped():
	}
}

// startFailure reports a command that could not start and returns the shell's
// code for it: 127 not found, 126 otherwise.
func startFailure(w io.Writer, err error) int {
	fmt.Fprintf(w, "lockstep exec: %v\n", err)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, osexec.ErrNotFound) {
		return 127
	}
	return 126
}
