package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/lockstep-dev/lockstep/config"
	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/runner"
)

// jsonTime is the @timestamp layout (Terraform's machine-readable UI uses the
// same: RFC 3339 with microseconds).
const jsonTime = "2006-01-02T15:04:05.000000Z07:00"

// jsonEvent is one line of the -json stream. docs/events.md documents it;
// keep the two in step.
type jsonEvent struct {
	Timestamp string `json:"@timestamp"`
	Level     string `json:"@level"`
	Message   string `json:"@message"`
	Type      string `json:"type"`
	RunID     string `json:"run_id,omitempty"`

	Step    string        `json:"step,omitempty"`
	Lock    string        `json:"lock,omitempty"`
	Label   string        `json:"label,omitempty"`
	Status  string        `json:"status,omitempty"`
	Reason  string        `json:"reason,omitempty"`
	Holders []lock.Holder `json:"holders,omitempty"`
	Fence   int64         `json:"fence,omitempty"`
	Limit   int           `json:"limit,omitempty"`
	// Position and Length: lock_wait's place in line (1 = next) and the
	// waiters in line, when the backend says.
	Position int     `json:"position,omitempty"`
	Length   int     `json:"length,omitempty"`
	Stream   string  `json:"stream,omitempty"`
	Output   *string `json:"output,omitempty"`
	Attempt  int     `json:"attempt,omitempty"`

	// UnconfirmedMS and LeftMS: lock_renew_failed's (and a lock_lost's
	// after failed renewals) time since the backend last confirmed the
	// lease, and the lease's local validity left.
	UnconfirmedMS *int64 `json:"unconfirmed_ms,omitempty"`
	LeftMS        *int64 `json:"left_ms,omitempty"`

	ExitCode   *int   `json:"exit_code,omitempty"`
	WaitedMS   *int64 `json:"waited_ms,omitempty"`
	LockWaitMS *int64 `json:"lock_wait_ms,omitempty"`
	DurationMS *int64 `json:"duration_ms,omitempty"`
	Error      string `json:"error,omitempty"`

	Diagnostic *jsonDiagnostic      `json:"diagnostic,omitempty"`
	Steps      []jsonStepResult     `json:"steps,omitempty"`
	Outputs    map[string]jsonValue `json:"outputs,omitempty"`
}

type jsonStepResult struct {
	Step       string `json:"step"`
	Status     string `json:"status"`
	Reason     string `json:"reason,omitempty"`
	ExitCode   int    `json:"exit_code"`
	LockWaitMS int64  `json:"lock_wait_ms"`
	DurationMS int64  `json:"duration_ms"`
}

type jsonValue struct {
	Sensitive bool            `json:"sensitive"`
	Value     json.RawMessage `json:"value,omitempty"`
}

// jsonStream writes events as JSON lines; it is safe for concurrent use.
type jsonStream struct {
	mu  sync.Mutex
	enc *json.Encoder
	// exitFor gives run_done's exit_code for an outcome (the process's exit
	// code, 128+n after a stop signal); nil means exitCode(outcomeErr(o)).
	exitFor func(runner.Outcome) int
}

func newJSONStream(w io.Writer) *jsonStream {
	enc := json.NewEncoder(safeJSONWriter{w})
	enc.SetEscapeHTML(false)
	return &jsonStream{enc: enc}
}

func (s *jsonStream) write(ev *jsonEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ev.Timestamp == "" {
		ev.Timestamp = time.Now().Format(jsonTime)
	}
	if ev.Level == "" {
		ev.Level = "info"
	}
	s.enc.Encode(ev) // a broken stdout cannot be reported anywhere better
}

// diagnostics writes each diagnostic as a "diagnostic" event.
func (s *jsonStream) diagnostics(wf *config.Workflow, diags hcl.Diagnostics) {
	var files map[string]*hcl.File
	if wf != nil {
		files = wf.Files
	}
	for _, d := range diags {
		jd := newJSONDiagnostic(d, files)
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		s.write(&jsonEvent{Type: "diagnostic", Level: jd.Severity, Message: msg, Diagnostic: &jd})
	}
}

