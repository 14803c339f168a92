package main

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

func TestUnifiedDiff(t *testing.T) {
	a := "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n"
	b := "1\n2\nthree\n4\n5\n6\n7\n8\n9\n10\n11\ntwelve\n"
	got := unifiedDiff("f.hcl", a, b)
	want := `--- old/f.hcl
+++ new/f.hcl
@@ -1,6 +1,6 @@
 1
 2
-3
+three
 4
 5
 6
@@ -9,4 +9,4 @@
 9
 10
 11
-12
+twelve
`
	if got != want {
		t.Fatalf("diff:\n%s\nwant:\n%s", got, want)
	}
	if d := unifiedDiff("f", "same\n", "same\n"); strings.Contains(d, "@@") {
		t.Fatalf("identical inputs gave hunks: %s", d)
	}
	if d := unifiedDiff("f", "a", "b"); !strings.Contains(d, "No newline at end of file") {
		t.Fatalf("missing newline marker: %s", d)
	}
}

// TestUnifiedDiff_large: a 20,000-line file with every line changed (an
// unindented workflow) diffs in bounded memory; a quadratic LCS table would
// take 1.6 GB.
func TestUnifiedDiff_large(t *testing.T) {
	var a, b strings.Builder
	for i := range 20_000 {
		fmt.Fprintf(&a, "x%d=1\n", i)
		fmt.Fprintf(&b, "  x%d = 1\n", i)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	d := unifiedDiff("big.hcl", a.String(), b.String())
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 200<<20 {
		t.Errorf("diff allocated %d MB", got>>20)
	}
	if !strings.Contains(d, "-x19999=1\n") || !strings.Contains(d, "+  x19999 = 1\n") {
		t.Errorf("diff misses the last line's change")
	}
}

func TestFormat_refusesBadSyntax(t *testing.T) {
	if _, diags := format([]byte("a = (\n"), "x.hcl"); !diags.HasErrors() {
		t.Fatal("want syntax error")
	}
	if _, diags := format([]byte("a = "+strings.Repeat("[", 1000)), "x.hcl"); !diags.HasErrors() || diags[0].Summary != "Nesting too deep" {
		t.Fatalf("want nesting error, got %v", diags)
	}
	out, diags := format([]byte("a=1\n"), "x.hcl")
	if diags.HasErrors() || string(out) != "a = 1\n" {
		t.Fatalf("format = %q %v", out, diags)
	}
}
