package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/runner/supervise"
)

// The lifecycle of exec: acquire (confirmed), once, supervise the command,
// release.

// runExec acquires, runs and releases. It returns the command's exit code, or
// an error whose exit code exitCodeFor gives.
func runExec(ctx context.Context, l lock.Locker, o *execOptions) (int, error) {
	logger := o.logger
	h := processHolder(o.getenv)
	h.RunID, h.Step = newRunID(), "exec"
	lease, keeper, err := acquireConfirmed(ctx, l, o, h)
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
	defer releaseLease(ctx, l, lease, keeper, o)
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
	code, err := superviseCommand(ctx, keeper, lease, o)
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
func acquireConfirmed(ctx context.Context, l lock.Locker, o *execOptions, h lock.Holder) (*lock.Lease, *lock.Keeper, error) {
	start := time.Now()
	for {
		wait := o.wait()
		if wait > 0 {
			wait = max(wait-time.Since(start), time.Millisecond)
		}
		lease, err := l.Acquire(ctx, lock.Request{Key: o.key, TTL: o.ttl, Limit: o.limit, Wait: wait, Holder: h,
			OnWait: o.wr.onWait, OnQueue: o.wr.onQueue})
		if err != nil {
			return nil, nil, err
		}
		// The lease is kept until the command is gone, also through the
		// grace period after a signal: letting it lapse while the group
		// still runs would let the next holder in beside it.
		keeper := lock.Keep(context.WithoutCancel(ctx), l, lease, &lock.KeepOptions{Logger: o.logger})
		err = keeper.Confirm(ctx, lease.TTL/3)
		if err == nil {
			return lease, keeper, nil
		}
		releaseLease(ctx, l, lease, keeper, o)
		if !errors.Is(err, lock.ErrNotHeld) {
			return nil, nil, err
		}
		o.logger.Debug("the grant was void when confirmed; queueing again", "key", o.key, "error", err)
	}
}

// releaseLease stops the keeper and releases on a context that survives
// cancellation, so an interrupted exec still frees the lock at once; a
// lease the keeper lost is released with a short bound (lock.Keeper
// ReleaseContext), so that a dead link does not hold up the exit.
func releaseLease(ctx context.Context, l lock.Locker, lease *lock.Lease, keeper *lock.Keeper, o *execOptions) {
	keeper.Stop()
	rctx, cancel := keeper.ReleaseContext(ctx)
	defer cancel()
	if err := l.Release(rctx, lease.Key, lease.Token); err != nil && !errors.Is(err, lock.ErrNotHeld) && keeper.Err() == nil {
		fmt.Fprintf(o.stderr, "lockstep exec: release %q: %v (the lease ends when its TTL runs out)\n", lease.Key, err)
	}
	o.logger.Debug("lock released", "key", lease.Key)
}

// superviseCommand runs the command under a lease keeper. It stops the
// command's group when the lease is lost or a signal arrives (a second signal
// kills it at once).
func superviseCommand(ctx context.Context, keeper *lock.Keeper, lease *lock.Lease, o *execOptions) (int, error) {
	runID := o.runID
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
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, exec.ErrNotFound) {
		return 127
	}
	return 126
}
