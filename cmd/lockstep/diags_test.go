package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

func TestWriteJSONValidation_shape(t *testing.T) {
	src := []byte("step \"a\" {\n  shell = \"echo ${step.a.output}\"\n}\n")
	f, diags := hclsyntax.ParseConfig(src, "main.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	subject := hcl.Range{Filename: "main.hcl",
		Start: hcl.Pos{Line: 2, Column: 19, Byte: 29}, End: hcl.Pos{Line: 2, Column: 32, Byte: 42}}
	in := hcl.Diagnostics{
		{Severity: hcl.DiagError, Summary: "Self-referential step", Detail: "Bad.", Subject: &subject},
		{Severity: hcl.DiagWarning, Summary: "Something odd", Detail: "Odd."},
	}
	var buf bytes.Buffer
	if err := writeJSONValidation(&buf, map[string]*hcl.File{"main.hcl": f}, in); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["valid"] != false || doc["error_count"] != 1.0 || doc["warning_count"] != 1.0 {
		t.Fatalf("header = %v", doc)
	}
	d := doc["diagnostics"].([]any)[0].(map[string]any)
	rng := d["range"].(map[string]any)
	start := rng["start"].(map[string]any)
	snip := d["snippet"].(map[string]any)
	code := snip["code"].(string)
	hs, he := int(snip["highlight_start_offset"].(float64)), int(snip["highlight_end_offset"].(float64))
	switch {
	case d["severity"] != "error" || d["summary"] != "Self-referential step" || d["detail"] != "Bad.":
		t.Errorf("diagnostic = %v", d)
	case rng["filename"] != "main.hcl" || start["line"] != 2.0 || start["column"] != 19.0 || start["byte"] != 29.0:
		t.Errorf("range = %v", rng)
	case code != `  shell = "echo ${step.a.output}"` || code[hs:he] != "step.a.output":
		t.Errorf("snippet code %q highlight %q", code, code[hs:he])
	case snip["context"] != `step "a"` || snip["start_line"] != 2.0:
		t.Errorf("snippet = %v", snip)
	}
	w := doc["diagnostics"].([]any)[1].(map[string]any)
	if w["severity"] != "warning" || w["range"] != nil {
		t.Errorf("warning = %v", w)
	}
}

