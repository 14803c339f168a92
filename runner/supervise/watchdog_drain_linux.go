package supervise

import (
	"errors"
	"io"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// drainEvery is how often the watchdog reads the registrations waiting in
// its pipe while lockstep lives. Reading each one as it came woke the
// watchdog twice a step, a process switch each, for nothing it needs before
// lockstep is gone; that it learns at once whatever drainEvery is, because
// the pipe's hang-up wakes it (pipeReader). Meanwhile the pipe holds the
// registrations: lockstep forks one command at a time (syscall.ForkLock),
// at most a few thousand a second, two short lines each, and a pipe holds
// 64 KiB.
var drainEvery = 50 * time.Millisecond

// registrations returns what the watchdog reads its registrations from: a
// pipe (its stdin) through pipeReader, anything else as it is.
func registrations(r io.Reader) io.Reader {
	f, ok := r.(*os.File)
	if !ok {
		return r
	}
	if st, err := f.Stat(); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		return r
	}
	return &pipeReader{f: f, fd: int(f.Fd())}
}

// pipeReader reads a pipe without being woken by every write. Read returns
// what the pipe holds; when it holds nothing, it waits in poll(2) for the
// hang-up alone (it asks for no event: POLLHUP and POLLERR are always
// reported, the arrival of data is not) for at most drainEvery, and looks
// again. After the hang-up it reads to the end of file as usual.
type pipeReader struct {
	f      *os.File // held so that its finalizer never closes fd
	fd     int
	hungUp bool
}

func (p *pipeReader) Read(b []byte) (int, error) {
	for !p.hungUp {
		n, err := unix.IoctlGetInt(p.fd, unix.TIOCINQ) // FIONREAD
		if err != nil {
			break // read as usual
		}
		if n > 0 {
			return p.read(b[:min(n, len(b))])
		}
		fds := []unix.PollFd{{Fd: int32(p.fd)}}
		_, err = unix.Poll(fds, int(drainEvery/time.Millisecond))
		switch {
		case errors.Is(err, unix.EINTR):
		case err == nil && fds[0].Revents&unix.POLLNVAL != 0:
			return p.read(b) // not a pipe poll understands: read as usual
		case err != nil || fds[0].Revents != 0:
			// lockstep is gone (or poll failed): read what it wrote,
			// to the end.
			p.hungUp = true
		}
	}
	return p.read(b)
}

func (p *pipeReader) read(b []byte) (int, error) {
	for {
		n, err := syscall.Read(p.fd, b)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case err != nil:
			return 0, err
		case n == 0 && len(b) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}
