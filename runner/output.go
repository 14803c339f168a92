package runner

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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

// outputDrain bounds how long the output is still waited for after the
// command exited while something else holds its pipes open (a background
// process outside lockstep's reach, one that left the group); after it,
// what is already in the pipes is still read, until they stay empty for
// drainQuiet.
const (
	outputDrain = 2 * time.Second
	drainQuiet  = 20 * time.Millisecond
)

// commandOutput is a command's stdout and stderr on pipes of lockstep's own,
// read into lineWriters by goroutines of its own. The command gets the pipes'
// write ends as files, so its exit is known as soon as it happens, whatever
// the reading does: an interrupted step frees its locks even while writing
// its output out waits for a stalled stdout (os/exec's own copying made
// Wait wait for it).
type commandOutput struct {
	stdout, stderr *os.File // the write ends, for the command
	reads          [2]*os.File
	writers        [2]*lineWriter
	copied         chan struct{} // closed when both streams were read to their end
	draining       atomic.Bool   // outputDrain has passed: stop at the first quiet read
}

// newCommandOutput sets up the pipes into out and errw and starts reading
// them.
func newCommandOutput(out, errw *lineWriter) (*commandOutput, error) {
	o := &commandOutput{writers: [2]*lineWriter{out, errw}, copied: make(chan struct{})}
	var writes [2]*os.File
	for i := range 2 {
		r, w, err := os.Pipe()
		if err != nil {
			for _, f := range append(o.reads[:i], writes[:i]...) {
				f.Close()
			}
			return nil, err
		}
		o.reads[i], writes[i] = r, w
	}
	o.stdout, o.stderr = writes[0], writes[1]
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() { o.copy(o.reads[i], o.writers[i]) })
	}
	go func() { wg.Wait(); close(o.copied) }()
	return o, nil
}

// copy reads r into w until end of file or, once draining, until a read
// finds r quiet for drainQuiet. Only the time spent waiting on r counts: a
// slow w (a stalled stdout) loses nothing that was written.
func (o *commandOutput) copy(r *os.File, w *lineWriter) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	for {
		if o.draining.Load() {
			_ = r.SetReadDeadline(time.Now().Add(drainQuiet))
		}
		n, err := r.Read(*bp)
		if n > 0 {
			w.Write((*bp)[:n])
		}
		if err != nil {
			return // end of file, quiet while draining, or closed
		}
	}
}

// started closes lockstep's copies of the write ends once the command has
// them (or could not start), so that the streams end when the command's
// group closes its own.
func (o *commandOutput) started() {
	o.stdout.Close()
	o.stderr.Close()
}

// finish waits, once the command exited, until its output has been read
// and emitted, and emits the last lines that had no newline. When something
// else keeps a pipe open for outputDrain, what is in it by then is read
// and the rest is not waited for; reading that waits on a slow emit (a
// stalled stdout) is waited for, however long.
func (o *commandOutput) finish() {
	t := time.NewTimer(outputDrain)
	defer t.Stop()
	select {
	case <-o.copied:
	case <-t.C:
		o.draining.Store(true)
		for _, r := range o.reads {
			// Wakes a read waiting on an empty pipe; where pipes have no
			// deadlines (Windows), closing it is the only way.
			if r.SetReadDeadline(time.Now().Add(drainQuiet)) != nil {
				r.Close()
			}
		}
		<-o.copied
	}
	for i := range 2 {
		o.reads[i].Close()
		o.writers[i].Flush()
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
