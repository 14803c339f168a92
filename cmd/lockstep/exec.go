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
	"github.com/mattn/go-isatty"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/runner"
)

const execDescription = `Runs COMMAND while holding the lock KEY, like flock(1) across hosts. The lease
is renewed every ttl/3 while COMMAND runs; if it is lost, COMMAND's whole process
group gets SIGTERM, then SIGKILL after -kill-timeout, and exec exits 4. SIGINT
and SIGTERM are forwarded to the group the same way (exit 130/143). The lock is
released at the end in every case. COMMAND gets LOCKSTEP_RUN_ID, LOCKSTEP_STEP,
LOCKSTEP_LOCK_KEY and LOCKSTEP_FENCING_TOKEN in its environment.

Exit status: COMMAND's own, else 2 usage, 3 busy (-on-busy fail or -timeout
passed), 4 lock lost, 5 backend unreachable, 126/127 COMMAND could not start,
130/143 interrupted. A skip (busy with -on-busy skip, or -once marker set)
exits 0 with a note on stderr.`

// execOptions are exec's parsed command line.
type execOptions struct {
	backend     backendFlags
	ttl         time.Duration
	timeout     waitFlag
	onBusy      string
	limit       int
	once        string
	killTimeout time.Duration
	key         string
	argv        []string
}

func parseExecArgs(args []string) (*execOptions, int, bool) {
	fs := newFlagSet("exec", "exec [-ttl D] [-timeout D] [-on-busy wait|skip|fail] [-limit N] [-once KEY]\n                     [-kill-timeout D] [-backend URL] [-config PATH] KEY -- COMMAND [ARG...]", execDescription)
	o := &execOptions{}
	o.backend.register(fs)
	fs.DurationVar(&o.ttl, "ttl", lock.DefaultTTL, "lease `duration`, renewed every ttl/3")
	fs.Var(&o.timeout, "timeout", "how long to wait for a busy lock (`duration`; default: no limit; 0s: try once)")
	fs.StringVar(&o.onBusy, "on-busy", "wait", "when the lock is busy: `wait`, skip (exit 0) or fail (exit 3)")
	fs.IntVar(&o.limit, "limit", 1, "holders allowed at once (a semaphore when above 1)")
	fs.StringVar(&o.once, "once", "", "skip if the once marker `KEY` is set; set it after COMMAND succeeds")
	fs.DurationVar(&o.killTimeout, "kill-timeout", runner.DefaultKillTimeout, "grace between SIGTERM and SIGKILL")
	if code, done := parseFlags(fs, args); done {
		return nil, code, false
	}
	rest := fs.Args()
	if len(rest) > 1 && rest[1] == "--" {
		rest = append(rest[:1:1], rest[2:]...)
	}
	if len(rest) < 2 {
		return nil, usageFail(fs, "want KEY -- COMMAND [ARG...]"), false
	}
	o.key, o.argv = rest[0], rest[1:]
	if err := o.check(fs); err != nil {
		return nil, usageFail(fs, err.Error()), false
	}
	return o, 0, true
}

func (o *execOptions) check(fs *flag.FlagSet) error {
	switch {
	case o.onBusy != "wait" && o.onBusy != "skip" && o.onBusy != "fail":
		return fmt.Errorf("-on-busy %q: want wait, skip or fail", o.onBusy)
	case o.ttl < time.Second:
		return fmt.Errorf("-ttl %s: at least 1s", o.ttl)
	case o.limit < 1:
		return fmt.Errorf("-limit %d: at least 1", o.limit)
	case o.killTimeout <= 0:
		return fmt.Errorf("-kill-timeout %s: must be positive", o.killTimeout)
	}
	return nil
}

// wait is the acquire wait that -on-busy and -timeout make.
func (o *execOptions) wait() time.Duration {
	if o.onBusy != "wait" {
		return 0
	}
	return o.timeout.wait()
}

