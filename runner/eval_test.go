package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/lockstep-dev/lockstep/config"
	"github.com/lockstep-dev/lockstep/lock"
)

// TestDefaults_comeFromTheTable: the defaults the runner uses are the Go
// values of the attribute tables, the same ones plan shows.
func TestDefaults_comeFromTheTable(t *testing.T) {
	if d := config.LockSchema.Attr("ttl").Default; d != lock.DefaultTTL {
		t.Errorf("lock ttl default %v, lock.DefaultTTL %v", d, lock.DefaultTTL)
	}
	if d := config.StepSchema.Attr("kill_timeout").Default; d != DefaultKillTimeout {
		t.Errorf("kill_timeout default %v, DefaultKillTimeout %v", d, DefaultKillTimeout)
	}
	if string(lock.Exclusive) != config.LockSchema.Attr("mode").Default || string(lock.FIFO) != config.LockSchema.Attr("queue").Default {
		t.Error("mode/queue defaults differ from the lock package's")
	}
	for _, m := range config.ModeValues {
		if lock.Mode(m) != lock.Exclusive && lock.Mode(m) != lock.Shared {
			t.Errorf("mode %q is not a lock.Mode", m)
		}
	}
	for _, q := range config.QueueValues {
		if lock.Policy(q) != lock.FIFO && lock.Policy(q) != lock.Newest {
			t.Errorf("queue %q is not a lock.Policy", q)
		}
	}
}

const locksWorkflow = `
variable "env" { default = "staging" }

lock "environment" {
  key         = "deploy/${var.env}"
  timeout     = "30m"
  queue       = "newest"
  max_waiters = 3
  steps       = [step.deploy]
}

lock "run" {
  key  = "pipeline/${var.env}"
  mode = "shared"
}

step "deploy" {
  lock "db" {
    key         = "db/${var.env}"
    mode        = "shared"
    queue       = "newest"
    max_waiters = 2
    on_busy     = "fail"
  }
  command = ["echo", lock.environment.key, lock.environment.fencing_token]
}

step "other" { command = ["true"] }
`

// TestEvalWorkflowLock: the API the runner uses for workflow-level locks.
func TestEvalWorkflowLock(t *testing.T) {
	wf := loadWorkflow(t, locksWorkflow)
	scope, diags := BaseScope(wf, map[string]cty.Value{"env": cty.StringVal("prod")}, "/", nil)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	to := time.Minute
	specs, diags := EvalWorkflowLocks(scope, wf, &to)
	if diags.HasErrors() || len(specs) != 2 {
		t.Fatalf("%v %v", specs, diags)
	}
	env, run := specs[0], specs[1]
	if env.Name != "environment" || env.Key != "deploy/prod" || env.TTL != lock.DefaultTTL || env.Wait != time.Minute ||
		env.Queue != lock.Newest || env.MaxWaiters != 3 || env.Mode != lock.Exclusive || env.Limit != 1 ||
		strings.Join(env.Steps, ",") != "deploy" {
		t.Errorf("environment: %+v", env)
	}
	if run.Name != "run" || run.Mode != lock.Shared || run.Queue != lock.FIFO || run.Wait != time.Minute ||
		strings.Join(run.Steps, ",") != "deploy,other" {
		t.Errorf("run: %+v", run)
	}
	req := env.Request(lock.Holder{Owner: "me"})
	if req.Key != "deploy/prod" || req.Queue != lock.Newest || req.MaxWaiters != 3 || req.Holder.Owner != "me" {
		t.Errorf("request %+v", req)
	}
	if _, diags := EvalWorkflowLock(scope, wf, "nope", nil); !diags.HasErrors() {
		t.Error("unknown lock evaluated")
	}
	// The step's lock passes mode, queue and max_waiters on; lock.NAME.*
	// is what the runner sets once the lock is held.
	scope.Locks["environment"] = config.LockValue("deploy/prod", 42)
	spec, diags := evalInstance(scope, wf.Steps["deploy"], nil)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	l := spec.Locks[0]
	if l.Mode != lock.Shared || l.Queue != lock.Newest || l.MaxWaiters != 2 || l.Wait != 0 || l.OnBusy != "fail" {
		t.Errorf("step lock %+v", l)
	}
	if strings.Join(spec.Argv, " ") != "echo deploy/prod 42" {
		t.Errorf("argv %q", spec.Argv)
	}
}

