package config

import (
	"strings"
	"testing"
)

// TestScopeConflicts: validate warns when one run could take one key twice
// at once, and only then.
func TestScopeConflicts(t *testing.T) {
	cases := []struct {
		name, src string
		warn      int
	}{
		{"same literal key", `
lock "env" { key = "deploy/staging" }
step "a" {
  lock { key = "deploy/staging" }
  command = ["true"]
}`, 1},
		{"template can equal", `
variable "env" {}
lock "env" {
  key   = "deploy/${var.env}"
  steps = [step.a]
}
step "a" {
  lock { key = "deploy/staging" }
  command = ["true"]
}`, 1},
		{"outside the scope", `
lock "env" {
  key   = "deploy/staging"
  steps = [step.b]
}
step "a" {
  lock { key = "deploy/staging" }
  command = ["true"]
}
step "b" { command = ["true"] }`, 0},
		{"same variable, different text", `
variable "env" {}
lock "env" { key = "deploy/${var.env}" }
step "a" {
  lock { key = "deploy/${var.env}/db" }
  command = ["true"]
}`, 0},
		{"two locks of one step", `
step "a" {
  for_each = toset(["x"])
  lock "one" { key = "node/${each.key}" }
  lock "two" { key = "node/x" }
  command = ["true"]
}`, 1},
		{"two workflow locks over common steps", `
variable "a" {}
lock "one" {
  key   = "k/${var.a}"
  steps = [step.s]
}
lock "two" { key = "k/${var.a}" }
step "s" { command = ["true"] }`, 1},
		{"both shared", `
lock "env" {
  key  = "deploy/staging"
  mode = "shared"
}
step "a" {
  lock {
    key  = "deploy/staging"
    mode = "shared"
  }
  command = ["true"]
}`, 0},
		{"different literal text", `
lock "env" { key = "deploy/staging" }
step "a" {
  lock "fleet" { key = "fleet/restart" }
  lock "node" { key = "node/${step.b.output}" }
  command = ["true"]
}
step "b" { command = ["true"] }`, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := Load(writeFiles(t, map[string]string{"main.hcl": tc.src}), nil)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			if len(diags) != tc.warn {
				t.Fatalf("%d warnings, want %d: %v", len(diags), tc.warn, diags)
			}
			for _, d := range diags {
				if d.Summary != "One key taken twice in a run" || d.Subject == nil || !strings.Contains(d.Detail, "forever") {
					t.Errorf("warning %+v", d)
				}
			}
		})
	}
}

func TestMayEqual(t *testing.T) {
	lit := func(s string) keySeg { return keySeg{lit: s} }
	hole := func(id string) keySeg { return keySeg{hole: id} }
	cases := []struct {
		p, q []keySeg
		want bool
	}{
		{[]keySeg{lit("a/b")}, []keySeg{lit("a/b")}, true},
		{[]keySeg{lit("a/b")}, []keySeg{lit("a/c")}, false},
		{[]keySeg{lit("a/"), hole("x")}, []keySeg{lit("a/b/c")}, true},
		{[]keySeg{lit("a/"), hole("x")}, []keySeg{lit("b/"), hole("y")}, false},
		{[]keySeg{hole("x"), lit("/1")}, []keySeg{hole("x"), lit("/2")}, false},
		{[]keySeg{hole("x"), lit("/1")}, []keySeg{hole("y"), lit("/2")}, false},
		{[]keySeg{hole("x"), lit("/1")}, []keySeg{hole("y"), lit("/1")}, true},
		{[]keySeg{hole("x")}, []keySeg{lit("anything")}, true},
		{[]keySeg{lit("p/"), hole("x"), lit("/q")}, []keySeg{lit("p/1/q")}, true},
		{[]keySeg{lit("p/"), hole("x"), lit("/q")}, []keySeg{lit("p/1/r")}, false},
	}
	for _, tc := range cases {
		if got := mayEqual(tc.p, tc.q); got != tc.want {
			t.Errorf("mayEqual(%v, %v) = %v, want %v", tc.p, tc.q, got, tc.want)
		}
	}
}
