package main

import (
	"os"
	"syscall"
)

// stopSignals stop a command gracefully, as on Unix (signals_unix.go).
// On Windows, Ctrl-C and Ctrl-Break arrive as os.Interrupt; closing the
// console window, logoff and shutdown as syscall.SIGTERM (the Go runtime maps
// them); the other Unix signals never arrive, and a broken stdout is only a
// write error (pipeWriter).
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

func isPipe(os.Signal) bool { return false }

// resizeSignals is empty: Windows has no SIGWINCH; the status line adapts at
// its next redraw (every second).
var resizeSignals []os.Signal

func isResize(os.Signal) bool { return false }
