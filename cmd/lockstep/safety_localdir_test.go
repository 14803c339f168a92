package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSafety_localDirWipe (local-dir-wipe): the local lock directory is
// deleted while a step holds a lock, as a tmp cleaner or logind removing
// $XDG_RUNTIME_DIR would. A second lockstep then gets the lock at once (it
// recreates the directory); the first must notice within 250 ms, stop its
// step and exit 4, so that the two steps overlap by at most 250 ms.
func TestSafety_localDirWipe(t *testing.T) {
	const bound = 250 * time.Millisecond
	tmp := t.TempDir()
	dir, records := filepath.Join(tmp, "locks"), filepath.Join(tmp, "records")
	env := []string{"LOCKSTEP_BACKEND=local://" + dir}
	first := startLockstep(t, "", env, "exec", "-ttl", "6s", "safety/wipe", "--",
		"teststep", "record", records, "first", "60s")
	waitFile(t, records, 30*time.Second)
	child := readSections(t, records)[0].pid
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	wiped := monotonicNS()
	second := startLockstep(t, "", env, "exec", "safety/wipe", "--",
		"teststep", "record", records, "second", "2s")
	var died int64
	for deadline := time.Now().Add(30 * time.Second); alive(child); {
		if time.Now().After(deadline) {
			t.Fatalf("the first step still runs 30s after its lock directory was deleted")
		}
		time.Sleep(time.Millisecond) // polling another process's state
	}
	died = monotonicNS()
	appendLine(t, records, fmt.Sprintf("exit %d %d - first\n", died, child))
	code := first.wait(t, 30*time.Second)
	if c := second.wait(t, time.Minute); c != 0 {
		t.Fatalf("second lockstep exited %d: %s", c, second.stderr)
	}
	var overlap time.Duration
	for _, s := range readSections(t, records) {
		if s.label == "second" && s.enter < died {
			overlap = time.Duration(died - s.enter)
		}
	}
	t.Logf("local-dir-wipe: first step stopped %s after the directory was deleted; it overlapped the second holder by %s; first lockstep exited %d: %s",
		time.Duration(died-wiped).Round(time.Millisecond), overlap.Round(time.Millisecond), code, firstLine(first.stderr.String()))
	if code != exitLost {
		t.Errorf("first lockstep exited %d, want %d (lock lost)\nstderr:\n%s", code, exitLost, first.stderr)
	}
	if overlap > bound {
		t.Errorf("the steps overlapped by %s, want at most %s", overlap, bound)
	}
}
