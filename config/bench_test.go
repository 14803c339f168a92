package config

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// GenerateWorkflow returns an n-step workflow source using references,
// depends_on, locks (labelled and not), once, check, retry and for_each.
func generateWorkflow(n int) string {
	var b strings.Builder
	b.WriteString(`variable "env" {
  type    = string
  default = "staging"
}
variable "nodes" {
  type    = list(string)
  default = ["n1", "n2", "n3"]
}
locals {
  prefix = "wf/${var.env}"
}
`)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "step \"s%04d\" {\n", i)
		if i%10 == 5 {
			b.WriteString("  for_each = toset(var.nodes)\n")
			fmt.Fprintf(&b, "  lock \"node\" {\n    key = \"${local.prefix}/node/${each.key}\"\n    ttl = \"1m\"\n  }\n")
		}
		fmt.Fprintf(&b, "  lock {\n    key     = \"${local.prefix}/s%04d\"\n    ttl     = \"30s\"\n    timeout = \"10m\"\n    limit   = 2\n  }\n", i)
		switch {
		case i > 0 && (i-1)%10 == 5:
			fmt.Fprintf(&b, "  command = [\"echo\", step.s%04d[\"n1\"].output]\n", i-1)
		case i > 0:
			fmt.Fprintf(&b, "  command = [\"echo\", step.s%04d.status, var.env]\n", i-1)
		default:
			b.WriteString("  command = [\"echo\", \"start\"]\n")
		}
		if i >= 7 {
			fmt.Fprintf(&b, "  depends_on = [step.s%04d]\n", i-7)
		}
		if i%4 == 0 {
			fmt.Fprintf(&b, "  once {\n    key = \"${local.prefix}/done/s%04d\"\n  }\n", i)
			b.WriteString("  check {\n    condition = var.env != \"prod\"\n  }\n")
			b.WriteString("  retry {\n    attempts = 3\n    delay    = \"1s\"\n  }\n")
		}
		b.WriteString("  timeout = \"5m\"\n}\n")
	}
	return b.String()
}

func writeGenerated(tb testing.TB, n int) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(generateWorkflow(n)), 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir
}

func TestGeneratedWorkflowIsValid(t *testing.T) {
	dir := writeGenerated(t, 1000)
	w, diags := Load(dir, nil)
	if len(diags) > 0 {
		t.Fatal(diags.Error())
	}
	order := w.Order()
	if len(order) != 1000 || order[0] != "s0000" || order[999] != "s0999" {
		t.Fatalf("order has %d steps: %v…", len(order), order[:3])
	}
	if got := w.Dependencies("s0010"); len(got) != 2 || got[0] != "s0003" || got[1] != "s0009" {
		t.Fatalf("Dependencies(s0010) = %v", got)
	}
}

// BenchmarkLoad measures Load (read, parse, decode and every static check,
// including evaluation against unknowns: what validate does) of generated
// 1,000- and 10,000-step workflows, and in the same run the floor: reading
// and parsing the same file with hclsyntax alone, no decoding or checks.
// It reports both per operation (ms, MB allocated) and load/floor.
func BenchmarkLoad(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("steps=%d", n), func(b *testing.B) {
			dir := writeGenerated(b, n)
			var load, floor measure
			for b.Loop() {
				floor.run(func() { parseFloor(b, dir) })
				load.run(func() {
					if _, diags := Load(dir, nil); diags.HasErrors() {
						b.Fatal(diags.Error())
					}
				})
			}
			load.report(b, "load")
			floor.report(b, "floor")
			b.ReportMetric(float64(load.d)/float64(floor.d), "load/floor")
		})
	}
}

// BenchmarkParseFloor is the floor of BenchmarkLoad on its own, at 1,000
// steps.
func BenchmarkParseFloor(b *testing.B) {
	dir := writeGenerated(b, 1000)
	b.ReportAllocs()
	for b.Loop() {
		parseFloor(b, dir)
	}
}

func parseFloor(b *testing.B, dir string) {
	src, err := os.ReadFile(filepath.Join(dir, "main.hcl"))
	if err != nil {
		b.Fatal(err)
	}
	if _, diags := hclsyntax.ParseConfig(src, "main.hcl", hcl.InitialPos); diags.HasErrors() {
		b.Fatal(diags.Error())
	}
}

// measure adds up the time and the bytes allocated by the runs of one part
// of a benchmark.
type measure struct {
	d     time.Duration
	alloc uint64
	n     int
}

func (m *measure) run(f func()) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	f()
	m.d += time.Since(start)
	runtime.ReadMemStats(&after)
	m.alloc += after.TotalAlloc - before.TotalAlloc
	m.n++
}

func (m *measure) report(b *testing.B, name string) {
	b.ReportMetric(float64(m.d.Microseconds())/float64(m.n)/1000, name+"-ms")
	b.ReportMetric(float64(m.alloc)/float64(m.n)/(1<<20), name+"-MB-alloc")
}
