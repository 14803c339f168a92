package runner

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/hashicorp/hcl/v2"

	"github.com/lockstep-dev/lockstep/runner/supervise"
)

// DefaultKillTimeout is a step's kill_timeout when it sets none: the grace
// between the stop request and the kill (supervise.DefaultKillTimeout).
const DefaultKillTimeout = supervise.DefaultKillTimeout

// runChecks evaluates the check blocks in order and reports whether the step
// may proceed; otherwise res says skipped or failed.
func (sr *stepRun) runChecks(ctx context.Context) bool {
	res := sr.res
	for i, c := range sr.in.step.Checks {
		if c.Condition != nil {
			ok, diags := checkCondition(sr.in.scope, c.Condition)
			if diags.HasErrors() {
				res.Diags = diags
				res.fail(ReasonCheckError, fmt.Errorf("check %d: %s", i+1, diagsError(diags)))
				return false
			}
			if !ok {
				res.skip(ReasonCheck, fmt.Sprintf("check %d: condition is false", i+1))
				return false
			}
		}
		if c.Command != nil && !sr.runCheckCommand(ctx, i, c.Command) {
			return false
		}
	}
	return true
}

// runCheckCommand runs check i's command: exit 0 proceeds, 1 skips, any
// other code fails the step.
func (sr *stepRun) runCheckCommand(ctx context.Context, i int, expr hcl.Expression) bool {
	e := &evaluator{scope: sr.in.scope}
	argv := e.strings(expr, "check command")
	if e.diags.HasErrors() {
		sr.res.Diags = e.diags
		sr.res.fail(ReasonCheckError, fmt.Errorf("check %d: %s", i+1, diagsError(e.diags)))
		return false
	}
	code, reason, err := sr.runProcess(ctx, argv, nil)
	switch {
	case reason != ReasonNone:
		sr.res.fail(reason, fmt.Errorf("check %d: %w", i+1, err))
	case code == 1:
		sr.res.skip(ReasonCheck, fmt.Sprintf("check %d: command exited 1", i+1))
	case code != 0:
		sr.res.fail(ReasonCheckError, fmt.Errorf("check %d: command exited with code %d", i+1, code))
	default:
		return true
	}
	return false
}

// runCommand runs the step's command, retrying as its retry block says while
// still holding the locks.
func (sr *stepRun) runCommand(ctx context.Context) {
	res, spec := sr.res, sr.spec
	for attempt := 1; ; attempt++ {
		capture := &capBuffer{cap: sr.r.opts.OutputCap}
		code, reason, err := sr.runProcess(ctx, spec.Argv, capture)
		res.Attempts, res.ExitCode, res.Output = attempt, code, capture.String()
		if reason == ReasonNone && code == 0 {
			res.Status, res.Reason, res.Err = StatusSucceeded, ReasonNone, nil
			return
		}
		if reason == ReasonNone {
			reason, err = ReasonExit, fmt.Errorf("exited with code %d", code)
		}
		res.fail(reason, err)
		if reason != ReasonExit && reason != ReasonTimeout || attempt >= spec.Attempts {
			return
		}
		sr.r.log.Info("retrying step", "step", sr.in.addr, "attempt", attempt+1, "error", err)
		sr.r.emit(Event{Type: EventStepRetry, Step: sr.in.addr, Attempt: attempt + 1, Message: err.Error()})
		if !sr.pause(ctx, spec.Delay, attempt+1) {
			return
		}
	}
}

// pause waits out a retry's delay; a lost lock or the end of ctx ends it
// early with res failed.
func (sr *stepRun) pause(ctx context.Context, d time.Duration, next int) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-sr.lost.ch:
		sr.res.fail(ReasonLockLost, fmt.Errorf("%w (before attempt %d)", sr.lost.err(), next))
	case <-ctx.Done():
		sr.res.fail(ReasonInterrupted, ctx.Err())
	}
	return false
}

// runProcess runs argv in its own process group (supervise.Start) and waits
// for it. It stops the process (SIGTERM, SIGKILL after kill_timeout) when a
// lock is lost, the step's timeout passes or ctx ends, and kills it at once
// on Kill. reason is ReasonNone when the process exited on its own.
func (sr *stepRun) runProcess(ctx context.Context, argv []string, capture *capBuffer) (code int, reason Reason, err error) {
	if ctx.Err() != nil {
		// Cancelled while the locks were taken or the checks ran: start nothing.
		return -1, ReasonInterrupted, fmt.Errorf("interrupted")
	}
	if reason, err := sr.confirmHeld(ctx); err != nil {
		return -1, reason, err
	}
	spec := supervise.Spec{Argv: argv, Dir: sr.spec.Dir, Env: sr.stepEnv(), Stdin: sr.spec.Stdin,
		Stdout: sr.spec.Stdout, Stderr: sr.spec.Stderr, KillTimeout: sr.spec.KillTimeout}
	var out *commandOutput
	if sr.spec.Stdout == nil {
		// Line events (run), stdout also captured; exec passes its own.
		out, err = newCommandOutput(&lineWriter{capture: capture, emit: sr.r.outputFunc(sr.in.addr, "stdout")},
			&lineWriter{emit: sr.r.outputFunc(sr.in.addr, "stderr")})
		if err != nil {
			return -1, ReasonStart, fmt.Errorf("start %s: output pipe: %w", argv[0], err)
		}
		spec.Stdout, spec.Stderr = out.stdout, out.stderr
	}
	p, err := supervise.Start(spec)
	if out != nil {
		out.started()
		defer out.finish()
	}
	if err != nil {
		return -1, ReasonStart, fmt.Errorf("start %s: %w", argv[0], err)
	}
	reason, err = sr.supervise(ctx, p)
	if reason == ReasonInterrupted && isClosed(p.Stopped()) {
		// Nothing of the command's group is left and nothing runs again:
		// free the locks before finish, which waits for the output to be
		// written. (A command killed at once by a second signal is released
		// as usual: its group may not be gone yet.)
		sr.releaseEarly(ctx)
		if sr.in.stopped != nil {
			sr.in.stopped() // and the workflow-level locks around it
		}
	}
	return p.Wait(), reason, err
}

