package main

import (
	"os"
	"syscall"
)

// stopSignals stop a run or an exec gracefully, as on Unix (signals_unix.go).
// On Windows, Ctrl-C and Ctrl-Break arrive as os.Interrupt; closing the
// console window, logoff and shutdown as syscall.SIGTERM (the Go runtime maps
// them); the other Unix signals never arrive.
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}
