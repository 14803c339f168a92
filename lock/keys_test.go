package lock_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lockstep-dev/lockstep/lock"
)

// checkEncoding asserts the encoding's contract for one input.
func checkEncoding(t *testing.T, s string) string {
	t.Helper()
	e := lock.EncodeKey(s)
	if strings.ContainsAny(e, "{}*?[]\\") {
		t.Fatalf("EncodeKey(%q) = %q contains a brace or glob character", s, e)
	}
	if !utf8.ValidString(e) {
		t.Fatalf("EncodeKey(%q) = %q is not UTF-8", s, e)
	}
	back, err := lock.DecodeKey(e)
	if err != nil || back != s {
		t.Fatalf("DecodeKey(EncodeKey(%q)) = %q, %v", s, back, err)
	}
	return e
}

func TestEncodeKey_readable(t *testing.T) {
	for in, want := range map[string]string{
		"deploy/prod":       "deploy/prod",
		"feature/ü-ß:x":     "feature/ü-ß:x",
		"a{b}":              "a%7Bb%7D",
		"100%":              "100%25",
		"glob*?[x]\\":       "glob%2A%3F%5Bx%5D%5C",
		"tab\tnl\n\x00\xff": "tab%09nl%0A%00%FF",
	} {
		if got := checkEncoding(t, in); got != want {
			t.Errorf("EncodeKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestEncodeKey_property draws keys from branch-name characters, braces,
// escapes, unicode and invalid bytes, and long strings: distinct inputs never
// share an encoding.
func TestEncodeKey_property(t *testing.T) {
	alphabet := []string{"a", "Z", "0", "/", "-", "_", ".", ":", "%", "%7B", "{", "}", "*", "é", "日本", "🔒", "\x00", "\xff", "\xc3", " ", "@", "~", "^"}
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[string]string{}
	for i := range 20000 {
		n := rng.IntN(12) + 1
		if i%1000 == 0 {
			n = 10 * 1024 / 2 // a 10 KB-ish key
		}
		var b strings.Builder
		for range n {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		s := b.String()
		e := checkEncoding(t, s)
		if prev, ok := seen[e]; ok && prev != s {
			t.Fatalf("%q and %q both encode to %q", prev, s, e)
		}
		seen[e] = s
	}
	t.Logf("%d distinct keys, no collisions", len(seen))
}

func TestDecodeKey_rejects(t *testing.T) {
	for _, s := range []string{"%", "%4", "%zz", "%7b", "%61", "{x}", "a*", "%25%"} {
		if _, err := lock.DecodeKey(s); err == nil {
			t.Errorf("DecodeKey(%q) accepted text EncodeKey never makes", s)
		}
	}
}

func FuzzEncodeKey(f *testing.F) {
	for _, s := range []string{"", "deploy/prod", "a{b}c", "%7B", "}{", "\xff\xfe", "日本/ブランチ", "x*?[]\\"} {
		f.Add(s, "other")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ea, eb := checkEncoding(t, a), checkEncoding(t, b)
		if a != b && ea == eb {
			t.Fatalf("%q and %q both encode to %q", a, b, ea)
		}
	})
}
