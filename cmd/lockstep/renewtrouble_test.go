package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/runner"
)

// renewFailed is a lock_renew_failed event whose cause holds text.
func renewFailed(at time.Time, text string) runner.Event {
	return runner.Event{Type: runner.EventLockRenewFailed, Time: at, Step: "step.deploy", Lock: "deploy/prod",
		Unconfirmed: 1500 * time.Millisecond, Left: 1200 * time.Millisecond,
		Err: fmt.Errorf("renew %q: %w: %s", "deploy/prod", lock.ErrUnavailable, text)}
}

// TestRenewTrouble_humanLines: the warning gives the time unconfirmed, the
// cause without the words the line says already, and the time left; a
// backend's hostile text is escaped; the loss that follows names the cause.
func TestRenewTrouble_humanLines(t *testing.T) {
	at := time.Now()
	ev := renewFailed(at, "dial tcp 10.0.0.1:6379: connect: connection refused")
	want := `step.deploy: Lock "deploy/prod" not renewed for 1.5s (dial tcp 10.0.0.1:6379: connect: connection refused); lost in 1.2s unless the backend answers`
	if got := eventMessage(ev, at); got != want {
		t.Errorf("warning:\n got %s\nwant %s", got, want)
	}
	hostileEv := renewFailed(at, hostile)
	if bad := rawControls(eventMessage(hostileEv, at)); len(bad) > 0 {
		t.Errorf("the warning prints a backend's text raw: %v", bad)
	}

	causes := lossCauses{}
	causes.note(&ev)
	lost := runner.Event{Type: runner.EventLockLost, Time: at.Add(1200 * time.Millisecond), Step: "step.deploy", Lock: "deploy/prod"}
	causes.note(&lost)
	want = `step.deploy: Lost lock "deploy/prod"; stopping the step: not renewed for 2.7s (dial tcp 10.0.0.1:6379: connect: connection refused)`
	if got := eventMessage(lost, lost.Time); got != want {
		t.Errorf("loss:\n got %s\nwant %s", got, want)
	}

	// After a recovery, a later loss (the key deleted) has no renewal cause.
	causes.note(&hostileEv)
	recovered := runner.Event{Type: runner.EventLockRenewRecovered, Step: "step.deploy", Lock: "deploy/prod"}
	causes.note(&recovered)
	if got, want := eventMessage(recovered, at), `step.deploy: Lock "deploy/prod" renewed again; kept`; got != want {
		t.Errorf("recovery: %q, want %q", got, want)
	}
	bare := runner.Event{Type: runner.EventLockLost, Step: "step.deploy", Lock: "deploy/prod"}
	causes.note(&bare)
	if got, want := eventMessage(bare, at), `step.deploy: Lost lock "deploy/prod"; stopping the step`; got != want {
		t.Errorf("loss after a recovery: %q, want %q", got, want)
	}
}

// TestRenewTrouble_json: lock_renew_failed carries the exact error (JSON
// escapes it), unconfirmed_ms and left_ms at level warn; the loss after it
// carries the same error.
func TestRenewTrouble_json(t *testing.T) {
	var buf bytes.Buffer
	s := newJSONStream(&buf)
	at := time.Now()
	ev := renewFailed(at, "conn \x1b[2J refused")
	causes := lossCauses{}
	causes.note(&ev)
	s.event(ev)
	lost := runner.Event{Type: runner.EventLockLost, Time: at.Add(time.Second), Step: "step.deploy", Lock: "deploy/prod"}
	causes.note(&lost)
	s.event(lost)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines: %s", len(lines), buf.String())
	}
	var got [2]map[string]any
	for i, l := range lines {
		if err := json.Unmarshal([]byte(l), &got[i]); err != nil {
			t.Fatalf("line %d: %v: %s", i, err, l)
		}
	}
	wantErr := `renew "deploy/prod": lock backend unavailable: conn ` + "\x1b" + `[2J refused`
	w, l := got[0], got[1]
	if w["type"] != "lock_renew_failed" || w["@level"] != "warn" || w["error"] != wantErr ||
		w["unconfirmed_ms"] != 1500.0 || w["left_ms"] != 1200.0 || w["step"] != "step.deploy" || w["lock"] != "deploy/prod" {
		t.Errorf("lock_renew_failed: %s", lines[0])
	}
	if l["type"] != "lock_lost" || l["@level"] != "error" || l["error"] != wantErr || l["unconfirmed_ms"] != 2500.0 || l["left_ms"] != nil {
		t.Errorf("lock_lost: %s", lines[1])
	}
	if strings.Contains(lines[0], "\x1b") {
		t.Errorf("raw ESC in a JSON line: %q", lines[0])
	}
}
