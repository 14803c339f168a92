package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// writeFiles writes name→content files into a fresh directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func mustLoad(t *testing.T, path string) *Workflow {
	t.Helper()
	w, diags := Load(path, nil)
	if diags.HasErrors() {
		t.Fatalf("Load(%s): %s", path, diags.Error())
	}
	return w
}

func TestLoad_design(t *testing.T) {
	w := mustLoad(t, filepath.Join("..", "testdata", "config", "valid", "design"))
	if got := len(w.Steps); got != 3 {
		t.Fatalf("steps = %d, want 3", got)
	}
	if w.Settings == nil || w.Settings.Backend == nil || w.Settings.Backend.Type != "redis" ||
		w.Settings.Backend.URL != "redis://redis.internal:6379/0" || w.Settings.Backend.KeyPrefix != "lockstep:" {
		t.Fatalf("backend = %+v", w.Settings)
	}
	r := w.Steps["restart"]
	if len(r.Locks) != 2 || r.Locks[0].Label != "fleet" || r.Locks[1].Label != "node" || r.ForEach == nil || r.Retry == nil {
		t.Fatalf("restart step decoded wrongly: %+v", r)
	}
	m := w.Steps["migrate"]
	if m.Once == nil || len(m.Checks) != 1 || m.Attrs.Get("timeout") == nil || m.Description == "" || len(m.Locks) != 1 || m.Locks[0].Label != "" {
		t.Fatalf("migrate step decoded wrongly: %+v", m)
	}
	if v := w.Variables["nodes"]; v.Default.LengthInt() != 4 || w.Variables["release"].Default != cty.NilVal {
		t.Fatalf("variables decoded wrongly: %#v", w.Variables)
	}
	if len(w.Variables["env"].Validations) != 1 {
		t.Fatalf("validation not decoded")
	}
	if got := strings.Join(w.Order(), ","); got != "migrate,restart,announce" {
		t.Fatalf("Order = %s", got)
	}
	if w.Outputs["migration"] == nil || w.Locals["db"] == nil {
		t.Fatalf("outputs/locals missing")
	}
	if !filepath.IsAbs(w.Dir) {
		t.Fatalf("Dir %q is not absolute", w.Dir)
	}
}

func TestLoad_singleFileAndHidden(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.hcl":          `step "a" { shell = "true" }`,
		".hidden.hcl":    `this is not hcl`,
		"notes.txt":      `neither is this`,
		"sub/nested.hcl": `nor this`,
	})
	w := mustLoad(t, dir)
	if len(w.Files) != 1 || w.Steps["a"] == nil {
		t.Fatalf("files = %v", w.Files)
	}
	w = mustLoad(t, filepath.Join(dir, "a.hcl"))
	if _, ok := w.Files[filepath.Join(dir, "a.hcl")]; !ok || w.Dir != dir {
		t.Fatalf("single file: files %v dir %s", w.Files, w.Dir)
	}
}

func TestLoad_json(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.hcl.json": `{
  "variable": {"env": {"type": "string", "default": "dev"}},
  "locals": {"k": "lock-${var.env}"},
  "step": {
    "a": {"command": ["true"], "lock": {"key": "${local.k}", "ttl": "5s"}},
    "b": {"shell": "echo ${step.a.status}", "lock": {"one": {"key": "x"}, "two": {"key": "y"}}},
    "c": {"shell": "true", "depends_on": ["step.b"]}
  }
}`,
	})
	w := mustLoad(t, dir)
	if len(w.Steps["a"].Locks) != 1 || w.Steps["a"].Locks[0].Label != "" {
		t.Fatalf("unlabelled JSON lock: %+v", w.Steps["a"].Locks)
	}
	if l := w.Steps["b"].Locks; len(l) != 2 || l[0].Label == "" {
		t.Fatalf("labelled JSON locks: %+v", l)
	}
	if got := strings.Join(w.Order(), ","); got != "a,b,c" {
		t.Fatalf("Order = %s", got)
	}
}

func TestLoad_duplicatesAcrossFiles(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.hcl": "step \"x\" { shell = \"true\" }\nvariable \"v\" {}\nlocals { l = 1 }\nlockstep {}\n",
		"b.hcl": "step \"x\" { shell = \"true\" }\nvariable \"v\" {}\nlocals { l = 2 }\nlockstep {}\n",
	})
	_, diags := Load(dir, nil)
	want := []string{"Duplicate step declaration", "Duplicate variable declaration",
		"Duplicate local value declaration", "Duplicate lockstep block"}
	if len(diags) != len(want) {
		t.Fatalf("diags = %s", diags.Error())
	}
	for i, d := range diags {
		if d.Summary != want[i] || d.Subject.Filename != filepath.Join(dir, "b.hcl") || d.Subject.Start.Line != i+1 {
			t.Errorf("diag %d = %s at %v, want %q on b.hcl:%d", i, d.Summary, d.Subject, want[i], i+1)
		}
		if !strings.Contains(d.Detail, "a.hcl:") {
			t.Errorf("diag %d detail lacks previous position: %s", i, d.Detail)
		}
	}
}

func TestLoad_missingPath(t *testing.T) {
	w, diags := Load(filepath.Join(t.TempDir(), "nope"), nil)
	if w != nil || !diags.HasErrors() {
		t.Fatalf("want error, got %v %v", w, diags)
	}
	_, diags = Load(t.TempDir(), nil)
	if !diags.HasErrors() || diags[0].Summary != "No workflow files" {
		t.Fatalf("empty dir: %v", diags)
	}
}

func TestLoad_backendEnv(t *testing.T) {
	dir := writeFiles(t, map[string]string{"m.hcl": `