func TestWriteDiagnostics_noColourOffTTY(t *testing.T) {
	e, _, stderr := testEnv(nil)
	e.diagnostics(nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Broken", Detail: "It is broken."}})
	out := stderr.String()
	if !strings.Contains(out, "Error: Broken") || strings.Contains(out, "\x1b[") {
		t.Fatalf("output %q", out)
	}
}

func TestWriteDiagnostics_longLineHasNoSnippet(t *testing.T) {
	src := []byte("x = " + strings.Repeat("a.", 5000) + "b\ny = 1\n")
	f := &hcl.File{Bytes: src}
	long := hcl.Range{Filename: "m.hcl", Start: hcl.Pos{Line: 1, Column: 5, Byte: 4}, End: hcl.Pos{Line: 1, Column: 9, Byte: 8}}
	short := hcl.Range{Filename: "m.hcl", Start: hcl.Pos{Line: 2, Column: 1, Byte: len(src) - 6}, End: hcl.Pos{Line: 2, Column: 2, Byte: len(src) - 5}}
	var buf bytes.Buffer
	files := map[string]*hcl.File{"m.hcl": f}
	writeDiagnostics(&buf, files, hcl.Diagnostics{
		{Severity: hcl.DiagError, Summary: "Long", Detail: "Long.", Subject: &long},
		{Severity: hcl.DiagError, Summary: "Short", Detail: "Short.", Subject: &short},
	}, false)
	if out := buf.String(); len(out) > 2000 || !strings.Contains(out, "2: y = 1") {
		t.Fatalf("output (%d bytes): %.500s", len(out), out)
	}
	if d := newJSONDiagnostic(&hcl.Diagnostic{Summary: "Long", Subject: &long}, files); d.Snippet != nil || d.Range == nil {
		t.Fatalf("JSON diagnostic of a long line: %+v", d)
	}
}

// TestWriteDiagnostics_controlCharactersEscaped: control characters in a
// workflow's source (a comment holding an OSC title sequence, a clear
// screen, a bidirectional override) or in a diagnostic's text never reach
// the terminal; the snippet keeps its place, with '?' for each byte, and a
// CRLF file's line ends stay as they were. HCL's snippets copied source
// lines byte for byte.
func TestWriteDiagnostics_controlCharactersEscaped(t *testing.T) {
	src := []byte("step \"a\" {\r\n  bogus = 1 # \x1b]0;PWNED\a\x1b[2J \u202e rtl\r\n}\r\n")
	start := bytes.Index(src, []byte("bogus"))
	rng := hcl.Range{Filename: "m.hcl", Start: hcl.Pos{Line: 2, Column: 3, Byte: start}, End: hcl.Pos{Line: 2, Column: 8, Byte: start + 5}}
	files := map[string]*hcl.File{"m.hcl": {Bytes: src}}
	var buf bytes.Buffer
	writeDiagnostics(&buf, files, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Bad \x1b[31m",
		Detail: "Read \x1b]0;x\a here.\nSecond line.", Subject: &rng}}, false)
	out := buf.String()
	for _, bad := range []string{"\x1b", "\a", "\u202e", "\r"} {
		if strings.Contains(out, bad) {
			t.Errorf("output holds %q:\n%q", bad, out)
		}
	}
	for _, want := range []string{`2:   bogus = 1 # ?]0;PWNED??[2J ??? rtl` + "\n", `Error: Bad \x1b[31m`, "Second line."} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if string(files["m.hcl"].Bytes) != string(src) {
		t.Error("the caller's source was changed")
	}
}

// TestWriteDiagnostics_hostileFileNameAndBytes: a workflow file's name
// (which a pull request chooses) is escaped where HCL prints it ("on NAME
// line N") and its snippet still shows; a byte that is not UTF-8 (0x9B, the
// 8-bit CSI) becomes '?'. Both reached the terminal as they were.
func TestWriteDiagnostics_hostileFileNameAndBytes(t *testing.T) {
	name := "x\x1b]0;PWNED\a.hcl"
	src := []byte("step \"a\" {\n  bogus = 1 # raw \x9b31m red\n}\n")
	start := bytes.Index(src, []byte("bogus"))
	rng := hcl.Range{Filename: name, Start: hcl.Pos{Line: 2, Column: 3, Byte: start}, End: hcl.Pos{Line: 2, Column: 8, Byte: start + 5}}
	files := map[string]*hcl.File{name: {Bytes: src}}
	var buf bytes.Buffer
	writeDiagnostics(&buf, files, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unsupported argument",
		Subject: &rng, Context: &rng}}, false)
	out := buf.String()
	for _, bad := range []string{"\x1b", "\a", "\x9b"} {
		if strings.Contains(out, bad) {
			t.Errorf("output holds %q:\n%q", bad, out)
		}
	}
	for _, want := range []string{`on x\x1b]0;PWNED\a.hcl line 2`, "2:   bogus = 1 # raw ?31m red\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if rng.Filename != name || files[name] == nil || string(files[name].Bytes) != string(src) {
		t.Error("the caller's range or sources were changed")
	}
}

// TestRedisLog_escapesServerText: go-redis's messages, which carry what
// servers said (a sentinel's master address), reach the debug log escaped;
// hclog writes a message as it is.
func TestRedisLog_escapesServerText(t *testing.T) {
	var buf bytes.Buffer
	l := redisLog{hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Debug})}
	l.Printf(context.Background(), "sentinel: selected addr=%s", "10.0.0.1:6379\x1b]0;PWNED\a")
	if out := buf.String(); strings.Contains(out, "\x1b") || strings.Contains(out, "\a") || !strings.Contains(out, `\x1b]0;PWNED\a`) {
		t.Fatalf("log %q", out)
	}
}