func execMain(args []string) int {
	o, code, ok := parseExecArgs(args)
	if !ok {
		return code
	}
	logger, closeLog := newLogger()
	defer closeLog()
	runner.EnableWatchdog(logger) // the step groups die with lockstep, even on kill -9
	ctx, again, stop := signalContext()
	defer stop()
	l, _, err := o.backend.open(ctx, logger)
	if err != nil {
		return fail("exec", err)
	}
	defer l.Close()
	if w := evictionWarning(ctx, l); w != "" {
		logger.Warn(w)
		fmt.Fprintln(os.Stderr, "lockstep exec: warning: "+w)
	}
	code, err = runExec(ctx, again, l, o, logger)
	if err != nil {
		return fail("exec", withCause(ctx, err))
	}
	return code
}

// runExec acquires, runs and releases. It returns the command's exit code, or
// an error whose exit code exitCodeFor gives.
func runExec(ctx context.Context, again <-chan os.Signal, l lock.Locker, o *execOptions, logger hclog.Logger) (int, error) {
	h := processHolder()
	h.RunID, h.Step = newRunID(), "exec"
	lease, keeper, err := acquireConfirmed(ctx, l, o, h, logger)
	if err != nil {
		if errors.Is(err, lock.ErrBusy) && o.onBusy == "skip" {
			var be *lock.BusyError
			errors.As(err, &be)
			fmt.Fprintf(os.Stderr, "lockstep exec: skipped: lock %q is held by %s\n", o.key, holderSummary(be.Holders))
			return exitOK, nil
		}
		return 0, busyInfo(o.key, err)
	}
	logger.Debug("lock acquired", "key", o.key, "fence", lease.Fence)
	defer releaseLease(ctx, l, lease, keeper, logger)
	if o.once != "" {
		rec, err := l.Once(ctx, o.once)
		if err != nil {
			return 0, err
		}
		if rec != nil {
			fmt.Fprintf(os.Stderr, "lockstep exec: skipped: once marker %q was set by %s at %s (run %s)\n",
				o.once, dash(rec.Owner), rec.At.UTC().Format(time.RFC3339), dash(rec.RunID))
			return exitOK, nil
		}
	}
	code, err := superviseCommand(ctx, again, keeper, lease, o, h.RunID)
	if err != nil || code != 0 || o.once == "" {
		return code, err
	}
	rec := lock.OnceRecord{Key: o.once, Owner: h.Owner, PID: h.PID, RunID: h.RunID, Step: h.Step, Info: h.Info}
	if err := l.MarkOnce(context.WithoutCancel(ctx), rec, 0); err != nil {
		return 0, fmt.Errorf("write once marker %q: %w", o.once, err)
	}
	return exitOK, nil
}

// acquireConfirmed acquires the lock and starts its keeper, which confirms
// the lease (lock.Keeper.Confirm: at least a third of the TTL left, else one
// timed renewal) so that the command never starts on a grant that a pause
// or a slow link made void; such a grant is released and the request queues
// again within its wait.
func acquireConfirmed(ctx context.Context, l lock.Locker, o *execOptions, h lock.Holder, logger hclog.Logger) (*lock.Lease, *lock.Keeper, error) {
	start := time.Now()
	for {
		wait := o.wait()
		if wait > 0 {
			wait = max(wait-time.Since(start), time.Millisecond)
		}
		lease, err := l.Acquire(ctx, lock.Request{Key: o.key, TTL: o.ttl, Limit: o.limit, Wait: wait, Holder: h,
			OnWait: newWaitReporter(o.key)})
		if err != nil {
			return nil, nil, err
		}
		// The lease is kept until the command is gone, also through the
		// grace period after a signal: letting it lapse while the group
		// still runs would let the next holder in beside it.
		keeper := lock.Keep(context.WithoutCancel(ctx), l, lease, &lock.KeepOptions{Logger: logger})
		err = keeper.Confirm(ctx, lease.TTL/3)
		if err == nil {
			return lease, keeper, nil
		}
		releaseLease(ctx, l, lease, keeper, logger)
		if !errors.Is(err, lock.ErrNotHeld) {
			return nil, nil, err
		}
		logger.Debug("the grant was void when confirmed; queueing again", "key", o.key, "error", err)
	}
}

