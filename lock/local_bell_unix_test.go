//go:build unix

package lock_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
)

// TestLocal_conformanceBlockingDoorbells runs the conformance suite with
// newest-wins doorbells waiting in a blocking read, as on macOS, where Go
// keeps FIFOs out of kqueue. There the listener took the read's EAGAIN for
// silence: no waiter was ever superseded and the oldest got the lock (the
// NewestWins case failed when the listener read as macOS did).
func TestLocal_conformanceBlockingDoorbells(t *testing.T) {
	restore := lock.SetBlockingDoorbells(true)
	defer restore()
	runLocalConformance(t)
}

// TestLocal_oneDirectoryHoldPerProcess: the shared flock that keeps tmp
// cleaners away from a lock directory under /tmp takes one descriptor per
// directory and process, however many Locals use it. Each Local took its
// own and never closed it: a program that opened a Local per operation ran
// out of descriptors.
func TestLocal_oneDirectoryHoldPerProcess(t *testing.T) {
	fds := func() int {
		names, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip("no /proc/self/fd")
		}
		return len(names)
	}
	dir := t.TempDir() // under the temp directory: held
	use := func() {
		l, err := lock.NewLocal(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		lease, err := l.Acquire(context.Background(), lock.Request{Key: "k", TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Release(context.Background(), lease.Key, lease.Token); err != nil {
			t.Fatal(err)
		}
		l.Close()
	}
	use()
	before := fds()
	for range 50 {
		use()
	}
	if after := fds(); after > before+5 {
		t.Errorf("%d descriptors after 50 more Locals on one directory, %d before", after, before)
	}
}

// TestLocal_holdsARecreatedDirectory: a lock directory removed and made
// again, by the same Local or a new one, is held again (it is a new
// directory); the hold was keyed by the path and taken once per Local, so
// the process kept holding the removed one only.
func TestLocal_holdsARecreatedDirectory(t *testing.T) {
	holding := func(dir string) (n int) {
		fds, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip("no /proc/self/fd")
		}
		for _, fd := range fds {
			if target, err := os.Readlink("/proc/self/fd/" + fd.Name()); err == nil && target == dir {
				n++
			}
		}
		return n
	}
	dir := filepath.Join(t.TempDir(), "locks") // under the temp directory: held
	l, err := lock.NewLocal(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		if round == 2 {
			// A new Local on it, as another command of the process would.
			if l, err = lock.NewLocal(dir, nil); err != nil {
				t.Fatal(err)
			}
		}
		lease, err := l.Acquire(context.Background(), lock.Request{Key: "k", TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Release(context.Background(), lease.Key, lease.Token); err != nil {
			t.Fatal(err)
		}
		if n := holding(dir); n != 1 {
			t.Fatalf("round %d: %d descriptors on the lock directory, want 1", round, n)
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
	}
}
