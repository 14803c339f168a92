package supervise

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// lockThreadForChild: macOS has no parent-death signal, so the forking
// thread does not matter.
const lockThreadForChild = false

func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// sZomb is a zombie's p_stat in struct extern_proc (<sys/proc.h>).
const sZomb = 5

// groupHasLiveMember reports whether process group pgid has a member that is
// not a zombie. kill(2) counts zombies, so once it says the group exists the
// members are listed with sysctl kern.proc.pgrp to tell them apart; if that
// fails the group is taken as alive.
func groupHasLiveMember(pgid int) bool {
	if !groupAlive(pgid) {
		return false
	}
	procs, err := unix.SysctlKinfoProcSlice("kern.proc.pgrp", pgid)
	if err != nil {
		return true
	}
	for i := range procs {
		if procs[i].Proc.P_stat != sZomb {
			return true
		}
	}
	return false
}