// releaseLease stops the keeper and releases on a context that survives
// cancellation, so an interrupted exec still frees the lock at once; a
// lease the keeper lost is released with a short bound (lock.Keeper
// ReleaseContext), so that a dead link does not hold up the exit.
func releaseLease(ctx context.Context, l lock.Locker, lease *lock.Lease, keeper *lock.Keeper, logger hclog.Logger) {
	keeper.Stop()
	rctx, cancel := keeper.ReleaseContext(ctx)
	defer cancel()
	if err := l.Release(rctx, lease.Key, lease.Token); err != nil && !errors.Is(err, lock.ErrNotHeld) && keeper.Err() == nil {
		fmt.Fprintf(os.Stderr, "lockstep exec: release %q: %v (the lease ends when its TTL runs out)\n", lease.Key, err)
	}
	logger.Debug("lock released", "key", lease.Key)
}

// superviseCommand runs the command under a lease keeper. It stops the
// command's group when the lease is lost or a signal arrives (a second signal
// kills it at once).
func superviseCommand(ctx context.Context, again <-chan os.Signal, keeper *lock.Keeper, lease *lock.Lease, o *execOptions, runID string) (int, error) {
	env := append(os.Environ(),
		"LOCKSTEP_RUN_ID="+runID, "LOCKSTEP_STEP=exec", "LOCKSTEP_LOCK_KEY="+o.key,
		"LOCKSTEP_FENCING_TOKEN="+strconv.FormatInt(lease.Fence, 10))
	p, err := runner.StartProcess(runner.ProcessSpec{Argv: o.argv, Env: env, Stdin: childStdin(),
		Stdout: os.Stdout, Stderr: os.Stderr, KillTimeout: o.killTimeout})
	if err != nil {
		return startFailure(o.argv[0], err), nil
	}
	select {
	case <-p.Done():
		code := p.Wait()
		// A loss noticed in the same instant as the exit still means the
		// command may have run without the lock at its end: never report
		// success (or write the once marker) then.
		select {
		case <-keeper.Lost():
			fmt.Fprintf(os.Stderr, "lockstep exec: lock %q lost as the command exited: %v\n", o.key, keeper.Err())
			return 0, fmt.Errorf("%w: %w", errLost, keeper.Err())
		default:
		}
		return code, nil
	case <-keeper.Lost():
		fmt.Fprintf(os.Stderr, "lockstep exec: lock %q lost: %v; stopping the command\n", o.key, keeper.Err())
		p.Terminate()
		<-p.Stopped()
		return 0, fmt.Errorf("%w: %w", errLost, keeper.Err())
	case <-ctx.Done():
		fmt.Fprintf(os.Stderr, "lockstep exec: %v; stopping the command\n", context.Cause(ctx))
		p.Terminate()
		go killOnSecondSignal(p, again)
		<-p.Stopped() // the lock is released after this: no member may be left
		return 0, ctx.Err()
	}
}

// killOnSecondSignal kills p's group at once when another SIGINT or SIGTERM
// arrives before it exits.
func killOnSecondSignal(p *runner.Process, again <-chan os.Signal) {
	select {
	case <-again:
		p.Kill()
	case <-p.Stopped():
	}
}

// childStdin passes lockstep's stdin through unless it is a terminal: the
// command runs in its own process group, which is not the terminal's
// foreground group, so reading the terminal would stop it (SIGTTIN).
func childStdin() io.Reader {
	if isatty.IsTerminal(os.Stdin.Fd()) {
		return nil
	}
	return os.Stdin
}

// startFailure reports a command that could not start and returns the shell's
// code for it: 127 not found, 126 otherwise.
func startFailure(name string, err error) int {
	fmt.Fprintf(os.Stderr, "lockstep exec: %v\n", err)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, osexec.ErrNotFound) {
		return 127
	}
	return 126
}
