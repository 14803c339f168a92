package runner

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

	"github.com/lockstep-dev/lockstep/config"
)

// planWorkflow is the generated workflow of config's BenchmarkLoad and of
// peerbench's workflow scenario: n steps with references, depends_on,
// locks (labelled and not, a semaphore), once, check, retry and for_each.
func planWorkflow(b *testing.B, n int) string {
	var sb strings.Builder
	sb.WriteString(`variable "env" {
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
		fmt.Fprintf(&sb, "step \"s%05d\" {\n", i)
		if i%10 == 5 {
			sb.WriteString(`  for_each = toset(var.nodes)
  lock "node" {
    key = "${local.prefix}/node/${each.key}"
    ttl = "1m"
  }
`)
		}
		fmt.Fprintf(&sb, "  lock {\n    key     = \"${local.prefix}/s%05d\"\n    ttl     = \"30s\"\n    timeout = \"10m\"\n    limit   = 2\n  }\n", i)
		switch {
		case i > 0 && (i-1)%10 == 5:
			fmt.Fprintf(&sb, "  command = [\"echo\", step.s%05d[\"n1\"].output]\n", i-1)
		case i > 0:
			fmt.Fprintf(&sb, "  command = [\"echo\", step.s%05d.status, var.env]\n", i-1)
		default:
			sb.WriteString("  command = [\"echo\", \"start\"]\n")
		}
		if i >= 7 {
			fmt.Fprintf(&sb, "  depends_on = [step.s%05d]\n", i-7)
		}
		if i%4 == 0 {
			fmt.Fprintf(&sb, "  once {\n    key = \"${local.prefix}/done/s%05d\"\n  }\n", i)
			sb.WriteString(`  check {
    condition = var.env != "prod"
  }
  retry {
    attempts = 3
    delay    = "1s"
  }
`)
		}
		sb.WriteString("  timeout = \"5m\"\n}\n")
	}
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkPlanScale measures what plan does before printing — Load, the
// variables, NewPlan, BaseScope, the workflow-level locks and the preview
// of every instance — at 1,000 and 10,000 steps, against the floor of the
// same run: reading and parsing the file with hclsyntax alone.
func BenchmarkPlanScale(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("steps=%d", n), func(b *testing.B) {
			dir := planWorkflow(b, n)
			var plan, floor time.Duration
			var planAlloc, floorAlloc uint64
			for b.Loop() {
				d, a := measured(func() {
					src, err := os.ReadFile(filepath.Join(dir, "main.hcl"))
					if err != nil {
						b.Fatal(err)
					}
					hclsyntax.ParseConfig(src, "main.hcl", hcl.InitialPos)
				})
				floor, floorAlloc = floor+d, floorAlloc+a
				d, a = measured(func() { planOnce(b, dir, n) })
				plan, planAlloc = plan+d, planAlloc+a
			}
			per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) / 1000 }
			b.ReportMetric(per(plan), "plan-ms")
			b.ReportMetric(per(floor), "floor-ms")
			b.ReportMetric(float64(planAlloc)/float64(b.N)/(1<<20), "plan-MB-alloc")
			b.ReportMetric(float64(floorAlloc)/float64(b.N)/(1<<20), "floor-MB-alloc")
			b.ReportMetric(float64(plan)/float64(floor), "plan/floor")
		})
	}
}

func measured(f func()) (time.Duration, uint64) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	f()
	d := time.Since(start)
	runtime.ReadMemStats(&after)
	return d, after.TotalAlloc - before.TotalAlloc
}

func planOnce(b *testing.B, dir string, n int) {
	wf, diags := config.Load(dir, nil)
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	vars, diags := wf.ResolveVariables(config.VariableInputs{})
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	plan, diags := NewPlan(wf, nil)
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	scope, _ := BaseScope(wf, vars, dir, nil)
	plan.PreviewLocks(scope)
	count := 0
	plan.PreviewEach(scope, func(*PreviewInstance) { count++ })
	if count < n {
		b.Fatalf("%d instances", count)
	}
}
