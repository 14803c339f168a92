package lock

// Test hooks: the assembled source of a lock script and the error mapping.
var (
	LockSource = lockSource
	BackendErr = backendErr
)
