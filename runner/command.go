package runner

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/lockstep-dev/lockstep/runner/supervise"
)

// DefaultKillTimeout is a step's kill_timeout when it sets none: the grace
// between the stop request and the kill (supervise.DefaultKillTimeout).
const DefaultKillTimeout = supervise.DefaultKillTimeout

// runChecks evaluates the check blocks in order and reports whether the step
// may proceed; otherwise res says skipped or failed.
func (r *Runner) runChecks(ctx context.Context, in *instance, spec *instanceSpec, held []*heldLock, lost <-chan struct{}, res *InstanceResult) bool {
	for i, c := range in.step.Checks {
		if c.Condition != nil {
			ok, diags := checkCondition(in.scope, c.Condition)
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
		if c.Command == nil {
			continue
		}
		e := &evaluator{scope: in.scope}
		argv := e.strings(c.Command, "check command")
		if e.diags.HasErrors() {
			res.Diags = e.diags
			res.fail(ReasonCheckError, fmt.Errorf("check %d: %s", i+1, diagsError(e.diags)))
			return false
		}
		code, reason, err := r.runProcess(ctx, in, argv, spec, held, lost, nil)
		switch {
		case reason != ReasonNone:
			res.fail(reason, fmt.Errorf("check %d: %w", i+1, err))
			return false
		case code == 1:
			res.skip(ReasonCheck, fmt.Sprintf("check %d: command exited 1", i+1))
			return false
		case code != 0:
			res.fail(ReasonCheckError, fmt.Errorf("check %d: command exited with code %d", i+1, code))
			return false
		}
	}
	return true
}

// runCommand runs the step's command, retrying as its retry block says while
// still holding the locks.
func (r *Runner) runCommand(ctx context.Context, in *instance, spec *instanceSpec, held []*heldLock, lost <-chan struct{}, res *InstanceResult) {
	for attempt := 1; ; attempt++ {
		capture := &capBuffer{cap: r.opts.OutputCap}
		code, reason, err := r.runProcess(ctx, in, spec.Argv, spec, held, lost, capture)
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
		r.log.Info("retrying step", "step", in.addr, "attempt", attempt+1, "error", err)
		r.emit(Event{Type: EventStepRetry, Step: in.addr, Attempt: attempt + 1, Message: err.Error()})
		t := time.NewTimer(spec.Delay)
		select {
		case <-t.C:
		case <-lost:
			t.Stop()
			res.fail(ReasonLockLost, fmt.Errorf("a lock was lost before attempt %d", attempt+1))
			return
		case <-ctx.Done():
			t.Stop()
			res.fail(ReasonInterrupted, ctx.Err())
			return
		}
	}
}

// runProcess runs argv in its own process group (supervise.Start) and waits
// for it. It stops the process (SIGTERM, SIGKILL after kill_timeout) when a lock is lost, the
// step's timeout passes or ctx ends, and kills it at once on Kill. reason is
// ReasonNone when the process exited on its own.
func (r *Runner) runProcess(ctx context.Context, in *instance, argv []string, spec *instanceSpec, held []*heldLock,
	lost <-chan struct{}, capture *capBuffer) (code int, reason Reason, err error) {
	if ctx.Err() != nil {
		// Cancelled while the locks were taken or the checks ran: start nothing.
		return -1, ReasonInterrupted, fmt.Errorf("interrupted")
	}
	if reason, err := r.confirmHeld(ctx, in.withWorkflowLocks(held)); err != nil {
		return -1, reason, err
	}
	stdout := &lineWriter{capture: capture, emit: r.outputFunc(in.addr, "stdout")}
	stderr := &lineWriter{emit: r.outputFunc(in.addr, "stderr")}
	p, err := supervise.Start(supervise.Spec{Argv: argv, Dir: spec.Dir, Env: r.stepEnv(in, spec, held),
		Stdout: stdout, Stderr: stderr, KillTimeout: spec.KillTimeout})
	if err != nil {
		return -1, ReasonStart, fmt.Errorf("start %s: %w", argv[0], err)
	}
	var timeout <-chan time.Time
	if spec.Timeout > 0 {
		t := time.NewTimer(spec.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	stopped := p.Stopped() // closed only after Terminate
	select {
	case <-p.Done():
	case <-lost:
		reason, err = ReasonLockLost, fmt.Errorf("a lock was lost; the command was stopped")
		p.Terminate()
	case <-timeout:
		reason, err = ReasonTimeout, fmt.Errorf("timed out after %s", spec.Timeout)
		p.Terminate()
	case <-ctx.Done():
		reason, err = ReasonInterrupted, fmt.Errorf("interrupted")
		p.Terminate()
	case <-r.kill:
		reason, err = ReasonInterrupted, fmt.Errorf("killed")
		p.Kill()
		stopped = p.Done()
	}
	if reason != ReasonNone {
		// The locks are released once this returns, so a terminated step
		// waits for its whole group (not only the leader) to be gone.
		select {
		case <-stopped:
		case <-r.kill:
			p.Kill()
		}
	}
	code = p.Wait()
	stdout.Flush()
	stderr.Flush()
	return code, reason, err
}

func (r *Runner) outputFunc(addr, stream string) func(string) {
	return func(line string) {
		r.emit(Event{Type: EventStepOutput, Step: addr, Stream: stream, Line: line})
	}
}

// stepEnv is the base environment plus LOCKSTEP_RUN_ID, LOCKSTEP_STEP, the
// lock keys and fencing tokens, and the step's env (which wins).
func (r *Runner) stepEnv(in *instance, spec *instanceSpec, held []*heldLock) []string {
	set := map[string]string{"LOCKSTEP_RUN_ID": r.opts.RunID, "LOCKSTEP_STEP": in.addr}
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
	for _, h := range in.wlocks {
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
