package runner

import (
	"context"
	"io"
	"time"

	"github.com/lockstep-dev/lockstep/config"
)

// Command is one command run under locks outside any workflow: what exec
// runs. It goes through the same lifecycle as a step instance of Run —
// confirmed acquisition, once marker, supervision, loss, release — as a
// one-step run whose address is Name.
type Command struct {
	Name        string // the step address in events and LOCKSTEP_STEP, e.g. "exec"
	Argv        []string
	Locks       []LockSpec // acquired in key order
	OnceKey     string     // "" for none
	OnceTTL     time.Duration
	Timeout     time.Duration // 0: none
	KillTimeout time.Duration // 0: DefaultKillTimeout
	Dir         string        // "" for the working directory
	Env         map[string]string

	// The command's streams, passed through as they are (no step_output
	// events). Stdout and Stderr must not be nil.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// RunCommand runs c through the step lifecycle and returns its result. The
// Runner needs no plan for it (New(nil, opts)).
func (r *Runner) RunCommand(ctx context.Context, c Command) *InstanceResult {
	in := &instance{step: &config.Step{Name: c.Name}, addr: c.Name}
	sr := r.newStepRun(in)
	spec := &instanceSpec{Argv: c.Argv, Env: c.Env, Dir: c.Dir, Timeout: c.Timeout, KillTimeout: c.KillTimeout,
		Locks: sortLocks(c.Locks), OnceKey: c.OnceKey, OnceTTL: c.OnceTTL, Attempts: 1,
		Stdin: c.Stdin, Stdout: c.Stdout, Stderr: c.Stderr}
	if spec.KillTimeout <= 0 {
		spec.KillTimeout = DefaultKillTimeout
	}
	sr.spec = spec
	r.emit(Event{Type: EventStepStart, Step: in.addr})
	start := time.Now()
	sr.run(ctx)
	r.troubles.Wait() // the keeper stopped: its last trouble events come before step_done
	return sr.finish(start)
}
