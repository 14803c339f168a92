package config

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestLimits_valuesAreBounded: every way an expression can grow a value —
// functions that amplify, templates joining values, nested templates, for
// expressions, locals — stops at the limits with "Value too large" on the
// expression, before building the value.
//
// The size limits are what is under test, not the evaluation time guard
// (checkTimeout, tested on its own): it is lifted here, so that a slow
// machine (-race, two cores under load) cannot let it fire first.
func TestLimits_valuesAreBounded(t *testing.T) {
	defer func(d time.Duration) { checkTimeout = d }(checkTimeout)
	checkTimeout = 10 * time.Minute
	big := strings.Repeat("x", 4_000_000)
	cases := map[string]string{
		"join":             `local.b = join(",", [for i in range(10) : local.a])`,
		"replace":          `local.b = replace(local.a, "x", "0123456789")`,
		"regex_replace":    `local.b = regex_replace(local.a, "x", "0123456789")`,
		"format width":     `local.b = format("%999999999s", "x")`,
		"formatlist":       `local.b = formatlist("%s%s%s%s%s", local.a, local.a, local.a, local.a, local.a)`,
		"indent":           `local.b = indent(100000000, "a\nb")`,
		"split":            `local.b = split("", local.a)`,
		"template":         `local.b = "${local.a}${local.a}${local.a}${local.a}${local.a}"`,
		"nested templates": `local.b = "${"${"${local.a}${local.a}"}${"${local.a}${local.a}"}"}${"${"${local.a}${local.a}"}${"${local.a}${local.a}"}"}"`,
		"for directive":    `local.b = "%{ for i in range(10) }${local.a}%{ endfor }"`,
		"for expression":   `local.b = [for i in range(100) : file("big.txt")]`,
		"setproduct":       `local.b = setproduct(range(1000), range(1000), range(2))`,
		"locals together":  `local.b = "${local.a}-"`,
	}
	for name, expr := range cases {
		t.Run(name, func(t *testing.T) {
			lhs, rhs, _ := strings.Cut(expr, " = ")
			src := "locals {\n  a = file(\"big.txt\")\n  " + strings.TrimPrefix(lhs, "local.") + " = " + rhs + "\n"
			if name == "locals together" {
				for _, n := range []string{"c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r"} {
					src += "  " + n + " = \"${local.a}" + n + "\"\n"
				}
			}
			src += "}\nstep \"s\" {\n  command = [\"echo\", jsonencode(local.b)]\n}\n"
			dir := writeFiles(t, map[string]string{"main.hcl": src, "big.txt": big})
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			_, diags := Load(dir, nil)
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			if !diags.HasErrors() || diags[0].Summary != "Value too large" || diags[0].Subject == nil ||
				!strings.Contains(diags[0].Detail, "MiB limit") {
				t.Fatalf("want Value too large naming the limit, got %v", diags)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<30 {
				t.Errorf("allocated %d MiB on the way", alloc>>20)
			}
		})
	}
}

// TestLimits_ordinaryValuesPass: the limits leave real workflows alone.
func TestLimits_ordinaryValuesPass(t *testing.T) {
	dir := writeFiles(t, map[string]string{"main.hcl": `
locals {
  a     = file("big.txt")
  b     = "${local.a}${local.a}"
  nodes = [for i in range(100) : "node-${i}"]
  csv   = join(",", local.nodes)
  r     = replace(local.a, "x", "y")
}
step "s" {
  command = ["echo", local.csv, substr(local.b, 0, 3), substr(local.r, 0, 1)]
}
`, "big.txt": strings.Repeat("x", 3_000_000)})
	if _, diags := Load(dir, nil); diags.HasErrors() {
		t.Fatal(diags.Error())
	}
}
