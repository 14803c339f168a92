//go:build !windows

package lock_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
)

// BenchmarkLocal_uncontended: acquire+release pairs of the local backend on
// a free lock, beside its floor measured in interleaved blocks of the same
// run: open, flock(LOCK_EX), close of one file in the same directory (what
// `flock FILE true` costs, less its process). Reports µs per pair for both
// and lockstep's pair as a multiple of the floor.
func BenchmarkLocal_uncontended(b *testing.B) {
	dir := b.TempDir()
	l, err := lock.NewLocal(dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	floorFile := filepath.Join(dir, "floor")
	var lockTime, floorTime time.Duration
	pairs, floors := 0, 0
	b.ResetTimer()
	for b.Loop() {
		if pairs%200 == 0 {
			start := time.Now()
			for range 200 {
				f, err := os.OpenFile(floorFile, os.O_RDWR|os.O_CREATE, 0o600)
				if err != nil {
					b.Fatal(err)
				}
				syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
				f.Close()
			}
			floorTime += time.Since(start)
			floors += 200
		}
		start := time.Now()
		lease, err := l.Acquire(ctx, lock.Request{Key: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Release(ctx, lease.Key, lease.Token); err != nil {
			b.Fatal(err)
		}
		lockTime += time.Since(start)
		pairs++
	}
	lockUS := float64(lockTime.Microseconds()) / float64(pairs)
	floorUS := float64(floorTime.Microseconds()) / float64(floors)
	b.ReportMetric(lockUS, "µs/pair")
	b.ReportMetric(floorUS, "floor-µs/pair")
	b.ReportMetric(lockUS/floorUS, "x-floor")
}
