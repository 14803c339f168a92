package lock_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
)

// BenchmarkLocal_collect: one sweep of a lock directory of 1,000 keys,
// either all idle (each is removed: its counter opened and locked, the
// directory listed, the counter unlinked, the directory removed) or all
// used recently (one lstat each). Reports µs per key swept beside a floor
// measured in the same run on the same keys: for idle keys os.RemoveAll of
// each key directory (what any removal costs), for keys in use os.Lstat
// of each (what any look costs).
func BenchmarkLocal_collect(b *testing.B) {
	const keys = 1000
	for _, idle := range []bool{true, false} {
		name := map[bool]string{true: "idle", false: "in-use"}[idle]
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			l, c := benchLocal(b, dir), benchLocal(b, dir)
			lock.SetLocalKeepIdle(c, map[bool]time.Duration{true: time.Nanosecond, false: time.Hour}[idle])
			var took, floor time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				if idle || i == 0 {
					makeKeys(b, l, keys)
				}
				b.StartTimer()
				start := time.Now()
				n := lock.CollectLocal(c)
				took += time.Since(start)
				if want := map[bool]int{true: keys, false: 0}[idle]; n != want {
					b.Fatalf("sweep removed %d keys, want %d", n, want)
				}
				b.StopTimer()
				if idle {
					makeKeys(b, l, keys)
				}
				floor += sweepFloor(b, dir, idle)
				b.StartTimer()
			}
			us, floorUS := float64(took.Microseconds())/float64(b.N*keys), float64(floor.Microseconds())/float64(b.N*keys)
			b.ReportMetric(us, "µs/key")
			b.ReportMetric(floorUS, "floor-µs/key")
			b.ReportMetric(us/floorUS, "x-floor")
		})
	}
}

func benchLocal(b *testing.B, dir string) *lock.Local {
	l, err := lock.NewLocal(dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// sweepFloor times os.RemoveAll (remove) or os.Lstat of every key
// directory under dir.
func sweepFloor(b *testing.B, dir string, remove bool) time.Duration {
	locks := filepath.Join(dir, "locks")
	ds, err := os.ReadDir(locks)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for _, d := range ds {
		p := filepath.Join(locks, d.Name())
		if remove {
			err = os.RemoveAll(p)
		} else {
			_, err = os.Lstat(p)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}

func makeKeys(b *testing.B, l lock.Locker, n int) {
	ctx := context.Background()
	for k := range n {
		lease, err := l.Acquire(ctx, lock.Request{Key: "bench/" + strconv.Itoa(k)})
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Release(ctx, lease.Key, lease.Token); err != nil {
			b.Fatal(err)
		}
	}
}
