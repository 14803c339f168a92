package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
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
	Stream  string        `json:"stream,omitempty"`
	Output  *string       `json:"output,omitempty"`
	Attempt int           `json:"attempt,omitempty"`

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
	// signal returns the first SIGINT/SIGTERM received, for run_done's
	// exit_code; nil means none is watched.
	signal func() *os.Signal
}

func newJSONStream(w io.Writer) *jsonStream {
	enc := json.NewEncoder(w)
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
		je.Limit = ev.Limit
		je.WaitedMS = ms(ev.Time.Sub(ev.WaitStart))
	case runner.EventLockAcquired:
		je.Limit = ev.Limit
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
	var sig *os.Signal
	if s.signal != nil {
		sig = s.signal()
	}
	code := exitForOutcome(res.Outcome, sig)
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
	case ev.Type == runner.EventStepRetry || ev.Type == runner.EventLockWait:
		return "warn"
	}
	return "info"
}

// eventMessage is the one-line human sentence for an event, used as the
// human progress line and as @message.
func eventMessage(ev runner.Event, now time.Time) string {
	switch ev.Type {
	case runner.EventRunStart:
		return "Run " + ev.RunID + " started"
	case runner.EventStepStart:
		return ev.Step + ": Starting..."
	case runner.EventLockWait:
		return fmt.Sprintf("%s: Waiting for lock %q, held by %s (waited %s)", ev.Step, ev.Lock,
			holderSummary(ev.Holders), roundAge(now.Sub(ev.WaitStart)))
	case runner.EventLockAcquired:
		return fmt.Sprintf("%s: Acquired lock %q (fencing token %d)", ev.Step, ev.Lock, ev.Fence)
	case runner.EventLockLost:
		return fmt.Sprintf("%s: Lost lock %q; stopping the step", ev.Step, ev.Lock)
	case runner.EventLockReleased:
		return fmt.Sprintf("%s: Released lock %q", ev.Step, ev.Lock)
	case runner.EventStepSkipped:
		return fmt.Sprintf("%s: Skipped: %s", ev.Step, ev.Message)
	case runner.EventStepOutput:
		return ev.Step + ": " + ev.Line
	case runner.EventStepRetry:
		return fmt.Sprintf("%s: Retrying (attempt %d) after: %s", ev.Step, ev.Attempt, ev.Message)
	case runner.EventStepDone:
		return stepDoneMessage(ev)
	case runner.EventRunDone:
		return fmt.Sprintf("Run finished: %s after %s", ev.Status, roundAge(ev.Duration))
	}
	return string(ev.Type)
}

func stepDoneMessage(ev runner.Event) string {
	switch ev.Status {
	case runner.StatusSucceeded:
		return fmt.Sprintf("%s: Succeeded after %s", ev.Step, roundAge(ev.Duration))
	case runner.StatusSkipped:
		return fmt.Sprintf("%s: Skipped after %s", ev.Step, roundAge(ev.Duration))
	case runner.StatusNotRun:
		return fmt.Sprintf("%s: Not run (%s)", ev.Step, strings.ReplaceAll(string(ev.Reason), "_", " "))
	}
	msg := fmt.Sprintf("%s: Failed after %s", ev.Step, roundAge(ev.Duration))
	if ev.Err != nil {
		msg += ": " + ev.Err.Error()
	}
	return msg
}