// errorEvent writes a failure that is not about the workflow's source (e.g. the
// backend cannot be opened) as a diagnostic without a range.
func (s *jsonStream) errorEvent(err error) {
	s.write(&jsonEvent{Type: "diagnostic", Level: "error", Message: err.Error(),
		Diagnostic: &jsonDiagnostic{Severity: "error", Summary: err.Error()}})
}

// event converts a runner event into its JSON line.
func (s *jsonStream) event(ev runner.Event) {
	je := &jsonEvent{Timestamp: ev.Time.Format(jsonTime), Type: string(ev.Type), Message: eventMessage(ev, ev.Time),
		RunID: ev.RunID, Step: ev.Step, Lock: ev.Lock, Label: ev.Label, Status: ev.Status, Reason: string(ev.Reason),
		Holders: ev.Holders, Fence: ev.Fence, Attempt: ev.Attempt, Level: eventLevel(ev)}
	switch ev.Type {
	case runner.EventLockWait:
		je.Limit, je.Position, je.Length = ev.Limit, ev.Position, ev.Length
		je.WaitedMS = ms(ev.Time.Sub(ev.WaitStart))
	case runner.EventLockAcquired:
		je.Limit = ev.Limit
	case runner.EventLockRenewFailed, runner.EventLockLost:
		renewTroubleJSON(je, ev)
	case runner.EventStepOutput:
		je.Stream, je.Output = ev.Stream, &ev.Line
	case runner.EventStepDone:
		je.ExitCode, je.LockWaitMS, je.DurationMS = &ev.ExitCode, ms(ev.LockWait), ms(ev.Duration)
		if ev.Err != nil {
			je.Error = ev.Err.Error()
		}
	case runner.EventRunDone:
		je.DurationMS = ms(ev.Duration)
		s.summary(je, ev.Result)
	}
	s.write(je)
}

func (s *jsonStream) summary(je *jsonEvent, res *runner.Result) {
	if res == nil {
		return
	}
	code := exitCode(outcomeErr(res.Outcome))
	if s.exitFor != nil {
		code = s.exitFor(res.Outcome)
	}
	je.ExitCode = &code
	for _, in := range res.Instances {
		je.Steps = append(je.Steps, jsonStepResult{Step: in.Address, Status: in.Status, Reason: string(in.Reason),
			ExitCode: in.ExitCode, LockWaitMS: in.LockWait.Milliseconds(), DurationMS: in.Duration.Milliseconds()})
	}
	for _, o := range res.Outputs {
		if je.Outputs == nil {
			je.Outputs = map[string]jsonValue{}
		}
		jv := jsonValue{Sensitive: o.Sensitive}
		if !o.Sensitive && o.Value != cty.NilVal && o.Value.IsWhollyKnown() {
			if b, err := ctyjson.Marshal(o.Value, o.Value.Type()); err == nil {
				jv.Value = b
			}
		}
		je.Outputs[o.Name] = jv
	}
}

// renewTroubleJSON fills the fields of lock_renew_failed, and of a lock_lost
// that failed renewals preceded (lossCauses): error, unconfirmed_ms and, for
// lock_renew_failed, left_ms.
func renewTroubleJSON(je *jsonEvent, ev runner.Event) {
	if ev.Err == nil {
		return
	}
	je.Error, je.UnconfirmedMS = ev.Err.Error(), ms(ev.Unconfirmed)
	if ev.Type == runner.EventLockRenewFailed {
		je.LeftMS = ms(ev.Left)
	}
}

func ms(d time.Duration) *int64 {
	v := d.Milliseconds()
	return &v
}

func eventLevel(ev runner.Event) string {
	switch {
	case ev.Type == runner.EventLockLost:
		return "error"
	case ev.Type == runner.EventStepDone && ev.Status == runner.StatusFailed:
		return "error"
	case ev.Type == runner.EventRunDone && ev.Status != "succeeded":
		return "error"
	case ev.Type == runner.EventStepRetry || ev.Type == runner.EventLockWait || ev.Type == runner.EventLockRenewFailed:
		return "warn"
	}
	return "info"
}

