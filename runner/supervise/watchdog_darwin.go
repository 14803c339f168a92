package supervise

import (
	"errors"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// platformWatchdogDelay: macOS has no parent-death signal, so the watchdog is
// the only means by which a command dies with lockstep. It is started before
// the first command (about one process start of CPU, once per lockstep), so
// there is no window in which kill -9 of lockstep leaves a command running
// but the instant between a command's fork and its registration.
const platformWatchdogDelay = 0

// uncovered says what a killed lockstep still takes with it without the
// watchdog.
const uncovered = "a killed lockstep leaves its commands running"

// watchdogCommand is the watchdog's executable and process attributes.
func watchdogCommand() (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return &exec.Cmd{
		Path:        exe,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true}, // out of reach of the terminal's Ctrl-C and of lockstep's group
	}, nil
}

// parentDeath returns a channel closed once the watchdog's parent, lockstep,
// has exited, as kqueue's EVFILT_PROC/NOTE_EXIT reports: the second line of
// defence should the pipe never reach end of file. If kqueue cannot watch
// the parent the channel is never closed and the pipe alone ends the
// watchdog.
func parentDeath() <-chan struct{} {
	gone := make(chan struct{})
	parent := os.Getppid()
	kq, err := unix.Kqueue()
	if err != nil {
		return nil
	}
	var ev unix.Kevent_t
	unix.SetKevent(&ev, parent, unix.EVFILT_PROC, unix.EV_ADD|unix.EV_ONESHOT)
	ev.Fflags = unix.NOTE_EXIT
	if _, err := unix.Kevent(kq, []unix.Kevent_t{ev}, nil, nil); err != nil {
		unix.Close(kq)
		if errors.Is(err, unix.ESRCH) { // already gone
			close(gone)
			return gone
		}
		return nil
	}
	go func() {
		defer unix.Close(kq)
		events := make([]unix.Kevent_t, 1)
		for {
			n, err := unix.Kevent(kq, nil, events, nil)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				return
			}
			if n > 0 {
				close(gone)
				return
			}
		}
	}()
	return gone
}
