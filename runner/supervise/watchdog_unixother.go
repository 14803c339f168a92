//go:build unix && !linux && !darwin

package supervise

import (
	"os"
	"os/exec"
	"syscall"
	"time"
)

// platformWatchdogDelay: no parent-death signal is used here, so the watchdog
// is the only means by which a command dies with lockstep, and it is started
// before the first command.
const platformWatchdogDelay = 0

// uncovered says what a killed lockstep still takes with it without the
// watchdog.
const uncovered = "a killed lockstep leaves its commands running"

// parentPoll is how often the watchdog checks whether lockstep is gone when
// its pipe has not reached end of file.
const parentPoll = time.Second

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
// is gone (the watchdog was re-parented): the second line of defence should
// the pipe never reach end of file.
func parentDeath() <-chan struct{} {
	parent := os.Getppid()
	gone := make(chan struct{})
	go func() {
		tick := time.NewTicker(parentPoll)
		defer tick.Stop()
		for range tick.C {
			if os.Getppid() != parent {
				close(gone)
				return
			}
		}
	}()
	return gone
}
