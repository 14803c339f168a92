// Package runner plans and executes workflows: it builds the step graph from a
// loaded config.Workflow, expands for_each instances, evaluates each step's body
// when it becomes ready, acquires its locks through a lock.Locker, runs checks
// and the command as a child process group, renews the leases while it runs,
// stops the step when a lease is lost, and releases everything at the end. It
// reports progress as events; printing them is the CLI's job.
package runner
