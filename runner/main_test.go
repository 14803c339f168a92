package runner

import (
	"os"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/runner/supervise"
)

// TestMain lets the test binary serve as its own watchdog, as the lockstep
// binary does. LOCKSTEP_BENCH_WATCHDOG=1 enables the watchdog in-process, to
// measure what it costs the benchmarks.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == supervise.WatchdogArg {
		os.Exit(supervise.WatchdogMain(os.Stdin))
	}
	if os.Getenv("LOCKSTEP_BENCH_WATCHDOG") == "1" {
		supervise.EnableWatchdog(nil)
	}
	os.Exit(m.Run())
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond) // polling external process state
	}
}
