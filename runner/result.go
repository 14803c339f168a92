package runner

import (
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/lockstep-dev/lockstep/lock"
)

// Step statuses, the values of step.NAME.status.
const (
	StatusSucceeded = "succeeded"
	StatusSkipped   = "skipped"
	StatusFailed    = "failed"
	StatusNotRun    = "not_run"
)

// Reason says why a step instance was skipped, failed or not run.
type Reason string

// Reasons. A succeeded instance has ReasonNone.
const (
	ReasonNone        Reason = ""
	ReasonExit        Reason = "exit"              // failed: the command exited non-zero
	ReasonStart       Reason = "start"             // failed: the command could not be started
	ReasonTimeout     Reason = "timeout"           // failed: the step's timeout ran out
	ReasonEval        Reason = "evaluation"        // failed: the body could not be evaluated
	ReasonCheckError  Reason = "check_error"       // failed: a check errored
	ReasonLockBusy    Reason = "lock_busy"         // failed or skipped (on_busy): a lock was busy
	ReasonLockLost    Reason = "lock_lost"         // failed: a lock was lost while the step ran
	ReasonUnavailable Reason = "unavailable"       // failed: the backend could not be reached
	ReasonInterrupted Reason = "interrupted"       // failed or not run: the run was cancelled
	ReasonOnce        Reason = "once"              // skipped: the once marker was set
	ReasonCheck       Reason = "check"             // skipped: a check said no
	ReasonSuperseded  Reason = "superseded"        // skipped: a newer waiter replaced it in a newest-wins queue
	ReasonDependency  Reason = "dependency_failed" // not run: a dependency failed
	ReasonFailFast    Reason = "fail_fast"         // not run: an earlier failure stopped the run
)

// Outcome classifies a whole run; the CLI maps it to an exit code.
type Outcome int

// Outcomes, from best to worst. When several apply, the worst wins.
const (
	OutcomeSucceeded   Outcome = iota // every instance succeeded or was skipped
	OutcomeFailed                     // an instance failed (exit, timeout, check, evaluation)
	OutcomeLockBusy                   // a lock could not be acquired
	OutcomeUnavailable                // the backend could not be reached
	OutcomeLockLost                   // a lock was lost while its step ran
	OutcomeInterrupted                // the run was cancelled
)

// String returns the outcome's name as shown in run_done events.
func (o Outcome) String() string {
	switch o {
	case OutcomeSucceeded:
		return "succeeded"
	case OutcomeFailed:
		return "failed"
	case OutcomeLockBusy:
		return "lock_busy"
	case OutcomeUnavailable:
		return "unavailable"
	case OutcomeLockLost:
		return "lock_lost"
	case OutcomeInterrupted:
		return "interrupted"
	}
	return "unknown"
}

// InstanceResult is what happened to one step instance.
type InstanceResult struct {
	Address  string // step.NAME or step.NAME["key"]
	Step     string // NAME
	Key      string // the for_each key; "" for a single instance
	Status   string // StatusSucceeded, StatusSkipped, StatusFailed or StatusNotRun
	Reason   Reason
	Message  string // human detail, e.g. who set the once marker
	ExitCode int    // the command's last exit code; -1 when none ran
	Output   string // captured stdout, capped, trailing newline removed
	Attempts int    // command attempts made
	LockWait time.Duration
	Duration time.Duration
	Err      error           // the failure from the world (backend, process)
	Diags    hcl.Diagnostics // evaluation problems
	Busy     *lock.BusyError // set when a lock was busy (holders when we gave up)

	order int // position of the step in the plan, for sorting
}

// OutputValue is an evaluated output block.
type OutputValue struct {
	Name        string
	Description string
	Value       cty.Value // may be marked sensitive; cty.NilVal when Diags has errors
	Sensitive   bool      // declared sensitive, or derived from a sensitive value
	Diags       hcl.Diagnostics
}

// Result is the outcome of a run.
type Result struct {
	RunID     string
	Instances []*InstanceResult // in plan order; for_each instances by key
	Outputs   []OutputValue     // by name
	Diags     hcl.Diagnostics   // run-level problems (locals, variables)
	Outcome   Outcome
	Duration  time.Duration
}

// Failed returns the instances that failed, in plan order.
func (r *Result) Failed() []*InstanceResult {
	var out []*InstanceResult
	for _, in := range r.Instances {
		if in.Status == StatusFailed {
			out = append(out, in)
		}
	}
	return out
}

func outcomeOf(in *InstanceResult) Outcome {
	if in.Status != StatusFailed {
		return OutcomeSucceeded
	}
	switch in.Reason {
	case ReasonLockBusy:
		return OutcomeLockBusy
	case ReasonUnavailable:
		return OutcomeUnavailable
	case ReasonLockLost:
		return OutcomeLockLost
	case ReasonInterrupted:
		return OutcomeInterrupted
	}
	return OutcomeFailed
}
