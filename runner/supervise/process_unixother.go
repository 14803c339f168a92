//go:build unix && !linux && !darwin

package supervise

import "syscall"

// lockThreadForChild: no parent-death signal is used here, so the forking
// thread does not matter.
const lockThreadForChild = false

func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// groupHasLiveMember reports whether process group pgid still has a member.
// Limit: kill(2) counts zombies and nothing portable tells them apart, so a
// zombie nobody reaps keeps the group "alive" until the caller's deadline
// (groupGoneWait after the kill).
func groupHasLiveMember(pgid int) bool { return groupAlive(pgid) }
