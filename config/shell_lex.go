package config

import (
	"strconv"
	"strings"
)

// shellLexer follows the quoting context of the literal text of a shell
// template, character by character, so that the compiler knows how to
// reference a positional parameter at each interpolation. It understands
// what decides quoting in POSIX sh: single and double quotes, backslash
// escapes, comments, $( ), backticks, ${ }, $(( )) (and bash's (( ))) and
// here-documents. Where it could lose track (a case pattern's ")" inside
// $( ), say), the worst outcome is a value split into words or not
// delivered: a parameter expansion is never parsed as code, whatever the
// context it lands in, except in arithmetic, where interpolations are
// refused.
type shellLexer struct {
	stack  []shellFrame // innermost last; empty is the top level
	escape bool         // the previous character was an active backslash
	dollar bool         // the previous character was an active, unescaped $
	word   bool         // inside a word (a # here is not a comment)
	// heredocs are here-documents announced on the current line; their
	// bodies start at the next newline.
	heredocs []shellFrame
	line     strings.Builder // the current line of a here-document body
	// opPending is set after << until the delimiter word is read.
	opPending bool
}

type frameKind uint8

const (
	frameCommand  frameKind = iota // $( ... ): a nested command
	frameBacktick                  // ` ... `
	frameSingle                    // ' ... '
	frameDouble                    // " ... "
	frameParam                     // ${ ... }
	frameArith                     // $(( ... )) or (( ... ))
	frameComment                   // # ... up to the end of the line
	frameHeredoc                   // a here-document body
)

type shellFrame struct {
	kind   frameKind
	depth  int    // nested ( in commands and arithmetic, { in parameters
	delim  string // here-document delimiter
	strip  bool   // <<- : leading tabs are stripped
	quoted bool   // the delimiter was quoted: the body is not expanded
}

func (l *shellLexer) top() *shellFrame {
	if len(l.stack) == 0 {
		return nil
	}
	return &l.stack[len(l.stack)-1]
}

func (l *shellLexer) push(f shellFrame) { l.stack = append(l.stack, f) }
func (l *shellLexer) pop()              { l.stack = l.stack[:len(l.stack)-1] }

// clone returns an independent copy, for walking both branches of an if.
func (l *shellLexer) clone() *shellLexer {
	c := &shellLexer{escape: l.escape, dollar: l.dollar, word: l.word, opPending: l.opPending}
	c.stack = append([]shellFrame(nil), l.stack...)
	c.heredocs = append([]shellFrame(nil), l.heredocs...)
	c.line.WriteString(l.line.String())
	return c
}

// inDouble reports whether the innermost quoting frame that decides word
// splitting is a double quote (or an unquoted here-document body).
func (l *shellLexer) inDouble() bool {
	for i := len(l.stack) - 1; i >= 0; i-- {
		switch l.stack[i].kind {
		case frameDouble:
			return true
		case frameHeredoc:
			return true
		case frameCommand, frameSingle:
			return false
		}
	}
	return false
}

// feed advances the lexer over literal shell text.
func (l *shellLexer) feed(text string) {
	for i := 0; i < len(text); i++ {
		i += l.char(text, i)
	}
}

// char handles text[i] and returns how many more characters it consumed.
func (l *shellLexer) char(text string, i int) int {
	c := text[i]
	f := l.top()
	if f != nil && f.kind == frameHeredoc {
		return l.heredocChar(text, i, f)
	}
	if l.escape {
		l.escape, l.dollar, l.word = false, false, true
		return 0
	}
	wasDollar := l.dollar
	l.dollar = false
	switch {
	case f == nil || f.kind == frameCommand || f.kind == frameBacktick:
		return l.commandChar(text, i, f, wasDollar)
	case f.kind == frameSingle:
		if c == '\'' {
			l.pop()
		}
	case f.kind == frameDouble:
		return l.doubleChar(text, i, wasDollar)
	case f.kind == frameParam:
		return l.paramChar(text, i, f, wasDollar)
	case f.kind == frameArith:
		return l.arithChar(text, i, f)
	case f.kind == frameComment:
		if c == '\n' {
			l.pop()
			l.newline()
		}
	}
	return 0
}

// expansion handles what follows a $ in a context where it is active.
func (l *shellLexer) expansion(text string, i int) int {
	switch {
	case strings.HasPrefix(text[i:], "(("):
		l.push(shellFrame{kind: frameArith})
		return 2
	case strings.HasPrefix(text[i:], "("):
		l.push(shellFrame{kind: frameCommand})
		return 1
	case strings.HasPrefix(text[i:], "{"):
		l.push(shellFrame{kind: frameParam})
		return 1
	}
	return 0
}

