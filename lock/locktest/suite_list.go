package locktest

import (
	"errors"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
)

func (s *suite) holdersListForce(t *testing.T) {
	l, ctx := s.locker(t), ctxFor(t)
	for _, k := range []string{"list/b", "list/a", "listed-not"} {
		mustAcquire(t, l, lock.Request{Key: k, TTL: time.Minute, Holder: holder("x")})
	}
	mustAcquire(t, l, lock.Request{Key: "list/a", Limit: 2, TTL: time.Minute, Holder: holder("y")})
	infos, err := l.List(ctx, "list/")
	if err != nil || len(infos) != 2 || infos[0].Key != "list/a" || infos[1].Key != "list/b" {
		t.Fatalf("list list/: %+v, %v", infos, err)
	}
	if len(infos[0].Holders) != 2 || infos[0].Limit != 2 {
		t.Fatalf("list/a: %+v, want 2 holders, limit 2", infos[0])
	}
	hs, err := lock.HoldersOf(ctx, l, "list/b")
	if err != nil || len(hs) != 1 {
		t.Fatalf("holders: %+v, %v", hs, err)
	}
	h := hs[0]
	if h.Owner != "x@test" || h.PID != 42 || h.Step != "step.x" || h.Fence == 0 || time.Since(h.Since) > time.Minute {
		t.Fatalf("holder metadata: %+v", h)
	}
	if s.caps.TTL && (h.TTL <= 0 || h.TTL > time.Minute) {
		t.Fatalf("holder ttl left %s, want within (0, 1m]", h.TTL)
	}
	w := waitingAcquire(ctx, t, s.locker(t), lock.Request{Key: "list/b"})
	if s.caps.FIFO { // a backend with a queue reports its length
		if infos, err := l.List(ctx, "list/b"); err != nil || len(infos) != 1 || infos[0].Waiters != 1 {
			t.Fatalf("list with one waiter: %+v, %v", infos, err)
		}
	}
	if err := l.ForceRelease(ctx, "list/b"); err != nil {
		t.Fatal(err)
	}
	if r := recv(t, w, 3*time.Second, "force-release wakes the waiter"); r.err != nil {
		t.Fatalf("waiter after force-release: %v", r.err)
	}
	if err := l.ForceRelease(ctx, "list/free"); !errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("force-release of a free lock: got %v, want ErrNotHeld", err)
	}
}

func (s *suite) hostileKeys(t *testing.T) {
	l, ctx := s.locker(t), ctxFor(t)
	keys := []string{"a{b}c", "}{", "a%7Bb", "a:b", "feature/ü-ß", "x*?[]\\", "tab\there", "..", "/", "a/../../b"}
	for _, k := range keys {
		lease := mustAcquire(t, l, lock.Request{Key: k})
		if err := l.Check(ctx, k, lease.Token); err != nil {
			t.Fatalf("check %q: %v", k, err)
		}
	}
	infos, err := l.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, li := range infos {
		seen[li.Key] = true
	}
	for _, k := range keys {
		if !seen[k] {
			t.Errorf("list lost key %q (got %d locks)", k, len(infos))
		}
	}
	if _, err := l.Acquire(ctx, lock.Request{Key: "a%7Bb", Token: lock.NewToken()}); !errors.Is(err, lock.ErrBusy) {
		t.Fatalf("a held key was free: %v", err)
	}
	mustAcquire(t, l, lock.Request{Key: "a{b"}) // would collide with "a%7Bb" under a naive encoding
}
