package lock_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/lock/locktest"
)

func TestLocal_conformance(t *testing.T) { runLocalConformance(t) }

// runLocalConformance runs the conformance suite on one local directory.
func runLocalConformance(t *testing.T) {
	dir := t.TempDir()
	newLocker := func(t *testing.T) lock.Locker {
		l, err := lock.NewLocal(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	waits := func(t *testing.T) []string {
		names, err := os.ReadDir(filepath.Join(dir, "waits"))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		var out []string
		for _, n := range names {
			out = append(out, n.Name())
		}
		return out
	}
	locktest.Run(t, newLocker, locktest.Capabilities{FIFO: true, Modes: true, Newest: true, QueueLimit: true,
		Positions: true, Deadlocks: true, WaitRecords: waits, Kill: lock.KillLocal})
}

func TestDefaultLocalDir(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_STATE_HOME", "")
	want := filepath.Join(home, ".local", "state", "lockstep")
	if runtime.GOOS == "darwin" {
		want = filepath.Join(home, "Library", "Application Support", "lockstep")
	}
	if d := lock.DefaultLocalDir(); d != want {
		t.Fatalf("with HOME: %q, want %q", d, want)
	}
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	if d := lock.DefaultLocalDir(); d != filepath.Join(state, "lockstep") {
		t.Fatalf("with XDG_STATE_HOME: %q", d)
	}
	t.Setenv("XDG_STATE_HOME", "relative/state")
	t.Setenv("HOME", "/no-home")
	want = filepath.Join(os.TempDir(), fmt.Sprintf("lockstep-%d", os.Getuid()))
	if d := lock.DefaultLocalDir(); d != want {
		t.Fatalf("without a home directory: %q, want %q", d, want)
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
	cmd, _, childFence := startHolder(t, dir, "crash")
	l, err := lock.NewLocal(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	hs, _ := lock.HoldersOf(ctx, l, "crash")
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

// startHolder starts a child process holding key in dir with a keeper
// (ttl 300ms) and returns once it holds the lock, with its fence.
func startHolder(t *testing.T, dir, key string) (*exec.Cmd, *bufio.Reader, int64) {
	cmd, r := startHelper(t, dir, key, false)
	line, err := r.ReadString('\n')
	var fence int64
	if _, serr := fmt.Sscanf(line, "held %d", &fence); err != nil || serr != nil {
		t.Fatalf("helper: %q, %v", line, err)
	}
	return cmd, r, fence
}

// startHelper starts TestLocalHelper as a child process for key in dir;
// with wait, it queues for the lock and prints "waiting" first.
func startHelper(t *testing.T, dir, key string, wait bool) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLocalHelper$")
	cmd.Env = append(os.Environ(), "LOCKSTEP_TEST_HOLD="+dir, "LOCKSTEP_TEST_KEY="+key)
	if wait {
		cmd.Env = append(cmd.Env, "LOCKSTEP_TEST_WAIT=1")
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, bufio.NewReader(out)
}

// TestLocalHelper is the child of the process tests: it holds a lock with a
// keeper until killed, or prints "lost" and releases when the lease is lost.
func TestLocalHelper(t *testing.T) {
	dir := os.Getenv("LOCKSTEP_TEST_HOLD")
	if dir == "" {
		t.Skip("helper process only")
	}
	l, err := lock.NewLocal(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	req := lock.Request{Key: os.Getenv("LOCKSTEP_TEST_KEY"), TTL: 300 * time.Millisecond, Holder: lock.Holder{PID: os.Getpid()}}
	if os.Getenv("LOCKSTEP_TEST_WAIT") != "" {
		req.Wait = lock.WaitForever
		req.OnWait = func([]lock.Holder) { fmt.Println("waiting") }
	}
	lease, err := l.Acquire(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	k := lock.Keep(ctx, l, lease, nil)
	fmt.Printf("held %d\n", lease.Fence)
	<-k.Lost()
	fmt.Printf("lost: %v\n", k.Err())
	lock.ReleaseLease(ctx, l, lease)
}

// TestLocal_forceReleaseOtherProcess: a holder in another process is revoked;
// its keeper reports the loss, it releases, and the lock is free.
func TestLocal_forceReleaseOtherProcess(t *testing.T) {
	if os.Getenv("LOCKSTEP_TEST_HOLD") != "" {
		return
	}
	dir := t.TempDir()
	cmd, out, _ := startHolder(t, dir, "revoke")
	l, err := lock.NewLocal(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := l.ForceRelease(ctx, "revoke"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Acquire(ctx, lock.Request{Key: "revoke", Wait: 5 * time.Second}); err != nil {
		t.Fatalf("lock not freed after revoking the other process: %v", err)
	}
	line, _ := out.ReadString('\n')
	if !strings.Contains(line, "lost") || !strings.Contains(line, lock.ErrNotHeld.Error()) {
		t.Fatalf("holder process said %q, want a loss with ErrNotHeld", line)
	}
	cmd.Wait()
}

// TestLocal_retryAfterForceRelease: an acquire retried with the token of a
// lease that another process force-released meanwhile must not hand back the
// revoked lease; it takes the lock afresh, with a greater fence. The other
// process's force-release is what it does on disk: it renames the holder's
// ticket file (docs/locks.md).
func TestLocal_retryAfterForceRelease(t *testing.T) {
	dir := t.TempDir()
	l, err := lock.NewLocal(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	req := lock.Request{Key: "retry", Token: lock.NewToken()}
	first, err := l.Acquire(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	revoked := 0
	filepath.WalkDir(filepath.Join(dir, "locks"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), "t") {
			if os.Rename(path, path+".r") == nil {
				revoked++
			}
		}
		return nil
	})
	if revoked == 0 {
		t.Fatal("found no ticket file to revoke: the local layout changed")
	}
	if err := l.Check(ctx, "retry", first.Token); !errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("check after force-release = %v, want ErrNotHeld", err)
	}
	again, err := l.Acquire(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if again.Fence <= first.Fence {
		t.Fatalf("retried acquire returned fence %d, not above the revoked lease's %d", again.Fence, first.Fence)
	}
	if err := l.Check(ctx, "retry", again.Token); err != nil {
		t.Fatalf("check of the new lease: %v", err)
	}
}
