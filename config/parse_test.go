package config

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// trickySteps are blocks whose braces, quotes and newlines hide in strings,
// templates, comments and heredocs, where a cut must not fall.
const trickySteps = `
# a comment with { and " and }
step "aNUM" {
  // another { comment
  /* a block comment
     with } and " */
  description = "braces { in } a string \" and %%{ an escape"
  shell = <<-EOT
    echo "{"
    cat <<EOF
    }
    EOF
    echo ${jsonencode({ a = "}" })} %{ if true }yes%{ endif } $${HOME}
  EOT
  env = { X = "${"nested { string"}" }
}
`

// TestParse_chunksMatchWhole: a large file parsed in chunks gives the same
// workflow and the same diagnostics as parsed whole; a file with an error
// anywhere gives exactly HCL's diagnostics.
func TestParse_chunksMatchWhole(t *testing.T) {
	defer func(n int) { chunkSize = n }(chunkSize)
	chunkSize = 512
	var b strings.Builder
	for i := range 200 {
		b.WriteString(strings.ReplaceAll(trickySteps, "NUM", fmt.Sprint(i)))
	}
	src := b.String() + "step \"last\" {\n  command = [\"echo\", step.a199.output]\n}\n"
	cuts, ok := topLevelCuts([]byte(src))
	if !ok || len(cuts) < 200 {
		t.Fatalf("cuts %d ok %v", len(cuts), ok)
	}
	n := 0
	if !eachChunk([]byte(src), "main.hcl", func(*hclsyntax.Body) { n++ }) || n < 20 {
		t.Fatalf("not parsed in chunks (%d)", n)
	}
	chunked := mustLoad(t, writeFiles(t, map[string]string{"main.hcl": src}))
	if len(chunked.Steps) != 201 {
		t.Fatalf("%d steps", len(chunked.Steps))
	}
	if got := chunked.Dependencies("last"); len(got) != 1 || got[0] != "a199" {
		t.Fatalf("deps %v", got)
	}
	sh, diags := (&Scope{}).EvalShell(chunked.Steps["a7"].Attrs.Get("shell"))
	if diags.HasErrors() || !strings.Contains(sh.Script, "cat <<EOF\n}\nEOF") {
		t.Fatalf("shell %q %v", sh.Script, diags)
	}
	// Errors: the same diagnostics as HCL parsing the file whole.
	bad := src + "step \"broken\" {\n  command = [\n}\n"
	chunkSize = 512
	_, d1 := Load(writeFiles(t, map[string]string{"main.hcl": bad}), nil)
	chunkSize = 1 << 30
	_, d2 := Load(writeFiles(t, map[string]string{"main.hcl": bad}), nil)
	if !d1.HasErrors() || len(d1) != len(d2) || d1[0].Summary != d2[0].Summary || d1[0].Subject.Start != d2[0].Subject.Start {
		t.Fatalf("chunked %v\nwhole %v", d1, d2)
	}
}

// TestParse_contextOfDiagnostics: diagnostics of a chunked file still name
// the block they are in.
func TestParse_contextOfDiagnostics(t *testing.T) {
	defer func(n int) { chunkSize = n }(chunkSize)
	chunkSize = 64
	var b strings.Builder
	for i := range 50 {
		fmt.Fprintf(&b, "step \"s%d\" {\n  command = [\"echo\", \"%d\"]\n}\n", i, i)
	}
	b.WriteString("step \"z\" {\n  command = [var.nope]\n}\n")
	w, diags := Load(writeFiles(t, map[string]string{"main.hcl": b.String()}), nil)
	if len(diags) != 1 || w == nil {
		t.Fatalf("%v", diags)
	}
	for _, f := range w.Files {
		if got := f.Nav.(*blockNav).ContextString(diags[0].Subject.Start.Byte); got != `step "z"` {
			t.Fatalf("context %q", got)
		}
	}
}
