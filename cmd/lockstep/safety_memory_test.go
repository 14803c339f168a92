//go:build linux

package main

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// bombWorkflow doubles a 4 MB file() nine times through locals: about 340
// bytes of HCL that would build a 2 GB string.
const bombWorkflow = `locals {
  a = file("big.txt")
  b = "${local.a}${local.a}"
  c = "${local.b}${local.b}"
  d = "${local.c}${local.c}"
  e = "${local.d}${local.d}"
  f = "${local.e}${local.e}"
  g = "${local.f}${local.f}"
  h = "${local.g}${local.g}"
  i = "${local.h}${local.h}"
  j = "${local.i}${local.i}"
}
step "s" {
  command = ["echo", local.j]
}
`

// bombRSSLimit is the peak RSS allowed to lockstep on the memory bomb: a
// few copies of the largest value a workflow may build, far below the
// gigabytes the bomb asks for.
const bombRSSLimit = 256 << 20

// TestSafety_memoryBomb: expressions cannot make lockstep allocate without
// bound. validate, plan and run stop the doubling with a diagnostic naming
// the limit, exit 2, and stay within bombRSSLimit of peak RSS.
func TestSafety_memoryBomb(t *testing.T) {
	dir := writeWorkflow(t, map[string]string{
		"main.hcl": bombWorkflow,
		"big.txt":  strings.Repeat("x", 4_000_000),
	})
	lockstepBin(t)
	for _, cmd := range []string{"validate", "plan", "run"} {
		start := time.Now()
		code, p := runLockstep(t, dir, nil, cmd, ".")
		took := time.Since(start)
		var rss int64
		if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss = ru.Maxrss << 10 // KiB on Linux
		}
		t.Logf("memory-bomb: lockstep %s exited %d in %s, peak RSS %d MiB: %s", cmd, code, took.Round(time.Millisecond),
			rss>>20, firstLine(p.stderr.String()))
		if code != exitUsage {
			t.Errorf("%s exited %d, want %d\nstderr:\n%.2000s", cmd, code, exitUsage, p.stderr)
		}
		if !strings.Contains(p.stderr.String(), "16 MiB") {
			t.Errorf("%s: want a diagnostic naming the 16 MiB limit\nstderr:\n%.2000s", cmd, p.stderr)
		}
		if rss > bombRSSLimit {
			t.Errorf("%s: peak RSS %d MiB, want at most %d MiB", cmd, rss>>20, bombRSSLimit>>20)
		}
	}
}
