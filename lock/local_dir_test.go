package lock_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
)

// TestNewLocal_checksBeforeCreating: NewLocal refuses a directory others may
// write and a symlink it did not make, and creates nothing in either.
func TestNewLocal_checksBeforeCreating(t *testing.T) {
	// Each case returns the directory to open and the one that must stay empty.
	cases := map[string]func(t *testing.T) (dir, look string){
		"world-writable": func(t *testing.T) (string, string) {
			d := mkdir(t, t.TempDir(), "open")
			if err := os.Chmod(d, 0o777); err != nil {
				t.Fatal(err)
			}
			return d, d
		},
		"symlinked dir": func(t *testing.T) (string, string) {
			target, link := mkdir(t, t.TempDir(), "target"), filepath.Join(t.TempDir(), "link")
			symlink(t, target, link)
			return link, target
		},
		"symlinked dir, trailing slash": func(t *testing.T) (string, string) {
			target, link := mkdir(t, t.TempDir(), "target"), filepath.Join(t.TempDir(), "link")
			symlink(t, target, link)
			return link + string(filepath.Separator), target
		},
		"symlinked locks/": func(t *testing.T) (string, string) {
			target, inner := mkdir(t, t.TempDir(), "target"), mkdir(t, t.TempDir(), "inner")
			symlink(t, target, filepath.Join(inner, "locks"))
			return inner, target
		},
	}
	for name, setup := range cases {
		t.Run(name, func(t *testing.T) {
			dir, look := setup(t)
			if _, err := lock.NewLocal(dir, nil); err == nil || !errors.Is(err, lock.ErrUnavailable) {
				t.Errorf("NewLocal(%q) = %v, want a refusal wrapping ErrUnavailable", dir, err)
			}
			if names, _ := os.ReadDir(look); len(names) != 0 {
				t.Errorf("NewLocal created %d entries in %s before refusing it", len(names), look)
			}
		})
	}
}

func mkdir(t *testing.T, parent, name string) string {
	t.Helper()
	d := filepath.Join(parent, name)
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	return d
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("cannot make a symlink here: %v", err)
	}
}

// TestLocal_dirRemovedIsLoss: deleting the lock directory under a held lease
// is a loss the keeper reports within 250 ms, and Check says ErrNotHeld, even
// when the renewal interval is far longer.
func TestLocal_dirRemovedIsLoss(t *testing.T) {
	for _, what := range []string{"directory", "lock files", "directory replaced"} {
		t.Run(what, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "locks")
			l, err := lock.NewLocal(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			lease, err := l.Acquire(ctx, lock.Request{Key: "wipe", TTL: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			k := lock.Keep(ctx, l, lease, nil) // renews every 10 s
			defer k.Stop()
			start := time.Now()
			switch what {
			case "directory":
				err = os.RemoveAll(dir)
			case "lock files":
				err = os.RemoveAll(filepath.Join(dir, "locks"))
			default:
				if err = os.Rename(dir, dir+".old"); err == nil {
					err = os.Mkdir(dir, 0o700)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-k.Lost():
			case <-time.After(10 * time.Second):
				t.Fatalf("no loss reported 10s after the %s went", what)
			}
			took := time.Since(start)
			t.Logf("%s removed: loss reported after %s (%v)", what, took.Round(time.Millisecond), k.Err())
			if !errors.Is(k.Err(), lock.ErrNotHeld) {
				t.Errorf("keeper error %v, want ErrNotHeld", k.Err())
			}
			if took > 250*time.Millisecond {
				t.Errorf("loss reported after %s, want within 250ms", took)
			}
			if err := l.Check(ctx, "wipe", lease.Token); !errors.Is(err, lock.ErrNotHeld) {
				t.Errorf("check after the %s went: %v, want ErrNotHeld", what, err)
			}
			if err := l.Release(ctx, "wipe", lease.Token); !errors.Is(err, lock.ErrNotHeld) {
				t.Errorf("release after the %s went: %v, want ErrNotHeld", what, err)
			}
		})
	}
}