func (l *shellLexer) commandChar(text string, i int, f *shellFrame, wasDollar bool) int {
	c := text[i]
	if wasDollar {
		if n := l.expansion(text, i); n > 0 {
			return n - 1
		}
	}
	if l.opPending && c != ' ' && c != '\t' && c != '-' {
		return l.heredocWord(text, i)
	}
	word := true
	switch c {
	case '\\':
		l.escape = true
	case '\'':
		l.push(shellFrame{kind: frameSingle})
	case '"':
		l.push(shellFrame{kind: frameDouble})
	case '`':
		if f != nil && f.kind == frameBacktick {
			l.pop()
		} else {
			l.push(shellFrame{kind: frameBacktick})
		}
	case '$':
		l.dollar = true
	case '#':
		if !l.word {
			l.push(shellFrame{kind: frameComment})
		}
	case '(', ')':
		return l.paren(text, i, f)
	case '<':
		l.word = false
		return l.redirect(text, i)
	case '\n':
		word = false
		l.newline()
	case ' ', '\t', ';', '&', '|', '>':
		word = false
	}
	l.word = word
	return 0
}

func (l *shellLexer) doubleChar(text string, i int, wasDollar bool) int {
	if wasDollar {
		if n := l.expansion(text, i); n > 0 {
			return n - 1
		}
	}
	switch text[i] {
	case '\\':
		l.escape = true
	case '"':
		l.pop()
	case '$':
		l.dollar = true
	case '`':
		l.push(shellFrame{kind: frameBacktick})
	}
	return 0
}

func (l *shellLexer) paramChar(text string, i int, f *shellFrame, wasDollar bool) int {
	if wasDollar {
		if n := l.expansion(text, i); n > 0 {
			return n - 1
		}
	}
	switch text[i] {
	case '\\':
		l.escape = true
	case '$':
		l.dollar = true
	case '{':
		f.depth++
	case '}':
		if f.depth == 0 {
			l.pop()
		} else {
			f.depth--
		}
	case '"':
		l.push(shellFrame{kind: frameDouble})
	case '\'':
		if !l.inDouble() {
			l.push(shellFrame{kind: frameSingle})
		}
	case '`':
		l.push(shellFrame{kind: frameBacktick})
	}
	return 0
}

func (l *shellLexer) arithChar(text string, i int, f *shellFrame) int {
	switch text[i] {
	case '(':
		f.depth++
	case ')':
		if f.depth > 0 {
			f.depth--
			return 0
		}
		l.pop()
		if strings.HasPrefix(text[i:], "))") {
			return 1
		}
	}
	return 0
}

// shellRef is how the script refers to positional parameter n here, or ""
// with the reason when an interpolation cannot be data at this point.
func (l *shellLexer) shellRef(n int) (ref, why string) {
	param := "${" + strconv.Itoa(n) + "}"
	switch {
	case l.escape:
		return "", "it follows a backslash, which would escape the quote lockstep puts around the value"
	case l.dollar:
		return "", "it follows a $, which would join the two"
	case l.opPending:
		return "", "it is a here-document delimiter, which must be written literally"
	}
	f := l.top()
	if f == nil {
		return `"` + param + `"`, ""
	}
	switch f.kind {
	case frameSingle:
		return `'"` + param + `"'`, ""
	case frameDouble:
		return param, ""
	case frameArith:
		return "", "it is inside an arithmetic expansion, where shells such as bash evaluate a value as code; compute the number in the template instead (${a + b})"
	case frameHeredoc:
		if f.quoted {
			return "", "it is inside a here-document whose delimiter is quoted, which the shell does not expand; unquote the delimiter"
		}
		return param, ""
	case frameParam, frameBacktick:
		if l.inDouble() {
			return param, ""
		}
	}
	return `"` + param + `"`, ""
}

// interpolated records that a parameter reference was written here: it is
// part of a word, and of the current here-document line.
func (l *shellLexer) interpolated() {
	l.word = true
	if f := l.top(); f != nil && f.kind == frameHeredoc {
		l.line.WriteByte(0)
	}
}

// paren handles ( and ) in a command: (( at the start of a command is
// bash's arithmetic; in $( ) parentheses nest until the closing one.
func (l *shellLexer) paren(text string, i int, f *shellFrame) int {
	atStart := !l.word
	l.word = false
	if text[i] == '(' {
		if atStart && strings.HasPrefix(text[i:], "((") {
			l.push(shellFrame{kind: frameArith})
			return 1
		}
		if f != nil && f.kind == frameCommand {
			f.depth++
		}
		return 0
	}
	if f != nil && f.kind == frameCommand {
		if f.depth == 0 {
			l.pop()
			l.word = true
		} else {
			f.depth--
		}
	}
	return 0
}
