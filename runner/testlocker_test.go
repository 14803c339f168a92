package runner

import (
	"context"
	"sync"
	"testing"

	"github.com/lockstep-dev/lockstep/lock"
)

// countingLocker is the local backend (lock.Local on a private directory,
// the backend the conformance suite runs) with counters the runner tests
// assert on. Everything else, Lost included, is the backend's own.
// The counters are written under mu while a run goes on; tests read them
// after the run returned.
type countingLocker struct {
	*lock.Local
	tb testing.TB

	mu                 sync.Mutex
	acquired, released int            // successful Acquire and Release calls
	maxHeld            map[string]int // most holders of a key the backend showed at once
}

// newTestLocker opens the local backend on a fresh t.TempDir() and wraps it
// in a countingLocker. It fails tb if the directory cannot be opened.
func newTestLocker(tb testing.TB) *countingLocker {
	tb.Helper()
	l, err := lock.NewLocal(tb.TempDir(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &countingLocker{Local: l, tb: tb, maxHeld: map[string]int{}}
}

// Acquire acquires through the backend and, on success, records how many
// holders the backend shows for the key right after the grant.
func (c *countingLocker) Acquire(ctx context.Context, req lock.Request) (*lock.Lease, error) {
	lease, err := c.Local.Acquire(ctx, req)
	if err != nil {
		return nil, err
	}
	n := c.heldNow(lease.Key)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.acquired++
	c.maxHeld[lease.Key] = max(c.maxHeld[lease.Key], n)
	return lease, nil
}

// Release releases through the backend and counts the successful calls.
func (c *countingLocker) Release(ctx context.Context, key, token string) error {
	if err := c.Local.Release(ctx, key, token); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.released++
	return nil
}

// heldNow returns how many holders the backend shows for key, or -1 (and
// fails the test) when Show fails.
func (c *countingLocker) heldNow(key string) int {
	hs, err := lock.HoldersOf(context.Background(), c.Local, key)
	if err != nil {
		c.tb.Errorf("show %q: %v", key, err)
		return -1
	}
	return len(hs)
}

var (
	_ lock.Locker      = (*countingLocker)(nil)
	_ lock.LossWatcher = (*countingLocker)(nil) // the runner's keepers watch it
)
