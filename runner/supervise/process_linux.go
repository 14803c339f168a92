package supervise

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// lockThreadForChild: the parent-death signal is tied to the forking thread,
// which must outlive the child (see launch).
const lockThreadForChild = true

// childDeathSignal is the signal the kernel sends the command when lockstep
// dies. Tests set it to 0 to run the watchdog as the only cover, as on macOS.
var childDeathSignal = syscall.SIGKILL

func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: childDeathSignal}
}

// groupHasLiveMember reports whether process group pgid has a member that is
// not a zombie. Zombies count as members for kill(2), and an orphan's zombie
// may never be reaped where pid 1 does not reap, so /proc is read to tell
// them apart once kill says the group exists.
func groupHasLiveMember(pgid int) bool {
	if !groupAlive(pgid) {
		return false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	id := strconv.Itoa(pgid)
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// After the command name in parentheses: state ppid pgrp ...
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) >= 3 && f[2] == id && f[0] != "Z" && f[0] != "X" {
			return true
		}
	}
	return false
}
