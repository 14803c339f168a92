package main

import (
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
