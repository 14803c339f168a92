package supervise

import (
	"errors"
	"io"
	"os/exec"
	"sync"
	"time"
)

// DefaultKillTimeout is the grace between the polite request to stop
// (SIGTERM; CTRL_BREAK on Windows) and the kill.
const DefaultKillTimeout = 10 * time.Second

// WatchdogArg is the hidden first argument that makes the lockstep binary run
// WatchdogMain instead of a command. The program's main must dispatch it
// before anything else (it is not a command and help does not show it).
const WatchdogArg = "__watchdog"

// outputDrain bounds how long Wait keeps copying output after the child
// exited while something else in its group (a background grandchild) still
// holds the output pipes open. Only non-*os.File writers use pipes.
const outputDrain = 2 * time.Second

// groupPoll is how often a terminated group is checked for members left,
// and groupGoneWait bounds that check after the kill (init reaps the rest).
const (
	groupPoll     = 20 * time.Millisecond
	groupGoneWait = time.Second
)

// Spec describes a command to start.
type Spec struct {
	Argv        []string      // program and arguments; run without a shell
	Dir         string        // working directory; "" means the current one
	Env         []string      // the complete environment; nil inherits lockstep's
	Stdin       io.Reader     // nil means the null device
	Stdout      io.Writer     // nil means the null device
	Stderr      io.Writer     // nil means the null device
	KillTimeout time.Duration // grace between the stop request and the kill; 0 means DefaultKillTimeout
}

// Process is a command running in a group of its own (see the package
// documentation for what a group is on each OS and how it dies with
// lockstep). A process a command leaves running in its group is stopped with
// it by Terminate (also after the command exited: see Leftover), and dies
// when lockstep exits (on Unix once EnableWatchdog was called; always on
// Windows); a daemon meant to outlive lockstep must leave the group (setsid
// on Unix, CREATE_BREAKAWAY_FROM_JOB on Windows).
type Process struct {
	pid         int // on Unix also the process group id
	group       osGroup
	killTimeout time.Duration
	done        chan struct{}
	stopped     chan struct{} // closed once a terminated group is gone
	code        int           // valid once done is closed
	termOnce    sync.Once
}

// Start starts spec's program in a new group. The error is from exec (empty
// argv, not found, not executable, bad directory) or, on Windows, from
// setting up the Job Object; nothing is left running when it is not nil.
//
// Where the watchdog is enabled (EnableWatchdog) and needed, the first call
// also arranges for it to start: on Linux 10 ms later, without delaying the
// command; on other Unix systems before the command starts, since it is the
// only means there by which the command dies with lockstep.
func Start(spec Spec) (*Process, error) {
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
	p := &Process{killTimeout: spec.KillTimeout, done: make(chan struct{}), stopped: make(chan struct{})}
	if p.killTimeout <= 0 {
		p.killTimeout = DefaultKillTimeout
	}
	if err := p.launch(cmd); err != nil {
		return nil, err
	}
	return p, nil
}

// Pid returns the command's process id (on Unix also its process group id).
func (p *Process) Pid() int { return p.pid }

// Wait waits for the command to exit and returns its exit code (128+signal
// when a signal ended it on Unix). It may be called from several goroutines.
func (p *Process) Wait() int {
	<-p.done
	return p.code
}

// Done is closed when the command has exited (other members of its group may
// still run; see Leftover and Stopped).
func (p *Process) Done() <-chan struct{} { return p.done }

// Leftover waits for the command to exit and reports whether something it
// left running in its group (a background job, a daemon that did not leave
// the group) is still alive. A caller that holds a lock for the command
// stops those with Terminate and waits for Stopped before releasing it.
func (p *Process) Leftover() bool {
	<-p.done
	return p.hasLiveMember()
}

// Terminate asks the command's whole group to stop (SIGTERM; CTRL_BREAK on
// Windows, which reaches console programs of the group) and kills the group
// after the kill timeout if any member is still alive. It returns at once and
// is safe to call more than once.
func (p *Process) Terminate() {
	p.termOnce.Do(func() {
		p.interrupt()
		go p.escalate()
	})
}

// Stopped is closed once a group stopped by Terminate is gone: every member
// exited within the kill timeout, or the kill was sent and the group emptied
// (or groupGoneWait passed). It is never closed without a call to Terminate.
// A caller holding a lock for the process waits for it before releasing.
func (p *Process) Stopped() <-chan struct{} { return p.stopped }

// Kill kills the command's whole group now (SIGKILL; TerminateJobObject on
// Windows).
func (p *Process) Kill() { p.kill() }

// escalate kills the group after the grace period unless it is empty by then,
// and closes p.stopped once no member is left (or groupGoneWait after the
// kill). The group may outlive its leader, so the leader exiting early only
// ends the wait when no other member is left.
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
	if p.groupExists() {
		p.kill()
	}
	<-p.done
	gone := time.NewTimer(groupGoneWait)
	defer gone.Stop()
	p.awaitGroupGone(gone.C)
}

// awaitGroupGone waits until the group has no live member left or until stop
// fires, and reports whether the group is gone. The leader must be reaped
// already (on Unix a zombie leader still counts as a member).
func (p *Process) awaitGroupGone(stop <-chan time.Time) bool {
	tick := time.NewTicker(groupPoll)
	defer tick.Stop()
	for p.hasLiveMember() {
		select {
		case <-stop:
			return !p.hasLiveMember()
		case <-tick.C:
		}
	}
	return true
}
