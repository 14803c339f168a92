package supervise

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// readResult is what one Read returned.
type readResult struct {
	s   string
	err error
}

// pipeRegistrations returns a pipe's write end and its read end as the
// watchdog reads it (registrations), with drainEvery set to every.
func pipeRegistrations(t *testing.T, every time.Duration) (*os.File, io.Reader) {
	t.Helper()
	old := drainEvery
	drainEvery = every
	t.Cleanup(func() { drainEvery = old })
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	pr := registrations(r)
	if _, ok := pr.(*pipeReader); !ok {
		t.Fatalf("a pipe is read through %T, want *pipeReader", pr)
	}
	return w, pr
}

// readAsync starts one Read of pr and returns where its result arrives.
func readAsync(pr io.Reader) <-chan readResult {
	got := make(chan readResult, 1)
	go func() {
		b := make([]byte, 64)
		n, err := pr.Read(b)
		got <- readResult{string(b[:n]), err}
	}()
	return got
}

// waitingInPoll reports whether a thread of this process is in ppoll(2),
// where pipeReader waits (the Go runtime itself never calls it).
func waitingInPoll() bool {
	files, _ := filepath.Glob("/proc/self/task/*/syscall")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		nr, _, _ := strings.Cut(string(b), " ")
		if n, err := strconv.Atoi(strings.TrimSpace(nr)); err == nil && n == unix.SYS_PPOLL {
			return true
		}
	}
	return false
}

// TestPipeReader_wokenByHangUpOnly: a registration written while lockstep
// lives does not wake the watchdog (drainEvery is an hour here); the hang-up
// of the pipe does, at once, and the registration is read before the end of
// file.
func TestPipeReader_wokenByHangUpOnly(t *testing.T) {
	w, pr := pipeRegistrations(t, time.Hour)
	got := readAsync(pr)
	waitFor(t, "the reader to wait in poll", 5*time.Second, waitingInPoll)
	if _, err := w.WriteString("+123\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-got:
		t.Fatalf("a write woke the reader: %q, %v", res.s, res.err)
	case <-time.After(300 * time.Millisecond): // asserting that nothing happens
	}
	w.Close()
	select {
	case res := <-got:
		if res.s != "+123\n" || res.err != nil {
			t.Fatalf("Read after the hang-up = %q, %v; want the registration", res.s, res.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the hang-up did not wake the reader")
	}
	if n, err := pr.Read(make([]byte, 64)); n != 0 || err != io.EOF {
		t.Fatalf("Read at the end = %d, %v; want 0, EOF", n, err)
	}
}

// TestPipeReader_drainsWhileWriterLives: while lockstep lives, what it wrote
// is read within drainEvery, so the pipe never fills up.
func TestPipeReader_drainsWhileWriterLives(t *testing.T) {
	w, pr := pipeRegistrations(t, 10*time.Millisecond)
	got := readAsync(pr)
	if _, err := w.WriteString("+123\n-123\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-got:
		if res.s != "+123\n-123\n" || res.err != nil {
			t.Fatalf("Read = %q, %v; want both registrations", res.s, res.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a live writer's registrations were not read")
	}
}

// TestPipeReader_groupSet: the watchdog's set, read through pipeReader,
// ends with what the lines left registered.
func TestPipeReader_groupSet(t *testing.T) {
	w, pr := pipeRegistrations(t, 10*time.Millisecond)
	w.WriteString("+5\n+7\n-5\n")
	w.Close()
	s := newGroupSet()
	s.read(pr)
	if _, ok := s.m[7]; len(s.m) != 1 || !ok {
		t.Fatalf("registered %v, want only 7", s.m)
	}
}
