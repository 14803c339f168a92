package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// BenchmarkExecWholeProcess measures `lockstep exec KEY -- true` as a whole
// process against the floor measured in the same run on the same private
// server: testdata/minlock, a minimal Go program doing connect + SET NX PX +
// spawning `true` + compare-and-delete. Each iteration runs both once,
// alternating; it reports the medians and their ratio (issue 3 target:
// ratio ≤ 1.4). Both are built twice: as `go build` does by default (cgo,
// dynamically linked where a C compiler exists) and as releases are
// (CGO_ENABLED=0 -trimpath, .goreleaser.yaml).
func BenchmarkExecWholeProcess(b *testing.B) {
	for _, mode := range []struct {
		name  string
		env   []string
		flags []string
	}{
		{"default", nil, nil},
		{"release", []string{"CGO_ENABLED=0"}, []string{"-trimpath"}},
	} {
		b.Run(mode.name, func(b *testing.B) { benchExecWholeProcess(b, mode.env, mode.flags) })
	}
}

func benchExecWholeProcess(b *testing.B, buildEnv, buildFlags []string) {
	srv := locktest.StartServer(b, nil)
	dir := b.TempDir()
	lockstepBin, floorBin := filepath.Join(dir, "lockstep"), filepath.Join(dir, "minlock")
	for _, build := range [][]string{{lockstepBin, "."}, {floorBin, "./testdata/minlock"}} {
		cmd := exec.Command("go", append(append([]string{"build"}, buildFlags...), "-o", build[0], build[1])...)
		cmd.Env = append(os.Environ(), buildEnv...)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("go build %s: %v\n%s", build[1], err, out)
		}
	}
	truePath, err := exec.LookPath("true")
	if err != nil {
		b.Fatal(err)
	}
	env := append(os.Environ(), "LOCKSTEP_BACKEND="+srv.URL(), "LOCKSTEP_LOG=")
	run := func(argv ...string) time.Duration {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = env
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %v\n%s", argv, err, out)
		}
		return time.Since(start)
	}
	// Warm the page cache and the server's script cache.
	run(lockstepBin, "exec", "bench", "--", truePath)
	run(floorBin, srv.URL(), "bench-floor", truePath)
	var ours, floor []time.Duration
	b.ResetTimer()
	for b.Loop() {
		ours = append(ours, run(lockstepBin, "exec", "bench", "--", truePath))
		floor = append(floor, run(floorBin, srv.URL(), "bench-floor", truePath))
	}
	b.StopTimer()
	mo, mf := median(ours), median(floor)
	b.ReportMetric(float64(mo.Microseconds())/1000, "exec-ms")
	b.ReportMetric(float64(mf.Microseconds())/1000, "floor-ms")
	b.ReportMetric(float64(mo)/float64(mf), "ratio")
	b.ReportMetric(0, "ns/op")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
