package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/lockstep-dev/lockstep/lock"
)

// usageError marks an error in the command line, the environment or the
// configuration: nothing ran, exit 2.
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

// signalError is the cancellation cause of a context ended by SIGINT or
// SIGTERM.
type signalError struct{ sig os.Signal }

func (e *signalError) Error() string { return "interrupted by " + e.sig.String() }

// exitCodeFor maps an error to lockstep's exit codes (DESIGN section 5): nil
// is 0, usage errors 2, lock.ErrBusy 3, lock.ErrNotHeld and errLost 4,
// lock.ErrUnavailable 5, a signal 130 (SIGINT) or 143 (SIGTERM), anything
// else 1.
func exitCodeFor(err error) int {
	var ue *usageError
	var se *signalError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &se):
		if se.sig == syscall.SIGTERM {
			return exitTerminated
		}
		return exitInterrupt
	case errors.Is(err, lock.ErrBusy):
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

// signalContext returns a context cancelled, with a *signalError cause, by the
// first SIGINT or SIGTERM, and a channel that receives the signals after it
// (buffered, so none is missed however soon it follows). The stop func
// restores default signal handling.
func signalContext() (context.Context, <-chan os.Signal, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 2)
	again := make(chan os.Signal, 1)
	signal.Notify(ch, stopSignals...)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			cancel(&signalError{sig})
		case <-done:
			return
		}
		for {
			select {
			case sig := <-ch:
				select {
				case again <- sig:
				default:
				}
			case <-done:
				return
			}
		}
	}()
	return ctx, again, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}

// withCause replaces a bare context error by the context's cause (a
// *signalError after a signal), so exitCodeFor can tell 130 from 143.
func withCause(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	if cause := context.Cause(ctx); cause != nil && errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w: %w", err, cause)
	}
	return err
}

// fail prints err as "lockstep: CMD: err" on stderr and returns its exit code.
func fail(cmd string, err error) int {
	fmt.Fprintf(os.Stderr, "lockstep %s: %v\n", cmd, err)
	return exitCodeFor(err)
}