// TestPreview_workflowLocks: plan's preview lists the workflow-level locks
// with their scope and says what waits on their acquisition.
func TestPreview_workflowLocks(t *testing.T) {
	wf := loadWorkflow(t, locksWorkflow)
	plan, _ := NewPlan(wf, nil)
	scope, _ := BaseScope(wf, map[string]cty.Value{"env": cty.StringVal("prod")}, "/", nil)
	locks, diags := plan.PreviewLocks(scope)
	if diags.HasErrors() || len(locks) != 2 {
		t.Fatalf("%v %v", locks, diags)
	}
	if locks[0].Key().Raw != "deploy/prod" || strings.Join(locks[0].Steps, ",") != "deploy" || locks[1].Steps != nil {
		t.Errorf("locks %+v", locks)
	}
	if q := locks[0].Attrs.Get("queue"); !q.Set || q.Value.Text != `"newest"` {
		t.Errorf("queue %+v", q)
	}
	if m := locks[0].Attrs.Get("mode"); m.Set || m.Value.Text != `"exclusive"` || !m.Quiet {
		t.Errorf("mode default %+v", m)
	}
	var deploy *PreviewInstance
	for _, pi := range plan.Preview(scope) {
		if pi.Step == "deploy" {
			deploy = pi
		}
	}
	if got := deploy.Command.String(); got != "(known after lock.environment is acquired)" {
		t.Errorf("command %s", got)
	}
	if strings.Join(deploy.WorkflowLocks, ",") != "environment,run" {
		t.Errorf("within %v", deploy.WorkflowLocks)
	}
}

// TestFormatValue_sameAsJSON: the direct writer renders as cty's JSON
// encoding does (keys sorted, numbers in full, no HTML escaping).
func TestFormatValue_sameAsJSON(t *testing.T) {
	v := cty.ObjectVal(map[string]cty.Value{
		"b": cty.ListVal([]cty.Value{cty.NumberFloatVal(1.5), cty.NumberIntVal(12345678901234)}),
		"a": cty.MapVal(map[string]cty.Value{"z": cty.True, "y": cty.NullVal(cty.Bool)}),
		"c": cty.TupleVal([]cty.Value{cty.StringVal("<&>\n"), cty.SetVal([]cty.Value{cty.StringVal("x")})}),
	})
	want := `{"a":{"y":null,"z":true},"b":[1.5,12345678901234],"c":["<&>\n",["x"]]}`
	if got := FormatValue(v); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestPreviewEach_parallelInOrder: PreviewEach evaluates instances several
// at a time (previewBatch) and still hands them out in plan order, each
// with its own values; under -race it also proves the evaluations share no
// unguarded state (functions with caches, for_each copies of the scope).
func TestPreviewEach_parallelInOrder(t *testing.T) {
	var b strings.Builder
	b.WriteString("locals {\n  nodes = [\"a\", \"b\", \"c\"]\n  p     = upper(\"wf\")\n}\n")
	const n = 3 * previewBatch
	for i := range n {
		fmt.Fprintf(&b, "step \"s%03d\" {\n", i)
		if i%5 == 0 {
			b.WriteString("  for_each = toset(local.nodes)\n  command = [\"echo\", each.key]\n")
			fmt.Fprintf(&b, "  lock {\n    key = \"${local.p}/%d/${each.key}\"\n  }\n", i)
		} else {
			fmt.Fprintf(&b, "  command = [\"echo\", format(\"%%s-%%03d\", local.p, %d), file(\"${path.root}/x.txt\")]\n", i)
			fmt.Fprintf(&b, "  lock {\n    key = \"${local.p}/%d\"\n  }\n", i)
		}
		if i > 0 {
			fmt.Fprintf(&b, "  depends_on = [step.s%03d]\n", i-1)
		}
		b.WriteString("}\n")
	}
	dir := t.TempDir()
	for name, text := range map[string]string{"main.hcl": b.String(), "x.txt": "x"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wf, diags := config.Load(dir, nil)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	plan, _ := NewPlan(wf, nil)
	scope, _ := BaseScope(wf, nil, dir, nil)
	var got []string
	plan.PreviewEach(scope, func(pi *PreviewInstance) {
		if pi.Diags.HasErrors() {
			t.Fatalf("%s: %s", pi.Address, pi.Diags.Error())
		}
		got = append(got, pi.Address+" "+pi.Locks[0].Key().Raw+" "+pi.Command.Text)
	})
	var want []string
	for i := range n {
		if i%5 == 0 {
			for _, k := range []string{"a", "b", "c"} {
				want = append(want, fmt.Sprintf(`step.s%03d["%s"] WF/%d/%s ["echo","%s"]`, i, k, i, k, k))
			}
			continue
		}
		want = append(want, fmt.Sprintf(`step.s%03d WF/%d ["echo","WF-%03d","x"]`, i, i, i))
	}
	if !slices.Equal(got, want) {
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Fatalf("instance %d: got %s, want %s (%d instances, want %d)", i, got[i], want[i], len(got), len(want))
			}
		}
		t.Fatalf("%d instances, want %d", len(got), len(want))
	}
}
