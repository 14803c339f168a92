//go:build unix

package supervise

import (
	"os"
	"os/exec"
	"runtime"
	"syscall"
)

// osGroup is what a Process needs to control its group on Unix: the group id
// is the command's pid; the watchdog client, when there is one, is told when
// the group starts and when it is empty.
type osGroup struct {
	watchdog *watchdogClient // nil without a watchdog
}

// launch starts cmd as the leader of a new process group and reaps it from a
// goroutine of its own.
//
// On Linux the child is forked from a goroutine locked to its OS thread, and
// that goroutine stays locked until the child has been reaped: Linux delivers
// the parent-death signal when the forking thread exits, not the process, so
// the thread must outlive the child.
func (p *Process) launch(cmd *exec.Cmd) error {
	cmd.SysProcAttr = childAttr()
	// Before the child starts: where the watchdog is the only cover, it is
	// started now (see currentWatchdog).
	w := currentWatchdog()
	started := make(chan error, 1)
	go p.reap(cmd, w, started)
	return <-started
}

// reap starts cmd, registers its group with w and waits for it.
func (p *Process) reap(cmd *exec.Cmd, w *watchdogClient, started chan<- error) {
	if lockThreadForChild {
		runtime.LockOSThread()
		// Unlocking only after the child is reaped keeps the thread (and
		// with it the armed parent-death signal) alive for the child's
		// whole life.
		defer runtime.UnlockOSThread()
	}
	if err := cmd.Start(); err != nil {
		started <- err
		return
	}
	p.pid = cmd.Process.Pid
	if p.group.watchdog = w; w != nil {
		w.started(p.pid)
	}
	started <- nil
	cmd.Wait() // the exit status is in ProcessState whatever the copy error
	p.code = exitCode(cmd.ProcessState)
	if w != nil {
		// Before done: once every command is done and lockstep exits, no
		// empty group is left registered.
		w.reaped(p.pid)
	}
	close(p.done)
}

// exitCode is the child's exit status, or 128+signal when a signal ended it.
func exitCode(st *os.ProcessState) int {
	if st == nil {
		return -1
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return st.ExitCode()
}

func (p *Process) interrupt() { p.signalGroup(syscall.SIGTERM) }

func (p *Process) kill() { p.signalGroup(syscall.SIGKILL) }

func (p *Process) signalGroup(sig syscall.Signal) {
	// ESRCH (the group is gone) is the expected outcome of a race with exit.
	_ = syscall.Kill(-p.pid, sig)
}

// groupExists reports whether any process of the group still exists, zombies
// included.
func (p *Process) groupExists() bool { return groupAlive(p.pid) }

// hasLiveMember reports whether the group has a member that is not a zombie
// (where the OS lets us tell).
func (p *Process) hasLiveMember() bool { return groupHasLiveMember(p.pid) }

// groupAlive reports whether any process of group pgid still exists. Zombies
// count as members for kill(2).
func groupAlive(pgid int) bool { return syscall.Kill(-pgid, 0) == nil }
