//go:build unix

package main

import (
	"os"
	"syscall"
)

// stopSignals stop a run or an exec gracefully: running commands get SIGTERM
// (SIGKILL after their kill timeout), every lock is released, and lockstep
// exits 128+signal (DESIGN section 3); a second one kills at once.
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}
