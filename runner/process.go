package runner

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultKillTimeout is the grace between SIGTERM and SIGKILL.
const DefaultKillTimeout = 10 * time.Second

// outputDrain bounds how long Wait keeps copying output after the child
// exited while something else in its group (a background grandchild) still
// holds the output pipes open. Only non-*os.File writers use pipes.
const outputDrain = 2 * time.Second

// groupPoll is how often a terminated group is checked for members left,
// and groupGoneWait bounds that check after SIGKILL (init reaps the rest).
const (
	groupPoll     = 20 * time.Millisecond
	groupGoneWait = time.Second
)

// ProcessSpec describes a child process to start.
type ProcessSpec struct {
	Argv        []string      // program and arguments; run without a shell
	Dir         string        // working directory; "" means the current one
	Env         []string      // the complete environment; nil inherits lockstep's
	Stdin       io.Reader     // nil means /dev/null
	Stdout      io.Writer     // nil means /dev/null
	Stderr      io.Writer     // nil means /dev/null
	KillTimeout time.Duration // grace between SIGTERM and SIGKILL; 0 means DefaultKillTimeout
}

// Process is a child running in its own process group. The whole group dies
// with lockstep, even on kill -9 of lockstep: the child itself through the
// parent-death signal, armed on a thread that stays alive as long as the child
// does; the rest of its group (grandchildren, a script's commands) through the
// watchdog, once EnableWatchdog was called (see WatchdogArg). The group is
// registered with the watchdog when the child starts and deregistered once it
// is empty: at once if nothing outlived the child, otherwise when the last
// member is gone. So a process a step leaves running in its group dies when
// lockstep exits; a daemon meant to outlive lockstep must leave the group
// (setsid). If the watchdog is not enabled, cannot start, or is not started
// yet (the first watchdogDelay of lockstep's first step), only the direct
// child dies with lockstep.
type Process struct {
	pid         int             // also the process group id
	watchdog    *watchdogClient // nil without a watchdog
	killTimeout time.Duration
	done        chan struct{}
	stopped     chan struct{} // closed once a terminated group is gone
	code        int           // valid once done is closed
	termOnce    sync.Once
}

// StartProcess starts spec's program in a new process group. The error is from
// exec (empty argv, not found, not executable, bad directory).
//
// The child is forked from a goroutine locked to its OS thread, and that
// goroutine stays locked until the child has been reaped: Linux delivers the
// parent-death signal (SIGKILL) when the forking thread exits, not the
// process, so the thread must outlive the child.
//
// With the watchdog enabled, the first call also arranges for the watchdog to
// start watchdogDelay later; no step waits for it (the pipe to it buffers the
// registrations meanwhile).
func StartProcess(spec ProcessSpec) (*Process, error) {
	if len(spec.Argv) == 0 {
		return nil, errors.New("start process: empty command")
	}
	cmd := exec.Command(spec.Argv[0], spec.Argv[1:]...)
	cmd.Dir = spec.Dir
	cmd.Env = spec.Env
	cmd.Stdin = spec.Stdin
	cmd.Stdout = spec.Stdout
	cmd.Stderr = spec.Stderr
	cmd.WaitDelay = outputDrain
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &Process{killTimeout: spec.KillTimeout, done: make(chan struct{}), stopped: make(chan struct{})}
	if p.killTimeout <= 0 {
		p.killTimeout = DefaultKillTimeout
	}
	started := make(chan error, 1)
	go p.supervise(cmd, started)
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

// supervise starts cmd and reaps it on one locked OS thread.
func (p *Process) supervise(cmd *exec.Cmd, started chan<- error) {
	runtime.LockOSThread()
	// Unlocking only after the child is reaped keeps the thread (and with it
	// the armed parent-death signal) alive for the child's whole life.
	defer runtime.UnlockOSThread()
	if err := cmd.Start(); err != nil {
		started <- err
		return
	}
	p.pid = cmd.Process.Pid
	if p.watchdog = currentWatchdog(); p.watchdog != nil {
		p.watchdog.started(p.pid)
	}
	started <- nil
	cmd.Wait() // the exit status is in ProcessState whatever the copy error
	p.code = exitCode(cmd.ProcessState)
	if p.watchdog != nil {
		// Before done: once every step is done and lockstep exits, no
		// empty group is left registered.
		p.watchdog.reaped(p.pid)
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

// Pid returns the child's process id, which is also its process group id.
func (p *Process) Pid() int { return p.pid }

// Wait waits for the child to exit and returns its exit code (128+signal when a
// signal ended it). It may be called from several goroutines.
func (p *Process) Wait() int {
	<-p.done
	return p.code
}

// Done is closed when the child has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Terminate sends SIGTERM to the child's whole process group and SIGKILL after
// the kill timeout if any member is still alive. It returns at once and is safe
// to call more than once.
func (p *Process) Terminate() {
	p.termOnce.Do(func() {
		p.signalGroup(syscall.SIGTERM)
		go p.escalate()
	})
}

// escalate kills the group after the grace period unless it is empty by then,
// and closes p.stopped once no member is left (or groupGoneWait after
// SIGKILL). The group may outlive its leader, so the leader exiting early
// only ends the wait when no other member is left.
func (p *Process) escalate() {
	defer close(p.stopped)
	timer := time.NewTimer(p.killTimeout)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-p.done:
		if p.awaitGroupGone(timer.C) {
			return
		}
	}
	if p.groupAlive() {
		p.signalGroup(syscall.SIGKILL)
	}
	<-p.done
	gone := time.NewTimer(groupGoneWait)
	defer gone.Stop()
	p.awaitGroupGone(gone.C)
}

// awaitGroupGone waits until the group has no member left or until stop
// fires, and reports whether the group is gone. The leader must be reaped
// already (a zombie leader still counts as a member).
func (p *Process) awaitGroupGone(stop <-chan time.Time) bool {
	tick := time.NewTicker(groupPoll)
	defer tick.Stop()
	for groupHasLiveMember(p.pid) {
		select {
		case <-stop:
			return !groupHasLiveMember(p.pid)
		case <-tick.C:
		}
	}
	return true
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

// Stopped is closed once a group stopped by Terminate is gone: every member
// exited within the kill timeout, or SIGKILL was sent and the group emptied
// (or a second passed). It is never closed without a call to Terminate. A
// caller holding a lock for the process waits for it before releasing.
func (p *Process) Stopped() <-chan struct{} { return p.stopped }

// Kill sends SIGKILL to the child's whole process group now.
func (p *Process) Kill() { p.signalGroup(syscall.SIGKILL) }

func (p *Process) signalGroup(sig syscall.Signal) {
	// ESRCH (the group is gone) is the expected outcome of a race with exit.
	_ = syscall.Kill(-p.pid, sig)
}

// groupAlive reports whether any process of the child's group still exists.
func (p *Process) groupAlive() bool { return groupAlive(p.pid) }