// eventMessage is the one-line human sentence for an event, used as the
// human progress line and as @message. Text that may come from other
// machines (holders, keys, skip messages) is escaped: the sentence is safe to
// print on a terminal.
func eventMessage(ev runner.Event, now time.Time) string {
	step := safeText(ev.Step) + ": "
	if ev.Step == "" {
		step = "" // exec
	}
	switch ev.Type {
	case runner.EventRunStart:
		return "Run " + ev.RunID + " started"
	case runner.EventStepStart:
		return step + "Starting..."
	case runner.EventLockWait:
		return fmt.Sprintf("%sWaiting for %s%q, held by %s (%swaited %s)", step, lockNoun(ev), ev.Lock,
			holderSummary(ev.Holders), inLine(ev.Position, ev.Length), roundAge(now.Sub(ev.WaitStart)))
	case runner.EventLockAcquired:
		return fmt.Sprintf("%sAcquired %s%q (fencing token %d)", step, lockNoun(ev), ev.Lock, ev.Fence)
	case runner.EventLockRenewFailed:
		return renewFailedMessage(step, ev)
	case runner.EventLockRenewRecovered:
		return fmt.Sprintf("%sLock %q renewed again; kept", step, ev.Lock)
	case runner.EventLockLost:
		if runner.IsLockAddress(ev.Step) {
			return lockLostMessage(step, "the steps in its scope", ev)
		}
		return lockLostMessage(step, "the step", ev)
	case runner.EventLockReleased:
		return fmt.Sprintf("%sReleased %s%q", step, lockNoun(ev), ev.Lock)
	case runner.EventStepSkipped:
		return step + "Skipped: " + safeText(ev.Message)
	case runner.EventStepOutput:
		return step + ev.Line
	case runner.EventStepRetry:
		return fmt.Sprintf("%sRetrying (attempt %d) after: %s", step, ev.Attempt, safeText(ev.Message))
	case runner.EventStepDone:
		return step + stepDoneMessage(ev)
	case runner.EventRunDone:
		return fmt.Sprintf("Run finished: %s after %s", ev.Status, roundAge(ev.Duration))
	}
	return string(ev.Type)
}

// lockNoun is "lock " before a lock's key, or "" when the event is about a
// workflow-level lock, whose address already says it
// (lock.environment: Acquired "deploy/staging").
func lockNoun(ev runner.Event) string {
	if runner.IsLockAddress(ev.Step) {
		return ""
	}
	return "lock "
}

// inLine renders a waiter's place: "2nd of 5 in line, ", or "" when the
// backend did not say.
func inLine(pos, length int) string {
	if pos <= 0 {
		return ""
	}
	if length < pos {
		return ordinal(pos) + " in line, "
	}
	return fmt.Sprintf("%s of %d in line, ", ordinal(pos), length)
}

// ordinal is 1st, 2nd, 3rd, 4th, …, 11th, 12th, 13th, 21st, ….
func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return strconv.Itoa(n) + suffix
}

// stepDoneMessage says how a step ended; its run time and its lock wait are
// given apart ("Succeeded after 20s (waited 41s for locks)").
func stepDoneMessage(ev runner.Event) string {
	took := roundAge(runTime(ev.Duration, ev.LockWait))
	waited := ""
	if ev.LockWait >= time.Millisecond {
		waited = " (waited " + roundAge(ev.LockWait) + " for locks)"
	}
	switch ev.Status {
	case runner.StatusSucceeded:
		return "Succeeded after " + took + waited
	case runner.StatusSkipped:
		return "Skipped after " + took + waited
	case runner.StatusNotRun:
		return fmt.Sprintf("Not run (%s)", strings.ReplaceAll(string(ev.Reason), "_", " "))
	}
	msg := "Failed after " + took + waited
	if ev.Err != nil {
		msg += ": " + safeText(ev.Err.Error())
	}
	return msg
}
