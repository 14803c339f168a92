// Package lock owns lockstep's distributed locks: the Locker interface and its
// sentinel errors, the Redis backend (go-redis, Lua scripts run by SHA), the
// local backend (flock on files in a per-user directory), the lease keeper that
// renews a lease and signals its loss, key encoding, and once markers. It
// knows nothing of HCL, workflows or steps; the conformance suite that every
// backend passes lives in lock/locktest.
package lock

import _ "github.com/redis/go-redis/v9" // the Redis backend's client
