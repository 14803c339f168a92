//go:build lockstep_prof

package main

// A developer's build (go build -tags lockstep_prof) that writes a CPU
// profile to $LOCKSTEP_CPUPROFILE and a heap profile to
// $LOCKSTEP_MEMPROFILE, for the workflow-scale work of issue 12.

import (
	"os"
	"runtime"
	"runtime/pprof"
)

func init() {
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
