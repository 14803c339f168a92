package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestFitCells(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"a longer line", 10, "a longer …"},
		{"日本語のテキスト", 9, "日本語の…"}, // two cells each: 4×2 + 1
		{"café crème brûlée", 8, "café cr…"},
		{"x", 0, ""},
	} {
		got := fitCells(tc.in, tc.max)
		if got != tc.want || cellWidth(got) > tc.max {
			t.Errorf("fitCells(%q, %d) = %q (%d cells), want %q", tc.in, tc.max, got, cellWidth(got), tc.want)
		}
	}
}

// TestStatusBlock_redraw: lines are cut to the width less one column;
// clearing after the terminal shrank erases every row the reflowed lines
// take, one by one (never with erase-display), and starts from the first.
func TestStatusBlock_redraw(t *testing.T) {
	var buf bytes.Buffer
	width := 80
	s := &statusBlock{w: &buf, width: func() int { return width }}
	s.draw([]string{strings.Repeat("a", 200), "short"})
	if s.cells[0] != 79 || s.cells[1] != 5 {
		t.Fatalf("cells %v, want [79 5]", s.cells)
	}
	buf.Reset()
	width = 30 // 79 cells now take 3 rows, 5 take 1: 4 rows
	s.clear()
	want := "\x1b[3A" + "\r\x1b[K\x1b[B\r\x1b[K\x1b[B\r\x1b[K\x1b[B\r\x1b[K" + "\x1b[3A"
	if got := buf.String(); got != want {
		t.Errorf("clear after shrinking: %q, want %q", got, want)
	}
	if strings.Contains(buf.String(), "\x1b[J") {
		t.Error("erase-display used: tmux pushes a cleared screen into the scrollback")
	}
	buf.Reset()
	s.clear() // nothing drawn: nothing written
	if buf.Len() != 0 {
		t.Errorf("clearing an empty block wrote %q", buf.String())
	}
}
