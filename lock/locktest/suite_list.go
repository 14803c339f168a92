package locktest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
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

// showOnceMany: ShowMany and OnceMany answer what Show and Once answer, key
// by key and in order, across more keys than one round trip carries, on a
// backend that has not run a script yet.
func (s *suite) showOnceMany(t *testing.T) {
	l, ctx := s.locker(t), ctxFor(t)
	if infos, err := lock.ShowMany(ctx, l, nil); err != nil || len(infos) != 0 {
		t.Fatalf("ShowMany of no keys: %v, %v", infos, err)
	}
	keys := s.manyKeys(ctx, t, l)
	infos, err := lock.ShowMany(ctx, l, keys)
	if err != nil || len(infos) != len(keys) {
		t.Fatalf("ShowMany: %d infos, %v; want %d", len(infos), err, len(keys))
	}
	recs, err := lock.OnceMany(ctx, l, keys)
	if err != nil || len(recs) != len(keys) {
		t.Fatalf("OnceMany: %d records, %v; want %d", len(recs), err, len(keys))
	}
	held, set := 0, 0
	for i, k := range keys {
		one, err := l.Show(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := showForCompare(infos[i]), showForCompare(one); !reflect.DeepEqual(got, want) {
			t.Fatalf("ShowMany[%d] (%q) = %+v, Show = %+v", i, k, got, want)
		}
		held += min(len(infos[i].Holders), 1)
		rec, err := l.Once(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(onceForCompare(recs[i]), onceForCompare(rec)) {
			t.Fatalf("OnceMany[%d] (%q) = %+v, Once = %+v", i, k, recs[i], rec)
		}
		if rec != nil {
			set++
		}
	}
	wantHeld := 3
	if s.caps.FIFO {
		wantHeld = 4
		if w := infos[599]; w.Waiters != 1 || len(w.Queue) != 1 || w.Queue[0].Owner != "w@test" {
			t.Fatalf("ShowMany of a key with a waiter: %+v", w)
		}
	}
	if held != wantHeld || set != 3 {
		t.Fatalf("ShowMany saw %d held keys (want %d), OnceMany %d markers (want 3)", held, wantHeld, set)
	}
}

// manyKeys returns showOnceMany's keys: three batches and more, a repeated
// key and hostile ones, three of them held with limit 2, many/599 held with
// a waiter (on a backend with a queue), three with a once marker.
func (s *suite) manyKeys(ctx context.Context, t *testing.T, l lock.Locker) []string {
	t.Helper()
	var keys []string
	for i := range 600 {
		keys = append(keys, fmt.Sprintf("many/%d", i))
	}
	keys = append(keys, "many/7", "many/a{b}c", "many/}{", "many/tab\there")
	for _, k := range []string{"many/3", "many/300", "many/a{b}c"} {
		mustAcquire(t, l, lock.Request{Key: k, TTL: time.Minute, Limit: 2, Holder: holder("x")})
	}
	if s.caps.FIFO {
		mustAcquire(t, l, lock.Request{Key: "many/599", TTL: time.Minute, Holder: holder("x")})
		w := waitingAcquire(ctx, t, s.locker(t), lock.Request{Key: "many/599", Holder: holder("w")})
		t.Cleanup(func() { // the waiter leaves nothing queued behind
			if err := l.ForceRelease(ctx, "many/599"); err != nil {
				t.Error(err)
			}
			recv(t, w, 3*time.Second, "force-release wakes the waiter")
		})
	}
	for _, k := range []string{"many/5", "many/500", "many/}{"} {
		if err := l.MarkOnce(ctx, lock.OnceRecord{Key: k, Owner: "x@test"}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// showForCompare drops what changes between two reads: the time left.
func showForCompare(li lock.LockInfo) lock.LockInfo {
	li.Holders = slices.Clone(li.Holders)
	for i := range li.Holders {
		li.Holders[i].TTL = 0
	}
	return li
}

func onceForCompare(rec *lock.OnceRecord) *lock.OnceRecord {
	if rec == nil {
		return nil
	}
	c := *rec
	c.TTL = 0
	return &c
}
