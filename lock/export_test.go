package lock

import "time"

// Test hooks: the assembled source of a lock script and the error mapping.
var (
	LockSource = lockSource
	BackendErr = backendErr
)

// SetDeadlockChecks spaces every deadlock check after a wait's first d
// apart (test hook) and returns the default period and a func restoring
// the schedule. Call it only while no request waits.
func SetDeadlockChecks(d time.Duration) (every time.Duration, restore func()) {
	start, every := deadlockStart, deadlockEvery
	deadlockStart, deadlockEvery = nil, d
	return every, func() { deadlockStart, deadlockEvery = start, every }
}
