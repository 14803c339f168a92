package config

import "strings"

// Here-documents: cmd <<WORD announces a body that starts at the next
// newline and ends at a line holding only WORD (after leading tabs, with
// <<-). An unquoted body expands parameters like a double-quoted string; a
// body whose WORD was quoted is not expanded at all.

// redirect handles a < in a command: << and <<- announce a here-document
// (<<< is a bash here-string).
func (l *shellLexer) redirect(text string, i int) int {
	switch {
	case strings.HasPrefix(text[i:], "<<<"):
		return 2
	case strings.HasPrefix(text[i:], "<<"):
		strip := strings.HasPrefix(text[i:], "<<-")
		l.opPending = true
		l.heredocs = append(l.heredocs, shellFrame{kind: frameHeredoc, strip: strip})
		if strip {
			return 2
		}
		return 1
	}
	return 0
}

// heredocWord reads the delimiter of the here-document announced last.
func (l *shellLexer) heredocWord(text string, i int) int {
	l.opPending = false
	h := &l.heredocs[len(l.heredocs)-1]
	var b strings.Builder
	j := i
	for ; j < len(text); j++ {
		c := text[j]
		if c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' || c == '|' || c == '<' || c == '>' || c == ')' {
			break
		}
		if c == '\'' || c == '"' || c == '\\' {
			h.quoted = true
			continue
		}
		b.WriteByte(c)
	}
	h.delim = b.String()
	l.word = false
	return j - i - 1
}

// newline starts the bodies of the here-documents announced on the line.
func (l *shellLexer) newline() {
	if len(l.heredocs) == 0 {
		return
	}
	for i := len(l.heredocs) - 1; i >= 0; i-- {
		l.push(l.heredocs[i])
	}
	l.heredocs = nil
	l.line.Reset()
}

func (l *shellLexer) heredocChar(text string, i int, f *shellFrame) int {
	c := text[i]
	if c == '\n' {
		line := l.line.String()
		if f.strip {
			line = strings.TrimLeft(line, "\t")
		}
		l.line.Reset()
		if line == f.delim {
			l.pop()
			l.escape, l.dollar = false, false
		}
		return 0
	}
	l.line.WriteByte(c)
	if f.quoted {
		return 0
	}
	if l.escape {
		l.escape = false
		return 0
	}
	wasDollar := l.dollar
	l.dollar = false
	if wasDollar {
		if n := l.expansion(text, i); n > 0 {
			l.line.WriteString(text[i+1 : i+n])
			return n - 1
		}
	}
	switch c {
	case '\\':
		l.escape = true
	case '$':
		l.dollar = true
	case '`':
		l.push(shellFrame{kind: frameBacktick})
	}
	return 0
}
