package runner

import (
	"time"

	"github.com/lockstep-dev/lockstep/lock"
)

// EventType names an event of a run. The values are the "type" field of the
// CLI's -json stream.
type EventType string

// The event types, in the order a run usually produces them.
const (
	EventRunStart     EventType = "run_start"
	EventStepStart    EventType = "step_start"
	EventLockWait     EventType = "lock_wait"
	EventLockAcquired EventType = "lock_acquired"
	EventLockLost     EventType = "lock_lost"
	EventLockReleased EventType = "lock_released"
	EventStepSkipped  EventType = "step_skipped"
	EventStepOutput   EventType = "step_output"
	EventStepRetry    EventType = "step_retry"
	EventStepDone     EventType = "step_done"
	EventRunDone      EventType = "run_done"
)

// The events of a held lock whose renewals fail, before it is lost or kept.
const (
	// EventLockRenewFailed: renewals of a held lock are failing while its
	// lease is still valid locally; unless one succeeds within Left, the
	// lock is lost (EventLockLost). Sent at the first failure, then at most
	// once per renewal interval (ttl/3, at least 1s) while they keep
	// failing.
	EventLockRenewFailed EventType = "lock_renew_failed"
	// EventLockRenewRecovered: a renewal succeeded again after an
	// EventLockRenewFailed; the lock is kept.
	EventLockRenewRecovered EventType = "lock_renew_recovered"
)

// Event is one thing that happened during a run. Fields that do not apply to
// the type are zero. Events never carry lock tokens; values derived from
// sensitive variables are replaced by SensitivePlaceholder.
type Event struct {
	Type  EventType
	Time  time.Time
	RunID string

	Step  string // step instance address, e.g. step.restart["web-1"]
	Lock  string // lock key
	Label string // lock label, "" for an unlabelled lock

	Status  string // step status (step_skipped, step_done) or run outcome (run_done)
	Reason  Reason // why a step was skipped, failed or not run
	Message string // human sentence, e.g. "done by alice@host at 12:00:01"

	Holders   []lock.Holder // lock_wait: who holds the lock now
	WaitStart time.Time     // lock_wait: when this wait began
	Fence     int64         // lock_acquired: fencing token of the lease
	Limit     int           // lock_wait, lock_acquired: holders allowed at once
	Position  int           // lock_wait: place in line, 1 = next (0: unknown)
	Length    int           // lock_wait: waiters in line, this one included (0: unknown)

	Stream string // step_output: "stdout" or "stderr"
	Line   string // step_output: one line, without its newline

	ExitCode int           // step_done: the command's exit code, -1 when none ran
	Attempt  int           // step_retry: the attempt about to start
	LockWait time.Duration // step_done: time spent waiting for locks
	Duration time.Duration // step_done, run_done
	Err      error         // step_done: the failure, if any; lock_renew_failed: the last renewal's error (never contains secrets)

	Unconfirmed time.Duration // lock_renew_failed: since the backend last confirmed the lease
	Left        time.Duration // lock_renew_failed: the lease's local validity left

	Result *Result // run_done
}
