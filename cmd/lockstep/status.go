package main

import (
	"fmt"
	"io"
	"strings"
	"unicode"

	"golang.org/x/text/width"
)

// statusBlock is a few lines of progress (one per waiter) redrawn in place
// at the bottom of a terminal. Each line is cut to the terminal's width minus
// one column so that it never wraps, and clearing the block also clears
// every row its lines were split onto when the terminal shrank and reflowed
// them (the rows a line of n cells takes at the new width: tmux, VTE, iTerm2
// and Windows Terminal reflow; a terminal that truncates instead loses a few
// rows above the block from view at such a resize, never more). Callers
// serialise access.
type statusBlock struct {
	w     io.Writer
	width func() int // columns now; 0 when unknown
	cells []int      // cells of each line on the terminal; empty when none
}

// fallbackWidth is used when the terminal does not say its width.
const fallbackWidth = 80

func (s *statusBlock) columns() int {
	if s.width != nil {
		if w := s.width(); w > 0 {
			return w
		}
	}
	return fallbackWidth
}

// draw replaces the block with lines, each cut to fit.
func (s *statusBlock) draw(lines []string) {
	cols := s.columns()
	var b strings.Builder
	s.clearInto(&b, cols)
	s.cells = s.cells[:0]
	for i, l := range lines {
		l = fitCells(l, cols-1)
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(l)
		s.cells = append(s.cells, cellWidth(l))
	}
	io.WriteString(s.w, b.String())
}

// clear removes the block, leaving the cursor at the start of its first row.
func (s *statusBlock) clear() {
	if len(s.cells) == 0 {
		return
	}
	var b strings.Builder
	s.clearInto(&b, s.columns())
	io.WriteString(s.w, b.String())
	s.cells = s.cells[:0]
}

// clearInto writes what erases the block's rows, one by one with erase-line
// (never erase-display: tmux, with scroll-on-clear, pushes a screen cleared
// from its top corner into the scrollback), and leaves the cursor at the
// start of the block's first row.
func (s *statusBlock) clearInto(b *strings.Builder, cols int) {
	rows := 0
	for _, n := range s.cells {
		rows += max(1, (n+cols-1)/cols)
	}
	if rows == 0 {
		return
	}
	if rows > 1 {
		fmt.Fprintf(b, "\x1b[%dA", rows-1)
	}
	for i := 0; i < rows; i++ {
		b.WriteString("\r\x1b[K")
		if i < rows-1 {
			b.WriteString("\x1b[B")
		}
	}
	if rows > 1 {
		fmt.Fprintf(b, "\x1b[%dA", rows-1)
	}
}

// cellWidth is the number of terminal cells s takes: East Asian wide and
// fullwidth characters take two, combining marks none, the rest one.
func cellWidth(s string) int {
	n := 0
	for _, r := range s {
		n += runeCells(r)
	}
	return n
}

func runeCells(r rune) int {
	switch {
	case r < 0x300:
		return 1
	case unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r):
		return 0
	}
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return 2
	}
	return 1
}

// fitCells cuts s to at most max cells, ending it with "…" when cut.
func fitCells(s string, max int) string {
	if max < 1 {
		return ""
	}
	if cellWidth(s) <= max {
		return s
	}
	n := 0
	for i, r := range s {
		c := runeCells(r)
		if n+c > max-1 {
			return s[:i] + "…"
		}
		n += c
	}
	return s
}
