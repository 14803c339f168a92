package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestSafeText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"alice@bastion-2", "alice@bastion-2"},
		{"café ✓ 日本", "café ✓ 日本"},
		{`C:\builds\x`, `C:\builds\x`},
		{"\x1b[2J\x1b[H", `\x1b[2J\x1b[H`},
		{"\x1b]52;c;cHduZWQ=\x07", `\x1b]52;c;cHduZWQ=\a`},
		{"a\rb\nc\td", `a\rb\nc\td`},
		{"\u009b31m", `\u009b31m`},
		{"\u202etxt.exe\u2066\u200e\u200f\u200b\ufeff", `\u202etxt.exe\u2066\u200e\u200f\u200b\ufeff`},
		{"bad\xff\xfe byte", `bad\xff\xfe byte`},
		{"del\x7f", `del\x7f`},
		{"sep\u2028\u2029", `sep\u2028\u2029`},
	} {
		if got := safeText(tc.in); got != tc.want {
			t.Errorf("safeText(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if bad := rawControls(safeText(tc.in)); len(bad) > 0 {
			t.Errorf("safeText(%q) still holds %v", tc.in, bad)
		}
	}
	if got := safeLines("line 1\nline\x1b 2"); got != "line 1\nline\\x1b 2" {
		t.Errorf("safeLines: %q", got)
	}
	if bad := rawControls(safeText(hostile)); len(bad) > 0 {
		t.Errorf("safeText(hostile) holds %v", bad)
	}
}

func TestSafeText_noAllocationWhenSafe(t *testing.T) {
	s := strings.Repeat("deploy/staging ", 10)
	if n := testing.AllocsPerRun(100, func() { _ = safeText(s) }); n != 0 {
		t.Errorf("%v allocations for safe text, want 0", n)
	}
}

// TestSafeJSON: encoded JSON keeps no character that may change what a
// terminal shows, and decodes to the same values; JSON without any is
// returned as it is.
func TestSafeJSON(t *testing.T) {
	type doc struct {
		Key  string            `json:"key"`
		Info map[string]string `json:"info"`
	}
	for _, s := range []string{
		"plain deploy/prod", "café ✓ 日本 \uFFFD", hostile, "\u009b31m", "\u202etxt.exe\u2066\u200f\u200b\ufeff",
		"del\x7f", "sep\u2028\u2029", "tag \U000E0001 beyond U+FFFF", "bad\xff\xfe byte",
	} {
		in := doc{Key: s, Info: map[string]string{s: s}}
		for _, indent := range []string{"", "  "} {
			var buf bytes.Buffer
			enc := json.NewEncoder(safeJSONWriter{&buf})
			enc.SetEscapeHTML(false)
			enc.SetIndent("", indent)
			if err := enc.Encode(in); err != nil {
				t.Fatal(err)
			}
			out := buf.Bytes()
			if bad := rawControls(string(out)); len(bad) > 0 {
				t.Errorf("%q: the JSON holds %v: %s", s, bad, out)
			}
			var back doc
			if err := json.Unmarshal(out, &back); err != nil {
				t.Fatalf("%q: %v: %s", s, err, out)
			}
			var want string // what encoding/json alone gives back (an invalid byte is U+FFFD)
			if b, err := json.Marshal(s); err != nil || json.Unmarshal(b, &want) != nil {
				t.Fatal(err)
			}
			if back.Key != want || back.Info[want] != want {
				t.Errorf("%q: decodes to %+v", s, back)
			}
		}
	}
	// A byte that is not UTF-8 (RawMessage passes it through) becomes
	// U+FFFD, as decoders read it.
	if got := string(safeJSON([]byte("{\"k\":\"a\x9bb\"}"))); got != `{"k":"a\ufffdb"}` {
		t.Errorf("invalid byte: %s", got)
	}
	plain := []byte(`{"key":"deploy/prod","n":1}` + "\n")
	if got := safeJSON(plain); &got[0] != &plain[0] {
		t.Error("safe JSON was copied")
	}
}

// TestNewLogger_hostileValues: lockstep's own log, text or JSON, carries
// another machine's text (here a holder's) without raw controls; the JSON
// form decodes to it exactly.
func TestNewLogger_hostileValues(t *testing.T) {
	for _, format := range []string{"", "json"} {
		var out bytes.Buffer
		env := map[string]string{"LOCKSTEP_LOG": "debug", "LOCKSTEP_LOG_FORMAT": format}
		logger, closeLog := newLogger(func(k string) string { return env[k] }, &out)
		logger.Debug("lock busy", "holder", hostile)
		closeLog()
		if bad := rawControls(out.String()); len(bad) > 0 {
			t.Errorf("format %q: the log holds %v: %q", format, bad, out.String())
		}
		if format != "json" {
			continue
		}
		var line struct {
			Holder string `json:"holder"`
		}
		var want string
		if b, err := json.Marshal(hostile); err != nil || json.Unmarshal(b, &want) != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(out.Bytes(), &line); err != nil || line.Holder != want {
			t.Errorf("json log: %v, holder %q, want %q", err, line.Holder, want)
		}
	}
}
