package lock_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
)

// keyDirs lists the key directories under the lock directory dir.
func keyDirs(t *testing.T, dir string) []string {
	t.Helper()
	ds, err := os.ReadDir(filepath.Join(dir, "locks"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range ds {
		out = append(out, d.Name())
	}
	return out
}

// holding is a lease and the locker that holds it.
type holding struct {
	l     lock.Locker
	lease *lock.Lease
}

// holdOn acquires req on a new locker of dir, without waiting.
func holdOn(t *testing.T, dir string, req lock.Request) holding {
	t.Helper()
	l := newLocal(t, dir)
	lease, err := l.Acquire(context.Background(), req)
	if err != nil {
		t.Fatalf("acquire %q: %v", req.Key, err)
	}
	return holding{l, lease}
}

func (h holding) release(t *testing.T) {
	t.Helper()
	if err := h.l.Release(context.Background(), h.lease.Key, h.lease.Token); err != nil {
		t.Fatalf("release %q: %v", h.lease.Key, err)
	}
}

// takeAndRelease acquires key on l and releases it, returning the fence.
func takeAndRelease(t *testing.T, l lock.Locker, key string) int64 {
	t.Helper()
	ctx := context.Background()
	lease, err := l.Acquire(ctx, lock.Request{Key: key, Wait: within})
	if err != nil {
		t.Fatalf("acquire %q: %v", key, err)
	}
	if err := l.Release(ctx, lease.Key, lease.Token); err != nil {
		t.Fatalf("release %q: %v", key, err)
	}
	return lease.Fence
}

// TestLocal_collectIdleKey: a key's directory stays while it is younger
// than the idle time and is gone at the first sweep after it, leaving
// nothing behind.
func TestLocal_collectIdleKey(t *testing.T) {
	const idle = 300 * time.Millisecond
	dir := t.TempDir()
	l, c := newLocal(t, dir), newLocal(t, dir)
	lock.SetLocalKeepIdle(c, idle)
	before := time.Now()
	takeAndRelease(t, l, "idle")
	if n := lock.CollectLocal(c); n != 0 || len(keyDirs(t, dir)) != 1 {
		t.Fatalf("a key used just now was collected (%d removed, %v left)", n, keyDirs(t, dir))
	}
	waitUntil(t, within, "the idle key to be collected", func() bool { return lock.CollectLocal(c) == 1 })
	took := time.Since(before)
	t.Logf("key collected %s after its last use (idle time %s)", took.Round(time.Millisecond), idle)
	if took < idle {
		t.Errorf("collected after %s, before the idle time %s", took, idle)
	}
	if ds := keyDirs(t, dir); len(ds) != 0 {
		t.Errorf("left in locks/: %v", ds)
	}
}

// The collecting lockers of these tests have a short idle time; the others
// keep the default (10 minutes), so that their releases remove nothing.

// TestLocal_collectKeepsKeysInUse: with an idle time of 1 ns, a sweep
// removes neither a held key (however long held), nor a shared one, nor
// one with waiters (a FIFO one and a newest-wins one with its doorbell);
// it does remove a key whose holder died, ticket and all. Once released,
// they all go.
func TestLocal_collectKeepsKeysInUse(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	c := newLocal(t, dir)
	lock.SetLocalKeepIdle(c, time.Nanosecond)
	held := holdOn(t, dir, lock.Request{Key: "held"})
	shared := holdOn(t, dir, lock.Request{Key: "shared", Mode: lock.Shared})
	queued := holdOn(t, dir, lock.Request{Key: "queued"})
	fifo := queue(ctx, t, newLocal(t, dir), lock.Request{Key: "queued"})
	newest := queue(ctx, t, newLocal(t, dir), lock.Request{Key: "queued", Queue: lock.Newest})
	dead := holdOn(t, dir, lock.Request{Key: "dead"})
	lock.KillLocal(t, dead.l)
	if n := lock.CollectLocal(c); n != 1 {
		t.Fatalf("sweep removed %d keys, want 1 (the dead holder's)", n)
	}
	for _, h := range []holding{held, shared, queued} {
		if err := h.l.Check(ctx, h.lease.Key, h.lease.Token); err != nil {
			t.Fatalf("%s after the sweep: %v", h.lease.Key, err)
		}
	}
	if li, err := c.Show(ctx, "queued"); err != nil || li.Waiters != 2 {
		t.Fatalf("queued after the sweep: %+v, %v; want 2 waiters", li, err)
	}
	held.release(t)
	shared.release(t)
	queued.release(t)
	u := newLocal(t, dir) // leases belong to the process: any locker of dir releases
	next := holding{u, take(t, fifo, "the FIFO waiter")}
	next.release(t)
	last := holding{u, take(t, newest, "the newest-wins waiter")}
	if last.lease.Fence <= next.lease.Fence || next.lease.Fence <= queued.lease.Fence {
		t.Errorf("fences %d, %d, %d: not increasing", queued.lease.Fence, next.lease.Fence, last.lease.Fence)
	}
	last.release(t)
	if n := lock.CollectLocal(c); n != 3 || len(keyDirs(t, dir)) != 0 {
		t.Fatalf("after the releases the sweep removed %d keys, left %v", n, keyDirs(t, dir))
	}
}

// TestLocal_fenceAcrossCollection: as TestRedis_fenceAcrossExpiry, a key
// taken through three collections of its state gets fences that keep
// growing (a collected counter restarts at the clock), and 50 keys leave
// nothing behind.
func TestLocal_fenceAcrossCollection(t *testing.T) {
	dir := t.TempDir()
	l, c := newLocal(t, dir), newLocal(t, dir)
	lock.SetLocalKeepIdle(c, time.Nanosecond)
	var last int64
	for i := range 3 {
		for range 2 { // the second from the kept counter: last + 1 at least
			f := takeAndRelease(t, l, "collected")
			if f <= last {
				t.Fatalf("round %d: fence %d after %d", i, f, last)
			}
			last = f
		}
		if n := lock.CollectLocal(c); n != 1 || len(keyDirs(t, dir)) != 0 {
			t.Fatalf("round %d: sweep removed %d keys, left %v", i, n, keyDirs(t, dir))
		}
	}
	t.Logf("fences grew across 3 collections of the key's files, last %d", last)
	for i := range 50 {
		takeAndRelease(t, l, "many/"+strconv.Itoa(i))
	}
	if n := lock.CollectLocal(c); n != 50 || len(keyDirs(t, dir)) != 0 {
		t.Fatalf("50 released keys: sweep removed %d, left %d", n, len(keyDirs(t, dir)))
	}
}

// TestLocal_fenceMarginOfIdleTime: a counter may run ahead of the clock
// (more than 1000 acquisitions in a millisecond, or the clock stepped
// back); once collected, the next fence still exceeds it if the lead was
// shorter than the idle time. The canary collects at once: the fence then
// goes back, which is why the idle time is the margin.
func TestLocal_fenceMarginOfIdleTime(t *testing.T) {
	for _, tc := range []struct {
		name       string
		lead, idle time.Duration
		wantBack   bool
	}{
		{"lead 100ms, idle 300ms", 100 * time.Millisecond, 300 * time.Millisecond, false},
		{"canary: lead 1h, idle 1ns", time.Hour, time.Nanosecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l, c := newLocal(t, dir), newLocal(t, dir)
			lock.SetLocalKeepIdle(c, tc.idle)
			takeAndRelease(t, l, "ahead")
			ahead := time.Now().Add(tc.lead).UnixMicro()
			counter := filepath.Join(dir, "locks", keyDirs(t, dir)[0], "fence")
			if err := os.WriteFile(counter, []byte(strconv.FormatInt(ahead, 10)+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, within, "the key to be collected", func() bool { return lock.CollectLocal(c) == 1 })
			f := takeAndRelease(t, l, "ahead")
			t.Logf("counter %d (clock + %s), idle %s: next fence %d", ahead, tc.lead, tc.idle, f)
			if back := f <= ahead; back != tc.wantBack {
				t.Errorf("fence went back: %v, want %v", back, tc.wantBack)
			}
		})
	}
}

// backdate sets the modification time of path to ago before now.
func backdate(t *testing.T, path string, ago time.Duration) {
	t.Helper()
	at := time.Now().Add(-ago)
	if err := os.Chtimes(path, at, at); err != nil {
		t.Fatal(err)
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// TestLocal_sweepOnRelease: with the defaults (10 minutes idle, a sweep at
// most every 5 minutes among the processes of a directory), a release or a
// List sweeps when the last sweep is 5 minutes old: a key last used 11
// minutes ago goes, one used 9 minutes ago stays. Times are moved back
// (Chtimes) rather than waited for.
func TestLocal_sweepOnRelease(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	l := newLocal(t, dir)
	takeAndRelease(t, l, "old")
	takeAndRelease(t, l, "recent")
	swept := filepath.Join(dir, "swept")
	if !exists(swept) {
		t.Fatal("the first release did not sweep")
	}
	old, recent := lock.LocalKeyDir(l, "old"), lock.LocalKeyDir(l, "recent")
	backdate(t, old, 11*time.Minute)
	backdate(t, recent, 9*time.Minute)
	takeAndRelease(t, newLocal(t, dir), "other")
	if !exists(old) {
		t.Fatal("a release swept although another process swept just now")
	}
	backdate(t, swept, 6*time.Minute)
	takeAndRelease(t, l, "other") // l knows when it swept: it does not even look
	if !exists(old) {
		t.Fatal("a locker swept again within 5 minutes of its own sweep")
	}
	takeAndRelease(t, newLocal(t, dir), "other")
	if exists(old) || !exists(recent) {
		t.Fatalf("after the sweep: 11-minute idle key there: %v, 9-minute one: %v; want gone, there", exists(old), exists(recent))
	}
	backdate(t, recent, 11*time.Minute)
	backdate(t, swept, 6*time.Minute)
	if _, err := newLocal(t, dir).List(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if exists(recent) {
		t.Fatal("List did not sweep")
	}
}

// TestLocal_collectOnceMarkers: a sweep removes the once markers whose TTL
// ran out, even if nobody reads them, and a MarkOnce's temporary file left
// for 10 minutes; markers kept forever or still valid stay.
func TestLocal_collectOnceMarkers(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	l := newLocal(t, dir)
	for key, ttl := range map[string]time.Duration{"expired": time.Millisecond, "valid": time.Hour, "forever": 0} {
		if err := l.MarkOnce(ctx, lock.OnceRecord{Key: key}, ttl); err != nil {
			t.Fatal(err)
		}
	}
	left, fresh := filepath.Join(dir, "once", "x.json.tmp1"), filepath.Join(dir, "once", "y.json.tmp2")
	for _, p := range []string{left, fresh} {
		if err := os.WriteFile(p, []byte("{"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	backdate(t, left, 11*time.Minute)
	waitUntil(t, within, "the 1ms marker to expire", func() bool {
		lock.CollectLocal(l)
		ms, _ := filepath.Glob(filepath.Join(dir, "once", "*.json"))
		return len(ms) == 2
	})
	if exists(left) || !exists(fresh) {
		t.Errorf("temporary files: the abandoned one there: %v, the fresh one: %v; want gone, there", exists(left), exists(fresh))
	}
	recs, err := l.ListOnce(ctx, "")
	if err != nil || len(recs) != 2 || recs[0].Key != "forever" || recs[1].Key != "valid" {
		t.Fatalf("markers after the sweep: %+v, %v", recs, err)
	}
}

// TestLocal_collectBudget: a sweep that runs out of time stops (after the
// entry at hand) and says so; sweeps start at random entries, so repeated
// ones remove every idle key.
func TestLocal_collectBudget(t *testing.T) {
	const keys = 40
	dir := t.TempDir()
	l, c := newLocal(t, dir), newLocal(t, dir)
	lock.SetLocalKeepIdle(c, time.Nanosecond)
	for i := range keys {
		takeAndRelease(t, l, "budget/"+strconv.Itoa(i))
	}
	n, complete := lock.CollectLocalWithin(c, time.Nanosecond)
	if n != 1 || complete {
		t.Fatalf("a sweep with a 1ns budget removed %d keys, complete %v; want 1, false", n, complete)
	}
	sweeps := 1
	for ; len(keyDirs(t, dir)) > 0 && sweeps < 10*keys; sweeps++ {
		lock.CollectLocalWithin(c, time.Nanosecond)
	}
	t.Logf("%d sweeps of 1 key each removed %d keys", sweeps, keys)
	if ds := keyDirs(t, dir); len(ds) != 0 {
		t.Fatalf("%d keys left after %d sweeps", len(ds), sweeps)
	}
}

// TestLocal_collectWaitRecords: a sweep removes the wait records of
// processes that are gone — complete ones, and one its process never
// completed once older than the idle time — and keeps a live wait's and
// one being created. Before, only a run that looked for a cycle through the
// dead run's record removed it; the records of a killed run nobody waited
// on stayed forever.
func TestLocal_collectWaitRecords(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	holder := holdOn(t, dir, lock.Request{Key: "k"})
	defer holder.release(t)
	l := newLocal(t, dir)
	waiting := queue(ctx, t, l, lock.Request{Key: "k", Wait: lock.WaitForever, Holds: []string{"other"},
		Holder: lock.Holder{RunID: "run-a"}})
	waits := filepath.Join(dir, "waits")
	var live []os.DirEntry
	waitUntil(t, within, "the wait record", func() bool {
		live, _ = os.ReadDir(waits)
		return len(live) == 1
	})
	rec, err := os.ReadFile(filepath.Join(waits, live[0].Name()))
	if err != nil || len(rec) == 0 {
		t.Fatalf("the live record: %q, %v", rec, err)
	}
	dead, unfinished, creating := filepath.Join(waits, "dead-w1"), filepath.Join(waits, "dead-w2"), filepath.Join(waits, "new-w3")
	for path, content := range map[string][]byte{dead: rec, unfinished: nil, creating: nil} {
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	backdate(t, unfinished, 11*time.Minute)
	lock.CollectLocal(l)
	if exists(dead) || exists(unfinished) {
		t.Errorf("dead records left: complete %v, never completed %v", exists(dead), exists(unfinished))
	}
	if !exists(filepath.Join(waits, live[0].Name())) || !exists(creating) {
		t.Errorf("records removed: the live wait's %v, the one being created %v",
			!exists(filepath.Join(waits, live[0].Name())), !exists(creating))
	}
	cancel()
	if r := <-waiting; r.err == nil {
		t.Fatal("the wait ended with a lease while the lock was held")
	}
}
