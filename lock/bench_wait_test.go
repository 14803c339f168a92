package lock_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// BenchmarkWaiting: 50 waiters (each its own client) on a key held 3s. It
// reports the server commands per second per waiter while they wait, and
// the time from a release call starting to the next waiter holding the lock
// as the 50 drain one by one.
func BenchmarkWaiting(b *testing.B) {
	const waiters, hold = 50, 3 * time.Second
	srv := locktest.StartServer(b, nil)
	admin := benchClient(b, srv)
	ping, _ := floor(b, admin)
	ctx := context.Background()
	holder := lock.NewRedis(benchClient(b, srv), nil)
	for b.Loop() {
		lease, err := holder.Acquire(ctx, lock.Request{Key: "held", TTL: 30 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		heldAt := time.Now()
		var mu sync.Mutex
		var releaseStart time.Time
		var wakes []time.Duration
		var ready, done sync.WaitGroup
		ready.Add(waiters)
		for range waiters {
			l := lock.NewRedis(benchClient(b, srv), nil)
			var once sync.Once
			done.Add(1)
			go func() {
				defer done.Done()
				lease, err := l.Acquire(ctx, lock.Request{Key: "held", Wait: lock.WaitForever, TTL: 30 * time.Second,
					OnWait: func([]lock.Holder) { once.Do(ready.Done) }})
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				wakes = append(wakes, time.Since(releaseStart))
				releaseStart = time.Now()
				mu.Unlock()
				if err := l.Release(ctx, lease.Key, lease.Token); err != nil {
					b.Error(err)
				}
			}()
		}
		ready.Wait()
		before, from := commandCalls(b, admin), time.Now()
		time.Sleep(hold - time.Since(heldAt)) // the holder's work
		calls, window := commandCalls(b, admin)-before-1, time.Since(from)
		mu.Lock()
		releaseStart = time.Now()
		mu.Unlock()
		if err := holder.Release(ctx, lease.Key, lease.Token); err != nil {
			b.Fatal(err)
		}
		done.Wait()
		b.ReportMetric(float64(calls)/window.Seconds()/waiters, "cmds/s/waiter")
		b.ReportMetric(window.Seconds(), "window-s")
		b.ReportMetric(float64(wakes[0].Microseconds())/1000, "first-wake-ms")
		b.ReportMetric(float64(percentile(wakes, 50).Microseconds())/1000, "wake-p50-ms")
		b.ReportMetric(float64(percentile(wakes, 99).Microseconds())/1000, "wake-p99-ms")
		b.ReportMetric(float64(ping.Microseconds()), "ping-µs")
	}
}
