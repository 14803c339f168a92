package runner

import (
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/lockstep-dev/lockstep/config"
	"github.com/lockstep-dev/lockstep/lock"
)

// DefaultParallelism is how many step instances run at once by default.
const DefaultParallelism = 10

// Options tunes a run. Locker is required; every other zero value means the
// default.
type Options struct {
	Locker lock.Locker
	// Variables are the resolved input variables (config.ResolveVariables).
	// Variables declared sensitive are marked so that nothing derived from
	// them is shown.
	Variables   map[string]cty.Value
	Parallelism int            // step instances at once; 0 means DefaultParallelism
	LockTimeout *time.Duration // when set, replaces every lock block's timeout
	KeepGoing   bool           // start independent steps after a failure
	RunID       string         // "" means a random id
	// Holder is the metadata stored with every lock and once marker (Owner,
	// PID, Workflow, Info); the runner sets RunID and Step.
	Holder    lock.Holder
	Environ   []string // the steps' base environment; nil means os.Environ()
	Cwd       string   // path.cwd; "" means the working directory
	OutputCap int      // bytes of stdout kept for step.NAME.output; 0 means DefaultOutputCap
	// OnEvent receives every event, one call at a time, in order. It must
	// not block for long: step output waits for it.
	OnEvent func(Event)
	Logger  hclog.Logger // nil means no logging
}

// Runner executes a plan once. Create it with New.
type Runner struct {
	plan *Plan
	opts Options
	log  hclog.Logger

	emitMu sync.Mutex
	// troubles counts the goroutines emitting renewal-trouble events
	// (renewtrouble.go): Run and RunCommand wait for them before they end.
	troubles sync.WaitGroup

	kill     chan struct{}
	killOnce sync.Once
}

// New prepares a run of plan.
func New(plan *Plan, opts Options) *Runner {
	if opts.Parallelism <= 0 {
		opts.Parallelism = DefaultParallelism
	}
	if opts.RunID == "" {
		opts.RunID = lock.NewToken()[:16]
	}
	if opts.Environ == nil {
		opts.Environ = os.Environ()
	}
	if opts.Cwd == "" {
		opts.Cwd, _ = os.Getwd()
	}
	if opts.OutputCap <= 0 {
		opts.OutputCap = DefaultOutputCap
	}
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Runner{plan: plan, opts: opts, log: log, kill: make(chan struct{})}
}

// RunID returns the id of this run (LOCKSTEP_RUN_ID).
func (r *Runner) RunID() string { return r.opts.RunID }

// Kill sends SIGKILL to every running step's process group at once, for a
// second interrupt. Run still releases the locks before it returns. Safe to
// call more than once and from any goroutine.
func (r *Runner) Kill() { r.killOnce.Do(func() { close(r.kill) }) }

func (r *Runner) emit(ev Event) {
	if r.opts.OnEvent == nil {
		return
	}
	ev.RunID = r.opts.RunID
	r.emitMu.Lock()
	defer r.emitMu.Unlock()
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	r.opts.OnEvent(ev)
}

// getenv looks name up in the run's base environment.
func (r *Runner) getenv(name string) string {
	for i := len(r.opts.Environ) - 1; i >= 0; i-- {
		kv := r.opts.Environ[i]
		if len(kv) > len(name) && kv[len(name)] == '=' && kv[:len(name)] == name {
			return kv[len(name)+1:]
		}
	}
	return ""
}

// baseScope builds the scope shared by every step: variables (sensitive ones
// marked), locals, every step unknown and every workflow-level lock not
// acquired yet.
func (r *Runner) baseScope() (*config.Scope, hcl.Diagnostics) {
	return BaseScope(r.plan.Workflow, r.opts.Variables, r.opts.Cwd, r.getenv)
}

// BaseScope builds the evaluation scope of a workflow before any step ran:
// vars (sensitive ones marked), locals evaluated, every step unknown, every
// workflow-level lock not acquired yet (lock.NAME.key known when its key
// evaluates here, the fencing token unknown). plan uses it with unknown or
// resolved variables; getenv nil means os.Getenv.
func BaseScope(wf *config.Workflow, vars map[string]cty.Value, cwd string, getenv func(string) string) (*config.Scope, hcl.Diagnostics) {
	if getenv == nil {
		getenv = os.Getenv
	}
	s := &config.Scope{BaseDir: wf.Dir, Cwd: cwd, Variables: wf.MarkSensitive(vars), Locals: map[string]cty.Value{},
		Steps: make(map[string]cty.Value, len(wf.Steps)), Locks: make(map[string]cty.Value, len(wf.Locks)),
		Getenv: getenv, FS: wf.FS()}
	for name := range wf.Steps {
		s.Steps[name] = cty.DynamicVal
	}
	diags := wf.EvalLocals(s)
	for name, l := range wf.Locks {
		key := cty.UnknownVal(cty.String)
		if v, d := s.EvalExpr(l.Attrs.Get("key"), cty.String); !d.HasErrors() && v.IsWhollyKnown() && !v.IsMarked() {
			key = v
		}
		s.Locks[name] = config.UnknownLockValue(key)
	}
	return s, diags
}

func stepValue(in *InstanceResult) cty.Value {
	return config.StepResult(in.Status, in.ExitCode, in.Output)
}

// scopeFor returns a copy of s whose Steps hold only deps, the steps a step
// may refer to (every reference is a dependency). Evaluation contexts are
// then built from a handful of steps instead of the whole workflow, which
// keeps planning and running linear in the number of steps.
func scopeFor(s *config.Scope, deps []string) *config.Scope {
	c := *s
	c.Steps = make(map[string]cty.Value, len(deps))
	for _, d := range deps {
		if v, ok := s.Steps[d]; ok {
			c.Steps[d] = v
		} else {
			c.Steps[d] = cty.DynamicVal
		}
	}
	return &c
}
