package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/lockstep-dev/lockstep/config"
	"github.com/lockstep-dev/lockstep/runner/supervise"
)

// lockedSteps returns a workflow of n independent steps, each holding its own
// lock and running true.
func lockedSteps(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "step \"s%d\" {\n  lock {\n    key = \"k/%d\"\n  }\n  command = [\"true\"]\n}\n", i, i)
	}
	return b.String()
}

// runFloor runs n `true` processes through supervise.Start, par at a time: the
// steps' own runtime, which the scheduler's overhead is measured against.
func runFloor(b *testing.B, n, par int) {
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			p, err := supervise.Start(supervise.Spec{Argv: []string{"true"}, Env: os.Environ()})
			if err != nil {
				b.Error(err)
				return
			}
			p.Wait()
		}()
	}
	wg.Wait()
}

// BenchmarkRun_200StepsParallel10 measures a 200-step workflow at parallelism
// 10 with one lock per step (local backend), against the floor of running
// the same 200 processes at the same parallelism without lockstep. It reports
// the scheduling overhead per step (target: at most 2 ms).
func BenchmarkRun_200StepsParallel10(b *testing.B) {
	const n = 200
	wf := loadWorkflow(b, lockedSteps(n))
	plan, diags := NewPlan(wf, nil)
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	locker := newTestLocker(b)
	var runTotal, floorTotal time.Duration
	for b.Loop() {
		start := time.Now()
		runFloor(b, n, 10)
		floorTotal += time.Since(start)

		start = time.Now()
		res := New(plan, Options{Locker: locker, Variables: map[string]cty.Value{}, Parallelism: 10}).Run(context.Background())
		runTotal += time.Since(start)
		if res.Outcome != OutcomeSucceeded {
			b.Fatalf("outcome %v", res.Outcome)
		}
	}
	iters := float64(b.N)
	b.ReportMetric(float64(runTotal.Microseconds())/iters/1000, "run-ms")
	b.ReportMetric(float64(floorTotal.Microseconds())/iters/1000, "floor-ms")
	// Wall-clock time the run adds per step, and the same spread over the
	// 10 slots (how much longer each step holds its slot).
	b.ReportMetric(float64((runTotal-floorTotal).Microseconds())/iters/n/1000, "overhead-ms/step")
	b.ReportMetric(float64((runTotal-floorTotal).Microseconds())/iters/n/1000*10, "slot-overhead-ms/step")
}

// chainedSteps returns a workflow of n steps, each holding its own lock,
// running true and depending on the one before (issue 12.5's chain).
func chainedSteps(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "step \"s%d\" {\n  lock {\n    key = \"k/%d\"\n    ttl = \"10s\"\n  }\n  command = [\"true\"]\n", i, i)
		if i > 0 {
			fmt.Fprintf(&b, "  depends_on = [step.s%d]\n", i-1)
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// BenchmarkRun_chain measures a chain of 200 steps, each with one lock and
// depending on the one before (local backend), against the floor of running
// the same 200 processes one after the other without lockstep, measured in
// the same iteration. In a chain nothing overlaps: every step's locking,
// release, events and scheduling add to the wall-clock time. It reports the
// overhead per step (issue 12.5's target: at most 0.5 ms).
func BenchmarkRun_chain(b *testing.B) {
	const n = 200
	wf := loadWorkflow(b, chainedSteps(n))
	plan, diags := NewPlan(wf, nil)
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	// The backend itself, as the CLI uses it: no test counters around it.
	locker := newTestLocker(b).Local
	var runTotal, floorTotal time.Duration
	for b.Loop() {
		start := time.Now()
		runFloor(b, n, 1)
		floorTotal += time.Since(start)

		start = time.Now()
		res := New(plan, Options{Locker: locker, Variables: map[string]cty.Value{}, Parallelism: 10}).Run(context.Background())
		runTotal += time.Since(start)
		if res.Outcome != OutcomeSucceeded {
			b.Fatalf("outcome %v", res.Outcome)
		}
	}
	iters := float64(b.N)
	b.ReportMetric(float64(runTotal.Microseconds())/iters/1000, "run-ms")
	b.ReportMetric(float64(floorTotal.Microseconds())/iters/1000, "floor-ms")
	b.ReportMetric(float64((runTotal-floorTotal).Microseconds())/iters/n/1000, "overhead-ms/step")
}

// generatedWorkflow writes a workflow of n steps with references, locks,
// once blocks and for_each, in chains of 10.
func generatedWorkflow(b *testing.B, n int) string {
	var sb strings.Builder
	sb.WriteString("variable \"env\" {\n  default = \"staging\"\n}\nvariable \"nodes\" {\n  default = [\"a\", \"b\", \"c\"]\n}\n")
	for i := range n {
		fmt.Fprintf(&sb, "step \"s%d\" {\n", i)
		if i%10 != 0 {
			fmt.Fprintf(&sb, "  depends_on = [step.s%d]\n", i-1)
		}
		if i%7 == 0 {
			sb.WriteString("  for_each = toset(var.nodes)\n  lock \"node\" {\n    key = \"node/${each.key}\"\n  }\n")
		}
		fmt.Fprintf(&sb, "  lock {\n    key = \"env/${var.env}/%d\"\n    ttl = \"30s\"\n  }\n", i)
		fmt.Fprintf(&sb, "  once {\n    key = \"done/%d\"\n  }\n", i)
		if i%10 > 1 && (i-2)%7 != 0 {
			fmt.Fprintf(&sb, "  command = [\"echo\", step.s%d.status]\n}\n", i-2)
		} else {
			sb.WriteString("  command = [\"echo\", \"hi\"]\n}\n")
		}
	}
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkPlan_1000Steps loads, validates and plans (with the preview plan
// shows) a generated 1,000-step workflow. Target: under 200 ms.
func BenchmarkPlan_1000Steps(b *testing.B) {
	dir := generatedWorkflow(b, 1000)
	for b.Loop() {
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
		if got := len(plan.Preview(scope)); got < 1000 {
			b.Fatalf("%d instances", got)
		}
	}
}

// BenchmarkPlan_1000StepsPlanOnly is the runner's share of the above: NewPlan
// and Preview of an already loaded 1,000-step workflow.
func BenchmarkPlan_1000StepsPlanOnly(b *testing.B) {
	dir := generatedWorkflow(b, 1000)
	wf, diags := config.Load(dir, nil)
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	vars, _ := wf.ResolveVariables(config.VariableInputs{})
	for b.Loop() {
		plan, diags := NewPlan(wf, nil)
		if diags.HasErrors() {
			b.Fatal(diags.Error())
		}
		scope, _ := BaseScope(wf, vars, dir, nil)
		plan.Preview(scope)
	}
}
