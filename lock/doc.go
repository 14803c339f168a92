// Package lock owns lockstep's distributed locks: the Locker interface and its
// sentinel errors, the Redis backend (NewRedis: go-redis, Lua scripts run by
// SHA, FIFO hand-off over per-waiter pub/sub channels), the local backend
// (NewLocal: flock on files in a per-user directory), the lease keeper (Keep)
// that renews a lease and signals its loss, key encoding (EncodeKey), and
// once markers. It knows nothing of HCL, workflows or steps, never prints,
// and never builds a Redis client (the caller passes one). The conformance
// suite that every backend passes lives in lock/locktest; docs/locks.md
// describes the semantics, storage layout, algorithms and guarantees.
package lock
