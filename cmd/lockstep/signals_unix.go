//go:build unix

package main

import (
	"os"
	"syscall"
)

// stopSignals stop a command gracefully: running commands get SIGTERM
// (SIGKILL after their kill timeout), every lock is released, and lockstep
// exits 128+signal (DESIGN section 3). SIGHUP is a closed terminal or a
// dropped SSH session, SIGQUIT a Ctrl-\, SIGPIPE a broken stdout
// (`lockstep run | head`); without handling they would end lockstep at once
// and leave its locks held until their TTL ran out.
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGPIPE}

func isPipe(sig os.Signal) bool { return sig == syscall.SIGPIPE }

// resizeSignals tell that the terminal changed size: the status line is
// redrawn at once (statusLine).
var resizeSignals = []os.Signal{syscall.SIGWINCH}

func isResize(sig os.Signal) bool { return sig == syscall.SIGWINCH }
