package config

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/zclconf/go-cty/cty"
)

// TestResolveVariables_autoFiles: lockstep.vars and *.auto.vars are read
// from the workflow directory with Terraform's precedence: default <
// environment < lockstep.vars < *.auto.vars (lexical) < -var-file/-var in
// order. They are never workflow files.
func TestResolveVariables_autoFiles(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.hcl": `
variable "a" { default = "default" }
variable "b" { default = "default" }
variable "c" { default = "default" }
variable "d" { default = "default" }
variable "e" { default = "default" }
variable "f" { default = "default" }
step "s" { command = ["echo", var.a] }
`,
		"lockstep.vars":         "b = \"lockstep.vars\"\nc = \"lockstep.vars\"\nd = \"lockstep.vars\"\ne = \"lockstep.vars\"\n",
		"a.auto.vars":           "c = \"a.auto.vars\"\nd = \"a.auto.vars\"\ne = \"a.auto.vars\"\n",
		"b.auto.vars.json":      `{"d": "b.auto.vars.json", "e": "b.auto.vars.json"}`,
		".hidden.auto.vars":     "e = \"hidden\"\n",
		"other.vars":            "this is not even HCL",
		"notes.auto.vars.draft": "neither",
	})
	w := mustLoad(t, dir)
	if len(w.Files) != 1 {
		t.Fatalf("variable files were read as workflow files: %v", w.Files)
	}
	vals, diags := w.ResolveVariables(VariableInputs{
		Environ: []string{"LOCKSTEP_VAR_a=env", "LOCKSTEP_VAR_b=env"},
		Args:    []VarArg{{Value: "e=-var"}},
	})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	want := map[string]string{"a": "env", "b": "lockstep.vars", "c": "a.auto.vars", "d": "b.auto.vars.json",
		"e": "-var", "f": "default"}
	for name, v := range want {
		if got := vals[name]; !got.RawEquals(cty.StringVal(v)) {
			t.Errorf("var.%s = %#v, want %q", name, got, v)
		}
	}
}

// TestResolveVariables_autoFileErrors: mistakes in an automatic file name
// the file, line and column; an undeclared name there is a warning (the
// directory may hold several workflows), a wrong type an error.
func TestResolveVariables_autoFileErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.hcl":      "variable \"n\" { type = number }\nstep \"s\" { command = [\"true\"] }\n",
		"lockstep.vars": "n = \"not a number\"\nextra = 1\n",
		"x.auto.vars":   "n = \n",
	})
	w := mustLoad(t, dir)
	_, diags := w.ResolveVariables(VariableInputs{})
	var got []string
	for _, d := range diags {
		sev := "error"
		if d.Severity != 1 {
			sev = "warning"
		}
		pos := "-"
		if d.Subject != nil {
			pos = d.Subject.String()
		}
		got = append(got, sev+" "+d.Summary+" "+pos)
	}
	joined := strings.Join(got, "\n")
	for _, want := range []string{
		"warning Value for undeclared variable " + dir + "/lockstep.vars:2,1-6",
		"error Invalid expression " + dir + "/x.auto.vars:1,5-2,1",
		"error Invalid value for variable " + dir + "/lockstep.vars:1,5-19",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("missing %q in:\n%s", want, joined)
		}
	}
	if w.Files[dir+"/lockstep.vars"] == nil {
		t.Errorf("variable files are not in Files for snippets: %v", w.Files)
	}
}

// TestLoad_fsFS: a workflow, its file() reads and its variable files come
// through the fs.FS given in LoadOptions.
func TestLoad_fsFS(t *testing.T) {
	fsys := fstest.MapFS{
		"wf/main.hcl":      {Data: []byte("variable \"v\" {}\nlocals { t = file(\"data.txt\") }\nstep \"s\" { command = [\"echo\", local.t, var.v] }\n")},
		"wf/data.txt":      {Data: []byte("from the map")},
		"wf/lockstep.vars": {Data: []byte("v = \"auto\"\n")},
	}
	w, diags := Load("wf", &LoadOptions{FS: fsys})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if w.Dir != "wf" || w.FS() == nil {
		t.Fatalf("Dir %q FS %v", w.Dir, w.FS())
	}
	vals, diags := w.ResolveVariables(VariableInputs{})
	if diags.HasErrors() || vals["v"].AsString() != "auto" {
		t.Fatalf("vars %v %v", vals, diags)
	}
	s := &Scope{BaseDir: w.Dir, Variables: vals, FS: w.FS()}
	if d := w.EvalLocals(s); d.HasErrors() || s.Locals["t"].AsString() != "from the map" {
		t.Fatalf("locals %v %v", s.Locals, d)
	}
	if _, diags := Load("wf/nope", &LoadOptions{FS: fsys}); !diags.HasErrors() {
		t.Fatal("missing path loaded")
	}
}