// supervise waits for p's exit, a lost lock, the step's timeout, ctx's end
// or Kill, and stops p for any but the first; after p's exit it stops what p
// left running in its group. The locks are released once the lifecycle goes
// on, so p's whole group (not only its leader) is gone when it returns.
func (sr *stepRun) supervise(ctx context.Context, p *supervise.Process) (Reason, error) {
	var timeout <-chan time.Time
	if sr.spec.Timeout > 0 {
		t := time.NewTimer(sr.spec.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	var reason Reason
	var err error
	stopped := p.Stopped() // closed only after Terminate
	select {
	case <-p.Done():
		if !p.Leftover() {
			return ReasonNone, nil
		}
		// The command exited but left processes running in its group: they
		// are stopped as a lost lock stops a command before the locks are
		// released, so that nothing of the step runs without them.
		sr.r.log.Warn("the command exited and left processes running in its process group; stopping them before the locks are released (a process meant to outlive its step must leave the group: setsid)",
			"step", sr.in.addr)
		p.Terminate()
	case <-sr.lost.ch:
		reason, err = ReasonLockLost, fmt.Errorf("%w; the command was stopped", sr.lost.err())
		p.Terminate()
	case <-timeout:
		reason, err = ReasonTimeout, fmt.Errorf("timed out after %s", sr.spec.Timeout)
		p.Terminate()
	case <-ctx.Done():
		reason, err = ReasonInterrupted, fmt.Errorf("interrupted")
		p.Terminate()
	case <-sr.r.kill:
		reason, err = ReasonInterrupted, fmt.Errorf("killed")
		p.Kill()
		stopped = p.Done()
	}
	select {
	case <-stopped:
	case <-sr.r.kill:
		p.Kill()
	}
	return reason, err
}

func (r *Runner) outputFunc(addr, stream string) func(string) {
	return func(line string) {
		r.emit(Event{Type: EventStepOutput, Step: addr, Stream: stream, Line: line})
	}
}

// stepEnv is the base environment plus LOCKSTEP_RUN_ID, LOCKSTEP_STEP, the
// lock keys and fencing tokens, and the step's env (which wins).
func (sr *stepRun) stepEnv() []string {
	r, spec, held := sr.r, sr.spec, sr.held
	set := map[string]string{"LOCKSTEP_RUN_ID": r.opts.RunID, "LOCKSTEP_STEP": sr.in.addr}
	if len(held) > 0 {
		first := held[0]
		for _, h := range held {
			if h.spec.Index == 0 {
				first = h // the first lock written, not the first in key order
			}
		}
		set["LOCKSTEP_LOCK_KEY"] = first.spec.Key
		set["LOCKSTEP_FENCING_TOKEN"] = strconv.FormatInt(first.lease.Fence, 10)
	}
	for _, h := range held {
		if h.spec.Label != "" {
			set["LOCKSTEP_FENCING_TOKEN_"+envName(h.spec.Label)] = strconv.FormatInt(h.lease.Fence, 10)
		}
	}
	for _, h := range sr.in.wlocks {
		set["LOCKSTEP_FENCING_TOKEN_"+envName(h.spec.Name)] = strconv.FormatInt(h.lease.Fence, 10)
	}
	for k, v := range spec.Env {
		set[k] = v
	}
	env := make([]string, 0, len(r.opts.Environ)+len(set))
	for _, kv := range r.opts.Environ {
		name, _, _ := strings.Cut(kv, "=")
		if _, over := set[name]; !over {
			env = append(env, kv)
		}
	}
	for _, k := range sortedKeys(set) {
		env = append(env, k+"="+set[k])
	}
	return env
}

// envName turns a lock label into an environment variable suffix.
func envName(label string) string {
	return strings.Map(func(c rune) rune {
		if c < unicode.MaxASCII && (unicode.IsLetter(c) || unicode.IsDigit(c)) {
			return unicode.ToUpper(c)
		}
		return '_'
	}, label)
}

// isClosed reports whether ch is closed.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
