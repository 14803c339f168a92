package runner

// Owner: lock CLI work (issue 3, used by exec and by the runner). The
// signatures are the contract; the bodies are placeholders.

import (
	"errors"
	"io"
	"time"
)

// DefaultKillTimeout is the grace between SIGTERM and SIGKILL.
const DefaultKillTimeout = 10 * time.Second

// ProcessSpec describes a child process to start.
type ProcessSpec struct {
	Argv        []string  // program and arguments; run without a shell
	Dir         string    // working directory; "" means the current one
	Env         []string  // the complete environment
	Stdin       io.Reader // nil means /dev/null
	Stdout      io.Writer
	Stderr      io.Writer
	KillTimeout time.Duration // grace between SIGTERM and SIGKILL; 0 means DefaultKillTimeout
}

// Process is a child running in its own process group. It dies with lockstep:
// the parent-death signal is armed on a thread that stays alive as long as the
// child does, so even kill -9 of lockstep takes the child with it.
type Process struct{}

// StartProcess starts spec's program. The error is from exec (not found, not
// executable).
func StartProcess(spec ProcessSpec) (*Process, error) {
	return nil, errors.New("processes are not implemented yet")
}

// Wait waits for the child to exit and returns its exit code (128+signal when a
// signal ended it). It may be called from several goroutines.
func (p *Process) Wait() int { return -1 }

// Done is closed when the child has exited.
func (p *Process) Done() <-chan struct{} { return nil }

// Terminate sends SIGTERM to the child's whole process group and SIGKILL after
// the kill timeout if any member is still alive. It returns at once and is safe
// to call more than once.
func (p *Process) Terminate() {}

// Kill sends SIGKILL to the child's whole process group now.
func (p *Process) Kill() {}
