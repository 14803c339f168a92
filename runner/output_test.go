package runner

import (
	"errors"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// TestLineWriter_readFrom: what io.Copy hands ReadFrom comes out as the same
// lines, captured output and errors as through Write.
func TestLineWriter_readFrom(t *testing.T) {
	long := strings.Repeat("x", maxLine+10)
	tests := []struct {
		name  string
		input string
		lines []string
	}{
		{"lines", "a\nbc\n\nd\n", []string{"a", "bc", "", "d"}},
		{"no final newline", "a\nb", []string{"a", "b"}},
		{"empty", "", nil},
		{"longer than a line event", long + "\n", []string{long[:maxLine], long[maxLine:]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			capture := &capBuffer{cap: 5}
			w := &lineWriter{capture: capture, emit: func(l string) { got = append(got, l) }}
			// One byte per read: lines come together across reads.
			n, err := io.Copy(w, iotest.OneByteReader(strings.NewReader(tt.input)))
			w.Flush()
			if err != nil || n != int64(len(tt.input)) {
				t.Fatalf("io.Copy = %d, %v; want %d, nil", n, err, len(tt.input))
			}
			if !slices.Equal(got, tt.lines) {
				t.Errorf("lines %q, want %q", got, tt.lines)
			}
			if want := tt.input[:min(5, len(tt.input))]; string(capture.b) != want {
				t.Errorf("captured %q, want %q", capture.b, want)
			}
		})
	}
}

// TestLineWriter_readFromError: a read error other than end of file is
// returned after what was read before it.
func TestLineWriter_readFromError(t *testing.T) {
	boom := errors.New("boom")
	var got []string
	w := &lineWriter{emit: func(l string) { got = append(got, l) }}
	n, err := w.ReadFrom(io.MultiReader(strings.NewReader("a\nb"), iotest.ErrReader(boom)))
	if n != 3 || !errors.Is(err, boom) {
		t.Fatalf("ReadFrom = %d, %v; want 3, %v", n, err, boom)
	}
	w.Flush()
	if !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("lines %q", got)
	}
}

// TestLineWriter_copyFromPipeReusesBuffer: copying a command's output (an
// *os.File, as os/exec does) no longer allocates a 32 KiB buffer per
// stream: in a run of many short steps those were half of all the garbage.
func TestLineWriter_copyFromPipeReusesBuffer(t *testing.T) {
	const n = 200 // many: under -race sync.Pool drops a quarter of what it is given
	copyOnce := func() {
		r, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		pw.WriteString("one line\n")
		pw.Close()
		if _, err := io.Copy(&lineWriter{emit: func(string) {}}, r); err != nil {
			t.Fatal(err)
		}
	}
	copyOnce() // the pool's first buffer
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		copyOnce()
	}
	runtime.ReadMemStats(&after)
	perCopy := (after.TotalAlloc - before.TotalAlloc) / n
	t.Logf("%d bytes allocated per copy", perCopy)
	if perCopy >= 16<<10 {
		t.Errorf("%d bytes allocated per copy of a one-line stream; want well under the 32 KiB io.Copy allocates", perCopy)
	}
}