lockstep {
  backend "redis" {
    url      = env("REDIS_URL")
    password = "p"
    db       = 2
    sentinel {
      master_name = "m"
      addresses   = ["a:1", "b:2"]
    }
    tls { server_name = "s" }
  }
}
step "a" { shell = "true" }
`})
	w, diags := Load(dir, &LoadOptions{Getenv: func(k string) string { return "redis://" + k }})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	b := w.Settings.Backend
	if b.URL != "redis://REDIS_URL" || b.DB != 2 || b.Sentinel == nil || len(b.Sentinel.Addresses) != 2 || b.TLS.ServerName != "s" {
		t.Fatalf("backend = %+v", b)
	}
}

// TestLoad_backendFileRelativeToWorkflow: file() in the lockstep block reads
// relative to the workflow directory, not the current directory, as it does
// everywhere else (the test runs in the package directory, elsewhere).
func TestLoad_backendFileRelativeToWorkflow(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"url.txt": "redis://from-file:6379/0",
		"m.hcl": `
lockstep {
  backend "redis" {
    url = file("url.txt")
  }
}
step "a" { shell = "true" }
`})
	w := mustLoad(t, dir)
	if got := w.Settings.Backend.URL; got != "redis://from-file:6379/0" {
		t.Fatalf("url = %q", got)
	}
}

func TestLoad_hostile(t *testing.T) {
	bomb := "locals {\n  x = " + strings.Repeat("(", 200_000) + "1" + strings.Repeat(")", 200_000) + "\n}\n"
	big := make([]byte, MaxFileSize+1)
	for i := range big {
		big[i] = '#'
	}
	dir := writeFiles(t, map[string]string{"bomb.hcl": bomb, "big.hcl": string(big)})
	_, diags := Load(dir, nil)
	summaries := map[string]bool{}
	for _, d := range diags {
		summaries[d.Summary] = true
	}
	if !summaries["Nesting too deep"] || !summaries["Workflow file too large"] {
		t.Fatalf("diags = %v", diags)
	}
}

func diagSummaries(diags hcl.Diagnostics) []string {
	var out []string
	for _, d := range diags {
		out = append(out, d.Summary)
	}
	return out
}

func TestLoad_hostileExpressions(t *testing.T) {
	cases := map[string]string{
		"unary chain":      "locals {\n  x = " + strings.Repeat("!", 4*MaxOperatorChain) + "true\n}\n",
		"binary chain":     "locals {\n  x = (1" + strings.Repeat("\n+1", MaxOperatorChain) + ")\n}\n",
		"nested if":        "locals {\n  x = <<EOT\n" + strings.Repeat("%{if true}\n", 100_000) + strings.Repeat("%{endif}\n", 100_000) + "EOT\n}\n",
		"nested templates": "locals {\n  x = \"" + strings.Repeat("${\"", 10_000) + strings.Repeat("\"}", 10_000) + "\"\n}\n",
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			_, diags := Load(writeFiles(t, map[string]string{"main.hcl": src}), nil)
			if !diags.HasErrors() || (diags[0].Summary != "Nesting too deep" && diags[0].Summary != "Expression too long") {
				t.Fatalf("diags = %v", diags)
			}
		})
	}
	// Legitimate operators and brackets below the limits still load.
	ok := "locals {\n  x = " + strings.Repeat("!", 100) + "true\n  y = " + strings.Repeat("(", 100) + "1" + strings.Repeat(")", 100) + "\n}\nstep \"a\" { shell = \"true\" }\n"
	mustLoad(t, writeFiles(t, map[string]string{"main.hcl": ok}))
}

func TestLoad_expensiveExpressions(t *testing.T) {
	old := checkTimeout
	checkTimeout = 500 * time.Millisecond
	t.Cleanup(func() { checkTimeout = old })
	src := `locals {
  p = setproduct(range(1000), range(1000), range(1000))
  q = [for x in range(1000) : [for y in range(1000) : [for z in range(1000) : 1]]]
}
step "a" { shell = "true" }
`
	_, diags := Load(writeFiles(t, map[string]string{"main.hcl": src}), nil)
	got := strings.Join(diagSummaries(diags), ",")
	if !strings.Contains(got, "Workflow too expensive to check") {
		t.Fatalf("diags = %v", diags)
	}
}

// TestLoad_numberVariableAsDuration: a number-typed variable used as a
// duration is unknown at validate time; the diagnostic must name the type
// mistake, not say the duration "is not known yet".
func TestLoad_numberVariableAsDuration(t *testing.T) {
	dir := writeFiles(t, map[string]string{"main.hcl": `variable "n" { type = number }
