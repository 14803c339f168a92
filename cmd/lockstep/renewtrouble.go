package main

// Failing renewals of a held lock, as people and -json see them: a warning
// while the lease is still valid (lock_renew_failed), a line when renewals
// work again (lock_renew_recovered), and the cause on the loss that may
// follow (lock_lost).

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/runner"
)

// lossCauses remembers, per step and lock, the last lock_renew_failed event
// that no recovery followed, so that the lock_lost event that may come next
// names its cause: the runner reports a loss without one. Events arrive one
// at a time (runner.Options.OnEvent), so it needs no lock.
type lossCauses map[[3]string]runner.Event

// note records a renewal failure or recovery, and gives a lock_lost event
// the cause of the failures before it: Err (the last renewal's error) and
// Unconfirmed (how long renewals had failed by the loss).
func (c lossCauses) note(ev *runner.Event) {
	k := [3]string{ev.Step, ev.Label, ev.Lock}
	switch ev.Type {
	case runner.EventLockRenewFailed:
		c[k] = *ev
	case runner.EventLockRenewRecovered:
		delete(c, k)
	case runner.EventLockLost:
		if last, ok := c[k]; ok && ev.Err == nil {
			ev.Err, ev.Unconfirmed = last.Err, last.Unconfirmed+max(ev.Time.Sub(last.Time), 0)
		}
		delete(c, k)
	}
}

// renewFailedMessage: `step.deploy: Lock "deploy/prod" not renewed for 1.2s
// (dial tcp …: connection refused); lost in 1.5s unless the backend
// answers`.
func renewFailedMessage(step string, ev runner.Event) string {
	return fmt.Sprintf("%sLock %q not renewed for %s (%s); lost in %s unless the backend answers",
		step, ev.Lock, shortAge(ev.Unconfirmed), renewCause(ev), shortAge(ev.Left))
}

// lockLostMessage: `step.deploy: Lost lock "deploy/prod"; stopping the
// step`, followed by the cause when renewals failed before the loss. what
// is what stops: "the step" (run) or "the command" (exec).
func lockLostMessage(step, what string, ev runner.Event) string {
	msg := fmt.Sprintf("%sLost %s%q; stopping %s", step, lockNoun(ev), ev.Lock, what)
	if ev.Err != nil {
		msg += fmt.Sprintf(": not renewed for %s (%s)", shortAge(ev.Unconfirmed), renewCause(ev))
	}
	if ev.Message != "" {
		msg += ": " + safeText(ev.Message)
	}
	return msg
}

// renewCause is the renewal error of ev for a terminal: "no answer in time"
// for a renewal that timed out; else its text without the `renew "KEY": `
// and `lock backend unavailable: ` the line says already, escaped
// (safeText): a backend's error text is not ours.
func renewCause(ev runner.Event) string {
	if ev.Err == nil {
		return "unknown cause"
	}
	if errors.Is(ev.Err, context.DeadlineExceeded) {
		return "no answer in time"
	}
	msg := ev.Err.Error()
	msg = strings.TrimPrefix(msg, "renew "+strconv.Quote(ev.Lock)+": ")
	msg = strings.TrimPrefix(msg, lock.ErrUnavailable.Error()+": ")
	return safeText(msg)
}

// shortAge rounds d for a warning: tenths of a second below 10s, else
// seconds.
func shortAge(d time.Duration) string {
	d = max(d, 0)
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
