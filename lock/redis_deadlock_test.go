package lock_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// TestRedis_deadlockCost measures what the deadlock checks cost the server:
// waiters with Holds behind a holder that does not wait (each check
// refreshes the record, shows the lock and reads the holder's records), and
// the same waiters without Holds, which must cost nothing (their safety
// re-checks are an hour apart here; TestRedis_waiterCost bounds those).
func TestRedis_deadlockCost(t *testing.T) {
	const waiters, every, window = 10, 100 * time.Millisecond, time.Second
	srv := locktest.StartServer(t, nil)
	admin := redisClient(t, srv)
	holder := lock.NewRedis(redisClient(t, srv), nil)
	if _, err := holder.Acquire(context.Background(), lock.Request{Key: "k", TTL: time.Minute, Holder: lock.Holder{RunID: "run-h"}}); err != nil {
		t.Fatal(err)
	}
	period, restore := lock.SetDeadlockChecks(every)
	defer restore()
	measure := func(holds []string) int64 {
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		started := make(chan struct{}, waiters)
		for i := range waiters {
			l := lock.NewRedis(redisClient(t, srv), &lock.RedisOptions{Recheck: time.Hour})
			t.Cleanup(func() { l.Close() })
			wg.Add(1)
			go func() {
				defer wg.Done()
				var once sync.Once
				l.Acquire(ctx, lock.Request{Key: "k", Wait: lock.WaitForever, Holds: holds,
					Holder: lock.Holder{RunID: fmt.Sprint("run-", i), Step: "step.s"},
					OnWait: func([]lock.Holder) { once.Do(func() { started <- struct{}{} }) }})
			}()
		}
		for range waiters {
			<-started
		}
		time.Sleep(2 * every) // past each wait's first check: the steady rate is measured
		before := commandCalls(t, admin)
		time.Sleep(window) // measuring a rate over a window
		n := commandCalls(t, admin) - before - 1
		cancel()
		wg.Wait()
		return n
	}
	with, without := measure([]string{"held"}), measure(nil)
	checks := float64(waiters) * window.Seconds() / every.Seconds()
	perCheck := float64(with) / checks
	perSec := perCheck / period.Seconds()
	t.Logf("with Holds: %d commands in %s from %d waiters, %.1f per check, %.3f/s per waiter at the default period of %s; without Holds: %d",
		with, window, waiters, perCheck, perSec, period, without)
	if perCheck > 7 || perSec > 0.25 || without > 0 {
		t.Fatalf("%.1f commands per check, %.3f/s (want <= 7 and <= 0.25/s); %d without Holds (want 0)", perCheck, perSec, without)
	}
}