step "a" {
  command = ["true"]
  timeout = var.n
}
`})
	_, diags := Load(dir, nil)
	if len(diags) != 1 {
		t.Fatalf("want one diagnostic, got %d: %s", len(diags), diags.Error())
	}
	d := diags[0]
	if d.Summary != "Invalid duration" || !strings.Contains(d.Detail, "number is not a duration") {
		t.Errorf("got %q: %q", d.Summary, d.Detail)
	}
	if d.Subject == nil || d.Subject.Start.Line != 4 {
		t.Errorf("want a subject on line 4, got %v", d.Subject)
	}
}

// TestLoad_misspeltLockSuggested: lock blocks are split off before the step
// schema applies, but a misspelt lock block still gets HCL's suggestion.
func TestLoad_misspeltLockSuggested(t *testing.T) {
	dir := writeFiles(t, map[string]string{"main.hcl": `step "a" {
  command = ["true"]
  lokc { key = "x" }
}
`})
	_, diags := Load(dir, nil)
	if len(diags) != 1 || diags[0].Summary != "Unsupported block type" ||
		!strings.Contains(diags[0].Detail, `Did you mean "lock"?`) || diags[0].Subject == nil {
		t.Fatalf("got %s", diags.Error())
	}
}

// TestLoad_diagnosticsSorted: a file refused for its size and a syntax error
// in an earlier file still come out sorted by file name.
func TestLoad_diagnosticsSorted(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.hcl": "step \"a\" {\n",
		"b.hcl": "# " + strings.Repeat("x", MaxFileSize) + "\n",
	})
	_, diags := Load(dir, nil)
	var files []string
	for _, d := range diags {
		if d.Subject == nil {
			t.Fatalf("diagnostic without a range: %s", d.Error())
		}
		files = append(files, filepath.Base(d.Subject.Filename))
	}
	if len(files) < 2 || files[0] != "a.hcl" || files[len(files)-1] != "b.hcl" {
		t.Fatalf("diagnostics by file: %v", files)
	}
}

// TestLoad_typeChecksInParallel: the steps of a large workflow are
// type-checked on several goroutines (stepsTypes); every problem is still
// reported once, in file order, whichever goroutine found it. Under -race
// it also proves the goroutines share no unguarded state (the function
// table, file() reads, the base scope).
func TestLoad_typeChecksInParallel(t *testing.T) {
	var b strings.Builder
	const n = 3*stepsPerWorker + 7
	var want []int
	for i := range n {
		arg := `file("x.txt")`
		if i%37 == 0 {
			arg, want = `1 + "x"`, append(want, i)
		}
		fmt.Fprintf(&b, "step \"s%04d\" {\n  command = [\"echo\", %s, upper(\"a\")]\n}\n", i, arg)
	}
	dir := writeFiles(t, map[string]string{"main.hcl": b.String(), "x.txt": "x"})
	_, diags := Load(dir, &LoadOptions{Getenv: func(string) string { return "" }})
	var got []int
	for _, d := range diags {
		if d.Summary != "Invalid operand" || d.Subject == nil {
			t.Fatalf("unexpected diagnostic: %s", d.Error())
		}
		got = append(got, (d.Subject.Start.Line-2)/3)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("problems reported in steps %v, want %v", got, want)
	}
}
