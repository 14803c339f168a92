package config

import (
	"bytes"
	"runtime"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Large workflows are parsed a piece at a time. hclsyntax lexes a whole file
// into one token slice before parsing it — about 40 times the size of the
// source, grown by doubling — which dominated the time and the memory of
// validating a 10,000-step workflow. A file of native syntax is instead cut
// between top-level blocks into chunks of about chunkSize bytes, each parsed
// on its own at its own position, and the bodies are joined: the result is
// the same syntax tree, with the same ranges. Should anything be unusual
// (a chunk with an error, an unbalanced cut), the file is parsed whole, so
// diagnostics are exactly HCL's.

// chunkSize is the size of the pieces a large file is parsed in (a variable
// for tests).
var chunkSize = 16 << 10

// eachChunk parses src in chunks on up to GOMAXPROCS goroutines and calls
// f with each chunk's body, in file order, on the caller's goroutine, as
// soon as it is parsed; a few chunks at most are parsed ahead. It returns
// false when the file cannot be parsed that way (a cut it cannot make, a
// chunk with an error); f may then have been called for earlier chunks.
func eachChunk(src []byte, filename string, f func(*hclsyntax.Body)) bool {
	cuts, ok := topLevelCuts(src)
	if !ok {
		return false
	}
	type chunk struct {
		start, end int
		pos        hcl.Pos
		done       chan *hclsyntax.Body // nil body: failed
	}
	var chunks []*chunk
	start, pos := 0, hcl.InitialPos
	for i, end := range append(cuts, len(src)) {
		if end-start < chunkSize && i < len(cuts) {
			continue
		}
		chunks = append(chunks, &chunk{start: start, end: end, pos: pos, done: make(chan *hclsyntax.Body, 1)})
		pos = advance(pos, src[start:end])
		start = end
	}
	ahead := make(chan struct{}, 2*runtime.GOMAXPROCS(0))
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for _, c := range chunks {
			select {
			case ahead <- struct{}{}:
			case <-stop:
				return
			}
			go func() { c.done <- parseChunk(src, filename, c.start, c.end, c.pos) }()
		}
	}()
	for _, c := range chunks {
		body := <-c.done
		<-ahead
		if body == nil {
			return false
		}
		f(body)
	}
	return true
}

// parseChunk parses src[start:end], which begins at pos; nil on any error.
func parseChunk(src []byte, filename string, start, end int, pos hcl.Pos) (body *hclsyntax.Body) {
	defer func() {
		if recover() != nil {
			body = nil // parsed again whole, where safely reports it
		}
	}()
	f, diags := hclsyntax.ParseConfig(src[start:end], filename, pos)
	if diags.HasErrors() || len(f.Body.(*hclsyntax.Body).Attributes) > 0 {
		return nil // top-level attributes: let the whole file report them
	}
	return f.Body.(*hclsyntax.Body)
}

// advance moves pos over text.
func advance(pos hcl.Pos, text []byte) hcl.Pos {
	lines := bytes.Count(text, []byte{'\n'})
	pos.Byte += len(text)
	if lines == 0 {
		pos.Column += len(text) // bytes, not characters: cuts follow newlines, so this is never used
		return pos
	}
	pos.Line += lines
	pos.Column = len(text) - bytes.LastIndexByte(text, '\n')
	return pos
}

// topLevelCuts returns the offsets just after each newline that ends a
// top-level item (outside any bracket, string, comment or heredoc), where
// the file may be cut. ok is false when the scan ends inside something.
func topLevelCuts(src []byte) (cuts []int, ok bool) {
	s := &cutScanner{src: src}
	for s.i < len(src) {
		c := src[s.i]
		switch {
		case c == '\n':
			s.i++
			if s.depth == 0 {
				cuts = append(cuts, s.i)
			}
		case c == '#' || c == '/' && s.peek(1) == '/':
			s.skipLine()
		case c == '/' && s.peek(1) == '*':
			if !s.skipPast("*/") {
				return nil, false
			}
		case c == '"':
			if !s.skipString() {
				return nil, false
			}
		case c == '<' && s.peek(1) == '<':
			if !s.skipHeredoc() {
				return nil, false
			}
		case c == '{' || c == '[' || c == '(':
			s.depth++
			s.i++
		case c == '}' || c == ']' || c == ')':
			s.depth--
			s.i++
			if s.depth < 0 {
				return nil, false
			}
		default:
			s.i++
		}
	}
	return cuts, s.depth == 0
}

type cutScanner struct {
	src   []byte
	i     int
	depth int
}

func (s *cutScanner) peek(n int) byte {
	if s.i+n < len(s.src) {
		return s.src[s.i+n]
	}
	return 0
}

func (s *cutScanner) skipLine() {
	for s.i < len(s.src) && s.src[s.i] != '\n' {
		s.i++
	}
}

func (s *cutScanner) skipPast(end string) bool {
	k := bytes.Index(s.src[s.i+len(end):], []byte(end))
	if k < 0 {
		return false
	}
	s.i += len(end) + k + len(end)
	return true
}

// skipString skips a quoted string, with the templates inside it (which may
// hold strings and braces of their own).
func (s *cutScanner) skipString() bool {
	s.i++ // opening quote
	for s.i < len(s.src) {
		switch c := s.src[s.i]; {
		case c == '\\':
			s.i += 2
		case c == '"':
			s.i++
			return true
		case c == '\n':
			return false // strings do not span lines
		case (c == '$' || c == '%') && s.peek(1) == '{':
			if c == '$' && s.i > 0 && s.src[s.i-1] == '$' || c == '%' && s.i > 0 && s.src[s.i-1] == '%' {
				s.i += 2 // $${ and %%{ are escapes
				continue
			}
			if !s.skipTemplate() {
				return false
			}
		default:
			s.i++
		}
	}
	return false
}

// skipTemplate skips ${ ... } or %{ ... } inside a string.
func (s *cutScanner) skipTemplate() bool {
	s.i += 2
	depth := 1
	for s.i < len(s.src) && depth > 0 {
		switch s.src[s.i] {
		case '{':
			depth++
			s.i++
		case '}':
			depth--
			s.i++
		case '"':
			if !s.skipString() {
				return false
			}
		case '\n':
			return false
		default:
			s.i++
		}
	}
	return depth == 0
}

// skipHeredoc skips <<EOT … EOT (or <<-EOT) through its closing line. A <<
// that does not start a heredoc is skipped as two characters.
func (s *cutScanner) skipHeredoc() bool {
	j := s.i + 2
	if j < len(s.src) && s.src[j] == '-' {
		j++
	}
	k := j
	for k < len(s.src) && (isIdentByte(s.src[k])) {
		k++
	}
	if k == j || k >= len(s.src) || s.src[k] != '\n' {
		s.i += 2
		return true
	}
	marker := string(s.src[j:k])
	for line := k + 1; line < len(s.src); {
		end := bytes.IndexByte(s.src[line:], '\n')
		if end < 0 {
			end = len(s.src) - line
		}
		if strings.TrimSpace(string(s.src[line:line+end])) == marker {
			s.i = line + end // the newline after the marker ends the item
			return true
		}
		line += end + 1
	}
	return false
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
