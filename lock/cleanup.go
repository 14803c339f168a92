package lock

import (
	"context"
	"time"
)

// CleanupTimeout bounds work done on a CleanupContext.
const CleanupTimeout = 5 * time.Second

// CleanupContext returns a context for releasing locks after ctx was
// cancelled (an interrupt, a timeout): it keeps ctx's values, ignores its
// cancellation and ends after CleanupTimeout. Call cancel when done.
func CleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), CleanupTimeout)
}

// ReleaseLease releases lease on a CleanupContext derived from ctx, so that
// a cancelled ctx still frees the lock. Errors are those of Locker.Release.
func ReleaseLease(ctx context.Context, l Locker, lease *Lease) error {
	cctx, cancel := CleanupContext(ctx)
	defer cancel()
	return l.Release(cctx, lease.Key, lease.Token)
}
