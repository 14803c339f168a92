// Package lock owns lockstep's distributed locks: the narrow interfaces
// (Leaser, Renewer, Inspector, OnceStore; Locker is all of them) and their
// sentinel errors, the Redis backend (NewRedis: go-redis, Lua scripts run by
// SHA, a queue per lock served in its scripts, grants pushed over sharded
// pub/sub on one channel per backend and lock; shared and exclusive modes,
// newest-wins queues, max_waiters, positions), the local backend (NewLocal:
// locked ticket files in a per-user directory), the lease keeper (Keep: it
// renews a lease from the send time of the request that proved it, confirms
// it before work starts and signals its loss), key encoding (EncodeKey),
// once markers, and deadlock detection across runs (Request.Holds: wait
// records any replica can read, a wait-for walk one read at a time, the
// youngest wait of a cycle fails with a *DeadlockError). It knows nothing of HCL, workflows or steps, never prints,
// and never builds a Redis client (the caller passes one). The conformance
// suite that every backend passes lives in lock/locktest; docs/locks.md
// describes the semantics, storage layout, algorithms, costs and guarantees.
package lock
