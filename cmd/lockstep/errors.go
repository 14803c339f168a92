package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/runner"
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

// usageError marks an error in the command line, the environment or the
// configuration: nothing ran, exit 2. The dispatcher adds a hint to run the
// command's -help.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// errLost means a lease was lost while its command ran (exit 4). It wraps the
// keeper's reason when there is one.
var errLost = errors.New("lock lost")

// exitStatus is an exit code a command chose itself after saying everything
// it had to say (exec passing its command's code through, fmt -check, plan
// -detailed-exitcode). Nothing more is printed for it.
type exitStatus int

func (s exitStatus) Error() string { return "exit status " + strconv.Itoa(int(s)) }

// reportedError is an error the command has already shown (diagnostics, a
// run's summary, a -json diagnostic event): it only decides the exit code.
type reportedError struct{ err error }

func (e *reportedError) Error() string { return e.err.Error() }
func (e *reportedError) Unwrap() error { return e.err }

// reported marks err as shown; nil stays nil.
func reported(err error) error {
	if err == nil {
		return nil
	}
	return &reportedError{err}
}

// codeError gives err an exit code of the user's choosing (exec -E).
type codeError struct {
	err  error
	code int
}

func (e *codeError) Error() string { return e.err.Error() }
func (e *codeError) Unwrap() error { return e.err }

// outcomeError is a run's outcome (other than success) as an error: it
// unwraps to the sentinel whose exit code the outcome has.
type outcomeError struct{ outcome runner.Outcome }

func (e *outcomeError) Error() string { return "run " + e.outcome.String() }

func (e *outcomeError) Unwrap() error {
	switch e.outcome {
	case runner.OutcomeLockBusy:
		return lock.ErrBusy
	case runner.OutcomeLockLost:
		return errLost
	case runner.OutcomeUnavailable:
		return lock.ErrUnavailable
	case runner.OutcomeInterrupted:
		return context.Canceled
	}
	return nil
}

// outcomeErr returns nil for a successful run, else an *outcomeError.
func outcomeErr(o runner.Outcome) error {
	if o == runner.OutcomeSucceeded {
		return nil
	}
	return &outcomeError{o}
}

// exitCode is the one map from errors to lockstep's exit codes (DESIGN
// section 5), in this order: nil 0; a stop signal 128+n (it wins over
// everything: the run was interrupted); a code chosen by the user (-E) or by
// the command (exitStatus); usage errors 2; lock.ErrBusy and
// lock.ErrDeadlock 3; lock.ErrNotHeld
// and errLost 4; lock.ErrUnavailable 5; a bare cancellation 130; anything
// else 1.
func exitCode(err error) int {
	var (
		se *signalError
		ce *codeError
		st exitStatus
		ue *usageError
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &se):
		return se.code()
	case errors.As(err, &ce):
		return ce.code
	case errors.As(err, &st):
		return int(st)
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, lock.ErrBusy), errors.Is(err, lock.ErrDeadlock):
		return exitBusy
	case errors.Is(err, lock.ErrNotHeld), errors.Is(err, errLost):
		return exitLost
	case errors.Is(err, lock.ErrUnavailable):
		return exitUnavailable
	case errors.Is(err, context.Canceled):
		return exitInterrupt
	}
	return exitFailed
}

// withSignal adds the stop signal received, if any, to err, so that exitCode
// gives 128+n however the command ended.
func (e *env) withSignal(err error) error {
	if se := e.sig.received(); se != nil {
		return errors.Join(se, err)
	}
	return err
}

// report prints err for command name on stderr, unless it was shown already
// (reportedError, exitStatus) or is nil. Text from other machines in it is
// escaped (safeLines); a usage error ends with a hint to run -help.
func (e *env) report(name string, err error) {
	var (
		re *reportedError
		st exitStatus
		ue *usageError
	)
	if err == nil || errors.As(err, &re) || errors.As(err, &st) {
		return
	}
	prefix := "lockstep"
	if name != "" {
		prefix += " " + name
	}
	fmt.Fprintf(e.stderr, "%s: %s\n", prefix, safeLines(err.Error()))
	if errors.As(err, &ue) && name != "" {
		fmt.Fprintf(e.stderr, "Run 'lockstep %s -help' for usage.\n", name)
	}
}

// withCause replaces a bare context error by the context's cause (a
// *signalError after a signal), so that exitCode can tell 130 from 143.
func withCause(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	if cause := context.Cause(ctx); cause != nil && errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w: %w", err, cause)
	}
	return err
}
