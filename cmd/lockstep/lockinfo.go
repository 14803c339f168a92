package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/runner"
)

// writeLockInfo prints a Terraform-style lock-info block for key: one section
// per holder with owner (user@host), pid, run id, step, workflow, info, since
// and TTL left. Empty fields are left out. It never prints a token (a Holder
// has none). Every field is escaped (safeText): other machines wrote them.
func writeLockInfo(w io.Writer, key string, holders []lock.Holder) {
	writeLockInfoQueue(w, key, holders, nil)
}

// writeLockInfoQueue is writeLockInfo followed by the waiters in line, in
// order, each with its holder information.
func writeLockInfoQueue(w io.Writer, key string, holders []lock.Holder, queue []lock.Waiter) {
	var b strings.Builder
	b.WriteString("Lock Info:\n")
	row(&b, "Key", key)
	if len(holders) == 0 {
		row(&b, "Holder", "(none: the lock is free)")
	}
	for i, h := range holders {
		if len(holders) > 1 {
			fmt.Fprintf(&b, "  Holder %d of %d:\n", i+1, len(holders))
		}
		writeHolder(&b, h, time.Now())
	}
	for i, q := range queue {
		pos := q.Position
		if pos == 0 {
			pos = i + 1
		}
		fmt.Fprintf(&b, "  Waiter %d of %d:\n", pos, len(queue))
		writeHolder(&b, q.Holder, time.Now())
	}
	io.WriteString(w, b.String())
}

func writeHolder(b *strings.Builder, h lock.Holder, now time.Time) {
	row(b, "Holder", h.Owner)
	if h.PID != 0 {
		row(b, "PID", strconv.Itoa(h.PID))
	}
	row(b, "Run ID", h.RunID)
	row(b, "Step", h.Step)
	row(b, "Workflow", h.Workflow)
	row(b, "Info", h.Info)
	if !h.Since.IsZero() {
		row(b, "Since", fmt.Sprintf("%s (%s ago)", h.Since.UTC().Format(time.RFC3339), roundAge(now.Sub(h.Since))))
	}
	if h.TTL > 0 { // the local backend has no TTL: a lease lives as long as its process
		row(b, "TTL left", roundAge(h.TTL))
	}
	if h.Mode == lock.Shared {
		row(b, "Mode", string(h.Mode))
	}
	if h.Fence != 0 {
		row(b, "Fence", strconv.FormatInt(h.Fence, 10))
	}
}

func row(b *strings.Builder, name, value string) {
	if value != "" {
		fmt.Fprintf(b, "  %-9s %s\n", name+":", safeText(value))
	}
}

// roundAge rounds d for display: whole seconds, or milliseconds below 10s.
func roundAge(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	if d < 10*time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// holderSummary is a one-line description of who holds a lock, as in
// "alice@bastion-2, pid 4211, step.failover, for 2m10s", in the same words as
// the runner's skip messages (runner.DescribeHolder), escaped (safeText).
func holderSummary(holders []lock.Holder) string {
	if len(holders) == 0 {
		return "nobody"
	}
	now := time.Now()
	parts := make([]string, len(holders))
	for i, h := range holders {
		parts[i] = safeText(runner.DescribeHolder(h, now))
	}
	return strings.Join(parts, "; ")
}
