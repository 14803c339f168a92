//go:build unix

package main

import (
	"bytes"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// alive reports whether pid is a running (not zombie) process. Zombies are
// told apart through /proc where there is one.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !procMounted() // gone meanwhile, or no /proc to tell zombies by
	}
	// The state follows the command name in parentheses.
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

// procMounted reports whether /proc lists processes (Linux).
func procMounted() bool {
	_, err := os.Stat("/proc/self/stat")
	return err == nil
}

// killPid kills process pid at once.
func killPid(pid int) { syscall.Kill(pid, syscall.SIGKILL) }

// monotonicNS is CLOCK_MONOTONIC in nanoseconds: comparable across the
// processes of one host.
func monotonicNS() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic(err)
	}
	return ts.Nano()
}
