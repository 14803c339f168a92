package runner

import (
	"context"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// TestRun_interruptLeavesNothing is the in-process half of the interrupt row
// of the safety catalogue (the process half, with real signals, is in
// cmd/lockstep): cancelling a run while its step holds a Redis lock releases
// the lock at once, and repeated interrupts leak no goroutines.
// LOCKSTEP_FULL=1 runs 200 interrupts instead of 20.
func TestRun_interruptLeavesNothing(t *testing.T) {
	n := 20
	if os.Getenv("LOCKSTEP_FULL") == "1" {
		n = 200
	}
	srv := locktest.StartServer(t, nil)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { client.Close() })
	locker := lock.NewRedis(client, nil)
	t.Cleanup(func() { locker.Close() })
	wf := loadWorkflow(t, `
step "long" {
  lock {
    key = "interrupt/long"
    ttl = "10s"
  }
  kill_timeout = "5s"
  shell = "echo started; exec sleep 30"
}
`)
	interrupt := func() time.Duration {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var at time.Time
		on := map[EventType]func(Event){EventStepOutput: func(Event) { at = time.Now(); cancel() }}
		res, _ := runWorkflow(t, wf, locker, runSetup{on: on, ctx: ctx})
		if res.Outcome != OutcomeInterrupted {
			t.Fatalf("outcome %v, want interrupted", res.Outcome)
		}
		took := time.Since(at)
		hs, err := lock.HoldersOf(context.Background(), locker, "interrupt/long")
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) != 0 {
			t.Fatalf("lock still held after the run returned: %+v", hs)
		}
		return took
	}
	interrupt() // warm up: connection pool, subscriber, script cache
	base := runtime.NumGoroutine()
	var worst time.Duration
	for i := 0; i < n; i++ {
		if d := interrupt(); d > worst {
			worst = d
		}
	}
	if worst > time.Second {
		t.Errorf("slowest interrupt took %s to release the lock, want < 1s", worst)
	}
	// Goroutines of finished runs exit shortly after; wait on the count.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := runtime.NumGoroutine(); got > base {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines: %d after %d interrupts, %d before\n%s", got, n, base, buf[:runtime.Stack(buf, true)])
	}
	t.Logf("interrupt: %d runs cancelled mid-step, lock released within %s at worst, goroutines %d before and after", n, worst, base)
}
