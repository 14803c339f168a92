// Package runner plans and executes workflows: it builds the step graph from a
// loaded config.Workflow (NewPlan, with -target selection), expands for_each
// instances when their step becomes ready, evaluates each step's body when it
// starts (against a Scope holding the results of the steps it depends on),
// acquires its locks in key order through a lock.Locker, checks the once
// marker, runs the checks and the command as a child process group
// (runner/supervise), keeps every lease alive with lock.Keep and stops the step
// when one is lost, retries as told, writes the once marker and releases the
// locks on a context that survives cancellation. Workflow-level locks belong
// to the scheduling loop instead: acquired before the first step of their
// scope starts, kept across its steps, released once none of them runs or
// can still start (wlocks.go).
//
// The runner never prints. It reports progress as Events through
// Options.OnEvent and returns a Result whose Outcome the CLI maps to an exit
// code. Plan.Preview evaluates a plan without running it, for `lockstep plan`.
// Values derived from sensitive variables are marked and shown only as
// SensitivePlaceholder; lock tokens never leave the runner.
package runner
