package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

const varsWorkflow = `
variable "env" {
  type = string
  validation {
    condition     = contains(["staging", "production"], var.env)
    error_message = "The env must be staging or production."
  }
}
variable "count" {
  type    = number
  default = 1
}
variable "nodes" {
  type    = list(string)
  default = ["a"]
}
variable "opts" {
  type    = object({ name = string, size = optional(number, 3) })
  default = { name = "d" }
}
variable "any" { default = "x" }
variable "anytyped" {
  type    = any
  default = null
}
step "s" { shell = "true" }
`

func TestResolveVariables_precedence(t *testing.T) {
	dir := writeFiles(t, map[string]string{"main.hcl": varsWorkflow})
	w := mustLoad(t, dir)
	varFile := filepath.Join(dir, "vals.tfvars")
	if err := os.WriteFile(varFile, []byte("count = 5\nnodes = [\"f1\", \"f2\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	vals, diags := w.ResolveVariables(VariableInputs{
		Environ: []string{"LOCKSTEP_VAR_env=staging", "LOCKSTEP_VAR_count=2", "LOCKSTEP_VAR_undeclared=1", "PATH=/bin"},
		Args: []VarArg{
			{Value: "count=3"},
			{File: true, Value: varFile}, // later wins over -var count=3
			{Value: "nodes=[\"v1\"]"},
			{Value: `opts={name="n"}`},
			{Value: "any=[1]"},
			{Value: "anytyped=[1]"},
		},
	})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	checks := map[string]cty.Value{
		"env":      cty.StringVal("staging"),
		"count":    cty.NumberIntVal(5),
		"nodes":    cty.ListVal([]cty.Value{cty.StringVal("v1")}),
		"opts":     cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal("n"), "size": cty.NumberIntVal(3)}),
		"any":      cty.StringVal("[1]"),
		"anytyped": cty.TupleVal([]cty.Value{cty.NumberIntVal(1)}),
	}
	for name, want := range checks {
		if !vals[name].RawEquals(want) {
			t.Errorf("%s = %#v, want %#v", name, vals[name], want)
		}
	}
}

func TestResolveVariables_errors(t *testing.T) {
	w := mustLoad(t, writeFiles(t, map[string]string{"main.hcl": varsWorkflow}))
	cases := []struct {
		name string
		in   VariableInputs
		want string // summary and a fragment of the detail
	}{
		{"missing required", VariableInputs{}, `No value for required variable|"env"`},
		{"undeclared -var", VariableInputs{Args: []VarArg{{Value: "env=staging"}, {Value: "evn=x"}}}, `Value for undeclared variable|"evn"`},
		{"bad syntax", VariableInputs{Args: []VarArg{{Value: "env"}}}, `Invalid -var option|"env"`},
		{"bad number", VariableInputs{Args: []VarArg{{Value: "env=staging"}, {Value: "count=abc"}}}, `Invalid value for variable|"count"`},
		{"bad list", VariableInputs{Args: []VarArg{{Value: "env=staging"}, {Value: "nodes=[1,"}}}, `Invalid value for variable|"nodes"`},
		{"validation", VariableInputs{Args: []VarArg{{Value: "env=prod"}}}, `Invalid value for variable|staging or production`},
		{"missing file", VariableInputs{Args: []VarArg{{Value: "env=staging"}, {File: true, Value: "/nonexistent.tfvars"}}}, `Cannot read variables file|nonexistent`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := w.ResolveVariables(tc.in)
			summary, fragment, _ := strings.Cut(tc.want, "|")
			for _, d := range diags {
				if d.Summary == summary && strings.Contains(d.Detail, fragment) {
					return
				}
			}
			t.Fatalf("want %q, got %v", tc.want, diags)
		})
	}
}

func TestUnknownVariables(t *testing.T) {
	w := mustLoad(t, writeFiles(t, map[string]string{"main.hcl": varsWorkflow}))
	u := w.UnknownVariables()
	if len(u) != 6 || u["nodes"].IsKnown() || !u["nodes"].Type().Equals(cty.List(cty.String)) {
		t.Fatalf("unknowns = %#v", u)
	}
}
