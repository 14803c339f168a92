package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

func parseExpr(t *testing.T, src string) hcl.Expression {
	t.Helper()
	e, diags := hclsyntax.ParseExpression([]byte(src), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return e
}

func TestScope_EvalExpr(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &Scope{
		BaseDir:   dir,
		Cwd:       "/cwd",
		Variables: map[string]cty.Value{"env": cty.StringVal("prod")},
		Locals:    map[string]cty.Value{"db": cty.StringVal("orders")},
		Steps: map[string]cty.Value{
			"a":    StepResult("succeeded", 0, "out"),
			"fan":  cty.MapVal(map[string]cty.Value{"k1": StepResult("failed", 3, "")}),
			"todo": UnknownStepResult(false),
		},
		Each:   &EachValue{Key: cty.StringVal("k1"), Value: cty.StringVal("v1")},
		Getenv: func(k string) string { return map[string]string{"HOME": "/home/x"}[k] },
	}
	cases := []struct {
		src  string
		want cty.Value
	}{
		{`"${var.env}-${local.db}"`, cty.StringVal("prod-orders")},
		{`step.a.status`, cty.StringVal("succeeded")},
		{`step.a.exit_code`, cty.NumberIntVal(0)},
		{`step.fan["k1"].exit_code`, cty.NumberIntVal(3)},
		{`step.fan[each.key].status`, cty.StringVal("failed")},
		{`"${each.key}=${each.value}"`, cty.StringVal("k1=v1")},
		{`path.root`, cty.StringVal(dir)},
		{`path.cwd`, cty.StringVal("/cwd")},
		{`env("HOME")`, cty.StringVal("/home/x")},
		{`env("NOPE")`, cty.StringVal("")},
		{`file("f.txt")`, cty.StringVal("hello")},
		{`fileexists("f.txt")`, cty.True},
		{`fileexists("g.txt")`, cty.False},
		{`basename("/a/b.c")`, cty.StringVal("b.c")},
		{`dirname("/a/b.c")`, cty.StringVal("/a")},
		{`sha256("abc")`, cty.StringVal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")},
		{`try(file("g.txt"), "fallback")`, cty.StringVal("fallback")},
		{`can(tonumber("x"))`, cty.False},
		{`upper(join(",", sort(["b", "a"])))`, cty.StringVal("A,B")},
		{`jsonencode({a = 1})`, cty.StringVal(`{"a":1}`)},
		{`max(1, 5, 3)`, cty.NumberIntVal(5)},
	}
	for _, tc := range cases {
		got, diags := s.EvalExpr(parseExpr(t, tc.src), cty.DynamicPseudoType)
		if diags.HasErrors() {
			t.Errorf("%s: %s", tc.src, diags.Error())
			continue
		}
		if !got.RawEquals(tc.want) {
			t.Errorf("%s = %#v, want %#v", tc.src, got, tc.want)
		}
	}
	if v, diags := s.EvalExpr(parseExpr(t, `step.todo.output`), cty.String); diags.HasErrors() || v.IsKnown() {
		t.Errorf("unknown step output = %#v, %v", v, diags)
	}
	if _, diags := s.EvalExpr(parseExpr(t, `"x"`), cty.List(cty.String)); !diags.HasErrors() || diags[0].Subject == nil {
		t.Errorf("conversion error missing or without range: %v", diags)
	}
	if v, diags := s.EvalExpr(nil, cty.String); diags.HasErrors() || !v.IsNull() {
		t.Errorf("nil expr = %#v, %v", v, diags)
	}
}

func TestEvalLocals(t *testing.T) {
	w := mustLoad(t, writeFiles(t, map[string]string{"main.hcl": `
variable "env" { default = "dev" }
locals {
  c = "${local.b}-c"
  b = "${local.a}-b"
  a = upper(var.env)
}
step "s" { shell = "echo ${local.c}" }
`}))
	s := &Scope{Variables: map[string]cty.Value{"env": cty.StringVal("prod")}}
	if diags := w.EvalLocals(s); diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if got := s.Locals["c"]; !got.RawEquals(cty.StringVal("PROD-b-c")) {
		t.Fatalf("local.c = %#v", got)
	}
}

func TestParseDuration(t *testing.T) {
	rng := hcl.Range{Filename: "x.hcl"}
	cases := []struct {
		v       cty.Value
		min     time.Duration
		want    time.Duration
		summary string
	}{
		{cty.StringVal("90s"), 0, 90 * time.Second, ""},
		{cty.StringVal("1h30m"), time.Second, 90 * time.Minute, ""},
		{cty.StringVal("0s"), 0, 0, ""},
		{cty.StringVal("500ms"), time.Second, 0, "Duration too short"},
		{cty.StringVal("-1s"), 0, 0, "Duration too short"},
		{cty.StringVal("5 minutes"), 0, 0, "Invalid duration"},
		{cty.NumberIntVal(5), 0, 0, "Invalid duration"},
		{cty.NullVal(cty.String), 0, 0, "Invalid duration"},
		{cty.UnknownVal(cty.String), 0, 0, "Invalid duration"},
	}
	for _, tc := range cases {
		got, diags := ParseDuration(tc.v, rng, tc.min)
		switch {
		case tc.summary == "" && (diags.HasErrors() || got != tc.want):
			t.Errorf("%#v: got %s, %v", tc.v, got, diags)
		case tc.summary != "" && (len(diags) != 1 || diags[0].Summary != tc.summary || diags[0].Subject == nil):
			t.Errorf("%#v: diags %v, want %q", tc.v, diags, tc.summary)
		}
	}
}

// TestParseDuration_sensitive: a marked value (from a sensitive variable) is
// parsed, but no diagnostic quotes it.
func TestParseDuration_sensitive(t *testing.T) {
	rng := hcl.Range{Filename: "x.hcl"}
	if d, diags := ParseDuration(cty.StringVal("90s").Mark("sensitive"), rng, 0); diags.HasErrors() || d != 90*time.Second {
		t.Fatalf("marked 90s: %s, %v", d, diags)
	}
	for _, v := range []cty.Value{cty.StringVal("secretpw"), cty.StringVal("17ms"), cty.NumberIntVal(424242)} {
		_, diags := ParseDuration(v.Mark("sensitive"), rng, time.Second)
		if !diags.HasErrors() {
			t.Fatalf("%#v: no error", v)
		}
		for _, want := range []string{"secretpw", "17ms", "424242"} {
			if strings.Contains(diags[0].Detail, want) {
				t.Errorf("%#v: detail shows the value: %q", v, diags[0].Detail)
			}
		}
	}
}
