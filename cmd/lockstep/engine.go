package main

// The constructors of the lock engine's backends, in one place so that the
// rest of the CLI codes against lock.Locker alone.

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"

	"github.com/lockstep-dev/lockstep/lock"
)

// newRedisLocker wraps client in the Redis backend. The locker owns client and
// closes it on Close.
func newRedisLocker(client redis.UniversalClient, keyPrefix string, logger hclog.Logger) (lock.Locker, error) {
	client.Close()
	return nil, fmt.Errorf("the redis backend has not landed yet: %w", lock.ErrUnavailable)
}

// newLocalLocker opens the local backend in dir ("" means the per-user
// default directory).
func newLocalLocker(dir string, logger hclog.Logger) (lock.Locker, error) {
	return nil, fmt.Errorf("the local backend has not landed yet: %w", lock.ErrUnavailable)
}

// leaseKeeper renews a lease in the background and reports its loss.
type leaseKeeper interface {
	Lost() <-chan struct{} // closed when the lease is lost
	Err() error            // why it was lost (wraps lock.ErrNotHeld or lock.ErrUnavailable)
	Stop()                 // stops renewing; does not release
}

// keepLease starts renewing lease every ttl/3 until Stop.
func keepLease(ctx context.Context, l lock.Locker, lease *lock.Lease, logger hclog.Logger) (leaseKeeper, error) {
	return nil, fmt.Errorf("the lease keeper has not landed yet: %w", lock.ErrUnavailable)
}
