package main

import (
	"strconv"
	"strings"
	"unicode"
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
// without allocating. -json output never goes through it: JSON escapes
// control characters itself and must stay exact.
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
