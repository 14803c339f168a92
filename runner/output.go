package runner

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
)

// DefaultOutputCap is how much of a step's stdout is kept for step.NAME.output.
const DefaultOutputCap = 64 << 10

// maxLine is the longest line emitted as one event; longer runs are split.
const maxLine = 64 << 10

// lineWriter splits a stream into lines and hands each to emit; when capture
// is not nil it also keeps the first cap bytes of the stream.
type lineWriter struct {
	mu      sync.Mutex
	buf     []byte
	emit    func(line string)
	capture *capBuffer
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.capture != nil {
		w.capture.write(p)
	}
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.emit(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	for len(w.buf) >= maxLine {
		w.emit(string(w.buf[:maxLine]))
		w.buf = w.buf[maxLine:]
	}
	if len(w.buf) == 0 {
		w.buf = nil // let a large backing array go
	}
	return len(p), nil
}

// copyBufs are the buffers ReadFrom reads a stream with, kept between
// steps: io.Copy would allocate 32 KiB for each stream of each step, which
// in a run of many short steps was half of all the garbage (issue 12.5).
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// ReadFrom reads r to its end and writes what it reads as Write does; it is
// what io.Copy, and so os/exec's copy of a command's output, calls. The error
// is r's, nil at end of file.
func (w *lineWriter) ReadFrom(r io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	var n int64
	for {
		m, err := r.Read(*bp)
		if m > 0 {
			w.Write((*bp)[:m])
			n += int64(m)
		}
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// Flush emits a final line that had no newline.
func (w *lineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(string(w.buf))
		w.buf = nil
	}
}

// capBuffer keeps the first cap bytes written to it.
type capBuffer struct {
	cap int
	b   []byte
}

func (c *capBuffer) write(p []byte) {
	if room := c.cap - len(c.b); room > 0 {
		c.b = append(c.b, p[:min(room, len(p))]...)
	}
}

// String returns the kept bytes with one trailing newline (and CR) removed.
func (c *capBuffer) String() string {
	s := string(c.b)
	s = strings.TrimSuffix(s, "\n")
	return strings.TrimSuffix(s, "\r")
}
