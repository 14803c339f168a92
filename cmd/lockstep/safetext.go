package main

import (
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// safeText makes text that another machine wrote (holder metadata: user,
// host, LOCKSTEP_HOLDER_INFO, step and workflow; lock keys; once keys) safe
// to print on a terminal: every control character (C0 including ESC, CR, LF
// and TAB; DEL; C1), every format character (bidi embeddings, overrides and
// isolates U+202A–U+202E and U+2066–U+2069, marks U+200E/U+200F, zero-width
// characters), the line and paragraph separators and every byte that is not
// UTF-8 are written as Go escapes (\x1b, \r, \u202e, \xff). Other text,
// backslashes included, is unchanged, and safe text is returned as it is
// without allocating. -json output never goes through it: it must stay
// exact, and goes through safeJSON instead.
func safeText(s string) string { return escapeText(s, false) }

// safeLines is safeText for messages of several lines (errors): it keeps
// newlines and escapes the rest.
func safeLines(s string) string { return escapeText(s, true) }

func escapeText(s string, keepNewlines bool) string {
	i := firstUnsafe(s, keepNewlines)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(s[i])|0x100, 16)[1:])
		case unsafeRune(r, keepNewlines):
			q := strconv.QuoteRuneToASCII(r) // '\x1b', '\u202e', '\r'
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// firstUnsafe returns the index of the first byte of s that needs escaping,
// or -1.
func firstUnsafe(s string, keepNewlines bool) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || unsafeRune(r, keepNewlines) {
			return i
		}
		i += n
	}
	return -1
}

// safeJSON returns encoded JSON with every character that may change what
// a terminal shows written as a \u escape: DEL, the C1 controls, format
// characters (bidi overrides and isolates, zero-width marks; beyond U+FFFF
// as a surrogate pair) and the line and paragraph separators, and a byte
// that is not UTF-8 as \ufffd (what decoders read it as). encoding/json
// escapes only the controls below U+0020, and people read -json on
// terminals too. In valid JSON such characters can only be inside strings,
// so a decoder reads the same values. b is returned as it is when nothing
// needs escaping.
func safeJSON(b []byte) []byte {
	i := firstUnsafeJSON(b)
	if i < 0 {
		return b
	}
	out := make([]byte, 0, len(b)+32)
	out = append(out, b[:i]...)
	for i < len(b) {
		r, n := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			out = append(out, `\ufffd`...)
		case r >= 0x7f && unsafeRune(r, true):
			if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
				out = appendJSONEscape(appendJSONEscape(out, r1), r2)
			} else {
				out = appendJSONEscape(out, r)
			}
		default:
			out = append(out, b[i:i+n]...)
		}
		i += n
	}
	return out
}

func appendJSONEscape(out []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	return append(out, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
}

// firstUnsafeJSON returns the index of the first byte of b that safeJSON
// rewrites, or -1.
func firstUnsafeJSON(b []byte) int {
	for i := 0; i < len(b); {
		if b[i] < 0x7f {
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if (r == utf8.RuneError && n == 1) || unsafeRune(r, true) {
			return i
		}
		i += n
	}
	return -1
}

// safeJSONWriter passes what it is given through safeJSON: for a
// json.Encoder, which writes each value whole in one Write.
type safeJSONWriter struct{ w io.Writer }

func (s safeJSONWriter) Write(p []byte) (int, error) {
	if _, err := s.w.Write(safeJSON(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// unsafeRune reports whether r may change what a terminal shows beyond
// itself.
func unsafeRune(r rune, keepNewlines bool) bool {
	switch {
	case r == '\n':
		return !keepNewlines
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r < 0x7f:
		return false
	}
	return unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029'
}
