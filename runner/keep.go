package runner

import (
	"context"

	"github.com/hashicorp/go-hclog"

	"github.com/lockstep-dev/lockstep/lock"
)

// keeper renews one lease until stopped and reports when it is lost.
type keeper interface {
	Lost() <-chan struct{}
	Err() error
	Stop()
}

// keepLease starts renewing lease every ttl/3 with lock.Keep until Stop. A
// renewal that finds the lease gone, or no successful renewal before the
// lease would run out, closes Lost.
func keepLease(ctx context.Context, l lock.Locker, lease *lock.Lease, log hclog.Logger) keeper {
	return lock.Keep(ctx, l, lease, &lock.KeepOptions{Logger: log})
}
