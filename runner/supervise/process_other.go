//go:build !unix && !windows

package supervise

import (
	"errors"
	"fmt"
	"os/exec"
	"runtime"
)

// osGroup is empty: this system has no process groups lockstep can use.
type osGroup struct{}

// launch refuses: without a group to stop and a way for it to die with
// lockstep, a command could outlive its lock. lockstep supervises commands on
// Unix systems and Windows only.
func (p *Process) launch(*exec.Cmd) error {
	return fmt.Errorf("start process: %w: lockstep runs commands on Unix and Windows, not %s", errors.ErrUnsupported, runtime.GOOS)
}

func (p *Process) interrupt()          {}
func (p *Process) kill()               {}
func (p *Process) groupExists() bool   { return false }
func (p *Process) hasLiveMember() bool { return false }
