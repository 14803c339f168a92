//go:build lockstep_prof

package main

// A developer's build (go build -tags lockstep_prof) that writes a CPU
// profile to $LOCKSTEP_CPUPROFILE and a heap profile to
// $LOCKSTEP_MEMPROFILE, for the workflow-scale work of issue 12.

import (
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/lockstep-dev/lockstep/runner/supervise"
)

func init() {
	if len(os.Args) > 1 && os.Args[1] == supervise.WatchdogArg {
		// The watchdog is this binary re-executed with the same
		// environment: it would truncate and overwrite the profiles.
		return
	}
	if f := os.Getenv("LOCKSTEP_CPUPROFILE"); f != "" {
		w, err := os.Create(f)
		if err == nil && pprof.StartCPUProfile(w) == nil {
			profStop = append(profStop, pprof.StopCPUProfile)
		}
	}
	if f := os.Getenv("LOCKSTEP_MEMPROFILE"); f != "" {
		runtime.MemProfileRate = 4096
		profStop = append(profStop, func() {
			if w, err := os.Create(f); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(w, 0)
				_ = w.Close()
			}
		})
	}
}
