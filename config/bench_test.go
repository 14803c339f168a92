package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
// including evaluation against unknowns) of a 1,000-step workflow.
func BenchmarkLoad(b *testing.B) {
	dir := writeGenerated(b, 1000)
	b.ReportAllocs()
	for b.Loop() {
		if _, diags := Load(dir, nil); diags.HasErrors() {
			b.Fatal(diags.Error())
		}
	}
}

// BenchmarkParseFloor is the floor for BenchmarkLoad: reading and parsing
// the same file with hclsyntax alone, no decoding or checks.
func BenchmarkParseFloor(b *testing.B) {
	dir := writeGenerated(b, 1000)
	b.ReportAllocs()
	for b.Loop() {
		src, err := os.ReadFile(filepath.Join(dir, "main.hcl"))
		if err != nil {
			b.Fatal(err)
		}
		if _, diags := hclsyntax.ParseConfig(src, "main.hcl", hcl.InitialPos); diags.HasErrors() {
			b.Fatal(diags.Error())
		}
	}
}
