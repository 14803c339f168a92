package lock_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/lock/locktest"
)

func TestLocal_conformance(t *testing.T) {
	dir := t.TempDir()
	newLocker := func(t *testing.T) lock.Locker {
		l, err := lock.NewLocal(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	locktest.Run(t, newLocker, locktest.Capabilities{})
}

func TestDefaultLocalDir(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/1234")
	if d := lock.DefaultLocalDir(); d != "/run/user/1234/lockstep" {
		t.Fatalf("with XDG_RUNTIME_DIR: %q", d)
	}
	t.Setenv("XDG_RUNTIME_DIR", "")
	want := filepath.Join(os.TempDir(), fmt.Sprintf("lockstep-%d", os.Getuid()))
	if d := lock.DefaultLocalDir(); d != want {
		t.Fatalf("without XDG_RUNTIME_DIR: %q, want %q", d, want)
	}
}

func TestNewLocal_refusesSharedDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := lock.NewLocal(dir, nil); err == nil {
		t.Fatal("a world-writable lock directory was accepted")
	}
	fresh := filepath.Join(t.TempDir(), "new")
	if _, err := lock.NewLocal(fresh, nil); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(fresh); fi.Mode().Perm() != 0o700 {
		t.Fatalf("created with mode %s, want 0700", fi.Mode().Perm())
	}
}

// TestLocal_processDeathReleases holds a lock in a child process, kills it
// with SIGKILL and expects the lock free again, with a higher fence.
func TestLocal_processDeathReleases(t *testing.T) {
	if os.Getenv("LOCKSTEP_TEST_HOLD") != "" {
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLocalHelper$")
	cmd.Env = append(os.Environ(), "LOCKSTEP_TEST_HOLD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "held ") {
		t.Fatalf("helper: %q, %v", line, err)
	}
	var childFence int64
	fmt.Sscanf(line, "held %d", &childFence)
	l, err := lock.NewLocal(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	hs, _ := l.Holders(ctx, "crash")
	if len(hs) != 1 || hs[0].PID != cmd.Process.Pid {
		t.Fatalf("holders while the child holds: %+v", hs)
	}
	if _, err := l.Acquire(ctx, lock.Request{Key: "crash"}); err == nil {
		t.Fatal("acquired a lock the child holds")
	}
	cmd.Process.Kill()
	cmd.Wait()
	lease, err := l.Acquire(ctx, lock.Request{Key: "crash", Wait: 5 * time.Second})
	if err != nil {
		t.Fatalf("lock not freed by the child's death: %v", err)
	}
	if lease.Fence <= childFence {
		t.Fatalf("fence %d after the child's %d", lease.Fence, childFence)
	}
}

// TestLocalHelper is the child of TestLocal_processDeathReleases.
func TestLocalHelper(t *testing.T) {
	dir := os.Getenv("LOCKSTEP_TEST_HOLD")
	if dir == "" {
		t.Skip("helper process only")
	}
	l, err := lock.NewLocal(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	lease, err := l.Acquire(context.Background(), lock.Request{Key: "crash", Holder: lock.Holder{PID: os.Getpid()}})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("held %d\n", lease.Fence)
	select {} // until killed
}
