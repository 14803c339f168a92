package supervise

import (
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

// platformWatchdogDelay: on Linux the watchdog is started 10 ms after a
// command starts, if a command's group is still registered then. Starting it
// costs about as much CPU as starting lockstep, which a short `lockstep exec`
// would feel on a small machine; with the delay, a lockstep whose commands
// all end within it never starts one (when they ended before the delay was
// over, the next command schedules the start again). The price is a window:
// kill -9 of lockstep within 10 ms of a command's start, before the watchdog
// runs, reaches only the command itself (its parent-death signal), not the
// rest of its group.
const platformWatchdogDelay = 10 * time.Millisecond

// uncovered says what a killed lockstep still takes with it without the
// watchdog.
const uncovered = "a killed lockstep takes only its commands themselves (not the rest of their groups) with it"

// watchdogDeathSignal is the watchdog's parent-death signal, its second line
// of defence should the pipe never reach end of file (its write end leaked
// into another process). Its default action is to be ignored, so it cannot
// kill the watchdog before the watchdog is ready to handle it.
const watchdogDeathSignal = syscall.SIGWINCH

// watchdogCommand is the watchdog's executable and process attributes.
func watchdogCommand() (*exec.Cmd, error) {
	return &exec.Cmd{
		Path: "/proc/self/exe", // this executable, even if its file was replaced
		SysProcAttr: &syscall.SysProcAttr{
			Setpgid:   true, // out of reach of the terminal's Ctrl-C and of lockstep's group
			Pdeathsig: watchdogDeathSignal,
		},
	}, nil
}

// parentDeath returns a channel closed once the watchdog's parent, lockstep,
// is gone, as its parent-death signal tells. The signal also comes when the
// lockstep thread that forked the watchdog exits; the parent pid tells the
// two apart.
func parentDeath() <-chan struct{} {
	parent := os.Getppid()
	died := make(chan os.Signal, 1)
	signal.Notify(died, watchdogDeathSignal)
	gone := make(chan struct{})
	go func() {
		for range died {
			if os.Getppid() != parent {
				close(gone)
				return
			}
		}
	}()
	return gone
}
