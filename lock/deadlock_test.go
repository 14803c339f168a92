package lock

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// graphBoard is a wait-for graph held in memory: the search's input as a
// backend would read it, so that the search's rules are tested one by one
// (the conformance suite runs them against the real backends).
type graphBoard struct {
	locks map[string]LockInfo
	waits map[string][]waitRecord
	reads int
}

func (g *graphBoard) Show(ctx context.Context, key string) (LockInfo, error) {
	g.reads++
	return g.locks[key], nil
}
func (g *graphBoard) postWait(context.Context, *waitRecord, bool) error { return nil }
func (g *graphBoard) removeWait(context.Context, *waitRecord)           {}
func (g *graphBoard) waitsOf(ctx context.Context, run string) ([]waitRecord, error) {
	g.reads++
	return g.waits[run], nil
}

// chain builds runs r0..r(n-1): run i holds key k(i) and waits for k(i+1);
// the last waits for k(0) when closed, else for a free key.
func chain(n int, closed bool) (*graphBoard, []waitRecord) {
	g := &graphBoard{locks: map[string]LockInfo{}, waits: map[string][]waitRecord{}}
	var recs []waitRecord
	for i := range n {
		run, held, next := fmt.Sprint("r", i), fmt.Sprint("k", i), fmt.Sprint("k", (i+1)%n)
		if !closed && i == n-1 {
			next = "free"
		}
		rec := waitRecord{ID: fmt.Sprint("w", i), RunID: run, Step: "step." + run, Key: next, Holds: []string{held}, Since: int64(100 + i)}
		recs = append(recs, rec)
		g.waits[run] = []waitRecord{rec}
		li := g.locks[held]
		li.Key, li.Limit, li.Holders = held, 1, []Holder{{RunID: run}}
		g.locks[held] = li
		li = g.locks[next]
		li.Key, li.Limit = next, 1
		li.Queue = append(li.Queue, Waiter{Holder: Holder{RunID: run, Step: rec.Step}})
		g.locks[next] = li
	}
	return g, recs
}

func victims(t *testing.T, g *graphBoard, recs []waitRecord) []*DeadlockError {
	t.Helper()
	var out []*DeadlockError
	for _, rec := range recs {
		if e := deadlockOf(context.Background(), g, rec, hclog.NewNullLogger()); e != nil {
			out = append(out, e)
		}
	}
	return out
}

func TestDeadlock_oneVictim(t *testing.T) {
	g, recs := chain(3, true)
	got := victims(t, g, recs)
	if len(got) != 1 {
		t.Fatalf("%d waits gave up, want exactly one: %v", len(got), got)
	}
	want := `lock "k0": deadlock between runs: run r2 (step.r2) holds "k2" and waits for "k0"; ` +
		`run r0 (step.r0) holds "k0" and waits for "k1"; run r1 (step.r1) holds "k1" and waits for "k2"`
	if got[0].Error() != want || !errors.Is(got[0], ErrDeadlock) || errors.Is(got[0], ErrBusy) {
		t.Fatalf("error %q, want %q wrapping ErrDeadlock only", got[0], want)
	}
	// The same Since: the greatest run id gives up.
	for i := range recs {
		recs[i].Since = 7
		g.waits[recs[i].RunID][0].Since = 7
	}
	if got := victims(t, g, recs); len(got) != 1 || got[0].Cycle[0].RunID != "r2" {
		t.Fatalf("with equal Since: %v, want r2 alone", got)
	}
}

func TestDeadlock_noCycle(t *testing.T) {
	cases := map[string]func(g *graphBoard){
		"open chain": nil,
		// A record whose run is not in its key's queue any more.
		"stale record": func(g *graphBoard) {
			li := g.locks["k2"]
			li.Queue = nil
			g.locks["k2"] = li
		},
		// Any one holder of a semaphore leaving lets the waiter in.
		"semaphore": func(g *graphBoard) {
			li := g.locks["k1"]
			li.Limit = 2
			g.locks["k1"] = li
		},
		// r1 holds k1, but not while it waits (a step lock of another step).
		"not in Holds": func(g *graphBoard) { g.waits["r1"][0].Holds = []string{"other"} },
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			g, recs := chain(3, name != "open chain")
			if edit != nil {
				edit(g)
			}
			if got := victims(t, g, recs); len(got) != 0 {
				t.Fatalf("deadlock reported: %v", got)
			}
		})
	}
}

func TestDeadlock_bounds(t *testing.T) {
	g, recs := chain(maxCycle, true)
	if got := victims(t, g, recs); len(got) != 1 || len(got[0].Cycle) != maxCycle {
		t.Fatalf("cycle of %d: %d waits gave up, want one with the whole cycle", maxCycle, len(got))
	}
	g, recs = chain(maxCycle+1, true)
	g.reads = 0
	if got := victims(t, g, recs); len(got) != 0 {
		t.Fatalf("cycle of %d reported: %v, want it past the search's bound", maxCycle+1, got)
	}
	if per := g.reads / len(recs); per > maxReads {
		t.Fatalf("%d reads per check, bound %d", per, maxReads)
	}
}

func TestTakesPart(t *testing.T) {
	for _, c := range []struct {
		req  Request
		want bool
	}{
		{Request{Key: "k", Wait: WaitForever, Holds: []string{"a"}, Holder: Holder{RunID: "r"}}, true},
		{Request{Key: "k", Wait: WaitForever, Holder: Holder{RunID: "r"}}, false},
		{Request{Key: "k", Wait: WaitForever, Holds: []string{"a"}}, false},
		{Request{Key: "k", Holds: []string{"a"}, Holder: Holder{RunID: "r"}}, false}, // does not wait
	} {
		if got := takesPart(&c.req); got != c.want {
			t.Errorf("takesPart(%+v) = %v, want %v", c.req, got, c.want)
		}
	}
}
