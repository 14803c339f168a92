package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// TestPlan_distantBackend: plan reads the locks and once markers of a
// large workflow from a backend 10 ms away within its 2-second budget. It
// used to read them one round trip each (400 steps: 800 × 10 ms), ran out
// of time and, with -require-backend, exited 5 saying the backend did not
// answer.
func TestPlan_distantBackend(t *testing.T) {
	t.Parallel()
	srv := locktest.StartServer(t, nil)
	p := locktest.StartProxy(t, srv.Addr)
	p.Latency(10 * time.Millisecond)
	const n = 400
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "step \"s%d\" {\n  lock {\n    key = \"far/%d\"\n  }\n  once {\n    key = \"far/done/%d\"\n  }\n  command = [\"true\"]\n}\n", i, i, i)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	code, ls := runLockstep(t, dir, []string{"LOCKSTEP_BACKEND=" + p.URL()}, "plan", "-require-backend", ".")
	out := ls.stdout.String()
	if code != 0 {
		t.Fatalf("plan exited %d, want 0\nstderr:\n%s", code, ls.stderr)
	}
	if free, unset := strings.Count(out, "free now"), strings.Count(out, "marker not set"); free != n || unset != n {
		t.Fatalf("plan showed %d free locks and %d unset markers, want %d of each", free, unset, n)
	}
}
