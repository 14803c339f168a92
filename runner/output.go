package runner

import (
	"bytes"
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
