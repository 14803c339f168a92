package runner

import (
	"fmt"
	"strings"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
)

// How a step's outcome names the locks, holders and markers involved: as they
// may be shown (sensitive keys replaced).

// redactDeadlock returns a copy of d whose keys name this instance's
// sensitive keys as they may be shown.
func (sr *stepRun) redactDeadlock(d *lock.DeadlockError) *lock.DeadlockError {
	shown := func(key string) string {
		for _, ls := range sr.spec.Locks {
			if ls.Key == key {
				return sr.r.keyText(ls)
			}
		}
		return key
	}
	c := &lock.DeadlockError{Key: shown(d.Key)}
	for _, e := range d.Cycle {
		e.Holds, e.WaitsFor = shown(e.Holds), shown(e.WaitsFor)
		c.Cycle = append(c.Cycle, e)
	}
	return c
}

// redactBusy returns a copy of b that names the key as it may be shown.
func redactBusy(b *lock.BusyError, shown string) *lock.BusyError {
	c := *b
	c.Key = shown
	return &c
}

// heldBy renders ", held by alice@host (pid 42, step.x)" for a skip message.
func heldBy(holders []lock.Holder) string {
	if len(holders) == 0 {
		return ""
	}
	var parts []string
	for _, h := range holders {
		parts = append(parts, DescribeHolder(h, time.Now()))
	}
	return ", held by " + strings.Join(parts, "; ")
}

// DescribeHolder renders a holder as "alice@host, pid 42, step.x, for 2m10s".
func DescribeHolder(h lock.Holder, now time.Time) string {
	parts := []string{h.Owner}
	if h.Owner == "" {
		parts[0] = "unknown holder"
	}
	if h.PID != 0 {
		parts = append(parts, fmt.Sprintf("pid %d", h.PID))
	}
	if h.Step != "" {
		parts = append(parts, h.Step)
	}
	if !h.Since.IsZero() {
		parts = append(parts, "for "+now.Sub(h.Since).Round(time.Second).String())
	}
	if h.Info != "" {
		parts = append(parts, h.Info)
	}
	return strings.Join(parts, ", ")
}

func describeOnce(rec *lock.OnceRecord) string {
	who := rec.Owner
	if who == "" {
		who = "another run"
	}
	if rec.Step != "" {
		who += " (" + rec.Step + ")"
	}
	return who + " at " + rec.At.Local().Format(time.RFC3339)
}
