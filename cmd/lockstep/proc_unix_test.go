//go:build unix

package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/lockstep-dev/lockstep/runner/supervise"
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

// hasWatchdog reports whether lockstep process pid has started its watchdog
// (supervise.EnableWatchdog): a child process running WatchdogArg. It is
// true where there is no /proc to tell.
func hasWatchdog(pid int) bool {
	if !procMounted() {
		return true
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child))
		i := bytes.LastIndexByte(stat, ')')
		if err != nil || i < 0 {
			continue
		}
		fields := strings.Fields(string(stat[i+1:])) // state, ppid, …
		if len(fields) < 2 || fields[1] != strconv.Itoa(pid) {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", child))
		if args := strings.Split(string(cmdline), "\x00"); len(args) > 1 && args[1] == supervise.WatchdogArg {
			return true
		}
	}
	return false
}

// watchdogVisible reports whether hasWatchdog can tell (there is a /proc).
func watchdogVisible() bool { return procMounted() }

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
