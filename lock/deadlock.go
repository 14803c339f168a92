package lock

// Deadlock detection across runs (Request.Holds). A waiting request whose
// run holds other keys publishes a wait record: its run, step, the key it
// waits for and the keys it holds meanwhile. A search walks the wait-for
// graph one read at a time (no read spans two keys, so it works on a
// Cluster): from the key waited for to its holders' runs, to those runs'
// wait records that hold that key, to the keys they wait for, and so on.
// A path back to the searching wait is a cycle; its youngest wait gives up.

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"
)

// waitRecord is what a waiting request with Holds publishes.
type waitRecord struct {
	ID    string   `json:"id"` // random, one per wait; never the token
	RunID string   `json:"run_id"`
	Step  string   `json:"step,omitempty"`
	Key   string   `json:"key"`   // the key waited for
	Holds []string `json:"holds"` // keys the run holds while it waits
	Since int64    `json:"since"` // when the wait started, Unix ms, the waiter's clock
}

// waitBoard is a backend as the deadlock search sees it.
type waitBoard interface {
	// Show returns a key's holders and queue (Inspector.Show).
	Show(ctx context.Context, key string) (LockInfo, error)
	// postWait writes rec; again: rec was written before, refresh it
	// (writing it anew if it is gone).
	postWait(ctx context.Context, rec *waitRecord, again bool) error
	// removeWait deletes rec; failures are only logged.
	removeWait(ctx context.Context, rec *waitRecord)
	// waitsOf returns the wait records of run that look alive.
	waitsOf(ctx context.Context, runID string) ([]waitRecord, error)
}

// Timing of the checks: at the start of the wait and after each delay of
// deadlockStart (0.5 s, 1 s and 2 s into the wait: two waits that start
// at the same instant see each other's records by then, and the
// youngest wait of a cycle, the one that gives up, started when the rest
// of the cycle was in place), then every deadlockEvery, jittered: a
// straggler's safety net (a failed read, a wait queueing again), kept slow
// because each check costs the backend a few reads. A Redis record lives
// waitRecordTTL past its last refresh, two periods; a local one dies with
// its process.
var (
	deadlockStart = []time.Duration{500 * time.Millisecond, 500 * time.Millisecond, time.Second}
	deadlockEvery = 30 * time.Second
)

const waitRecordTTL = 60 * time.Second

// Bounds of one search: runs in a cycle, and reads (Show or waitsOf).
const (
	maxCycle = 16
	maxReads = 64
)

var errSearchBudget = errors.New("deadlock search stopped at its read budget")

// takesPart says whether req records its wait and looks for cycles.
func takesPart(req *Request) bool {
	return len(req.Holds) > 0 && req.Holder.RunID != "" && req.Wait != 0
}

// deadlockWatch runs the checks of one waiting request.
type deadlockWatch struct {
	found  chan *DeadlockError // receives the error when this wait gives up
	cancel context.CancelFunc
	done   chan struct{}
}

// watchDeadlocks starts the checks of req, which has just started waiting
// (it is queued); it returns nil, and does nothing, when req takes no part.
// The checks end with ctx or end.
func watchDeadlocks(ctx context.Context, b waitBoard, req *Request, log hclog.Logger) *deadlockWatch {
	if !takesPart(req) {
		return nil
	}
	rec := waitRecord{ID: NewToken()[:16], RunID: req.Holder.RunID, Step: req.Holder.Step, Key: req.Key,
		Holds: slices.Clone(req.Holds), Since: time.Now().UnixMilli()}
	wctx, cancel := context.WithCancel(ctx)
	w := &deadlockWatch{found: make(chan *DeadlockError, 1), cancel: cancel, done: make(chan struct{})}
	go w.run(wctx, b, rec, log)
	return w
}

// C receives the *DeadlockError when this wait is the one of a cycle that
// gives up; nil (blocking forever) for a nil watch.
func (w *deadlockWatch) C() <-chan *DeadlockError {
	if w == nil {
		return nil
	}
	return w.found
}

// end stops the checks and returns once the wait record is removed.
func (w *deadlockWatch) end() {
	if w == nil {
		return
	}
	w.cancel()
	<-w.done
}

func (w *deadlockWatch) run(ctx context.Context, b waitBoard, rec waitRecord, log hclog.Logger) {
	defer close(w.done)
	defer func() {
		cctx, cancel := CleanupContext(ctx)
		defer cancel()
		b.removeWait(cctx, &rec)
	}()
	for i := 0; ; i++ {
		if err := b.postWait(ctx, &rec, i > 0); err != nil {
			log.Debug("recording a wait failed", "key", rec.Key, "error", err)
		}
		if e := deadlockOf(ctx, b, rec, log); e != nil {
			w.found <- e
			return
		}
		t := time.NewTimer(checkDelay(i))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func checkDelay(i int) time.Duration {
	if i < len(deadlockStart) {
		return deadlockStart[i]
	}
	return jitter(deadlockEvery)
}

// deadlockOf returns the error for rec's request when a cycle runs through its
// wait and rec is the cycle's victim, found so by two searches in a row (a
// cycle pieced together from reads at different moments that never existed
// at once does not survive the second).
func deadlockOf(ctx context.Context, b waitBoard, rec waitRecord, log hclog.Logger) *DeadlockError {
	var cycle []waitRecord
	for range 2 {
		c, err := findCycle(ctx, b, rec)
		if err != nil {
			if ctx.Err() == nil {
				log.Debug("looking for a deadlock failed", "key", rec.Key, "error", err)
			}
			return nil
		}
		if c == nil || victim(c).ID != rec.ID {
			return nil
		}
		cycle = c
	}
	return &DeadlockError{Key: rec.Key, Cycle: cycleEdges(cycle)}
}

// victim is the wait of a cycle that gives up: the youngest (latest Since),
// then the greatest run id, then wait id. Every member of a cycle picks the
// same one from the same records; the youngest wait of a set of cycles is
// the victim of every cycle it is in, so some wait always gives up.
func victim(cycle []waitRecord) waitRecord {
	return slices.MaxFunc(cycle, func(a, b waitRecord) int {
		if a.Since != b.Since {
			return cmp.Compare(a.Since, b.Since)
		}
		if a.RunID != b.RunID {
			return cmp.Compare(a.RunID, b.RunID)
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// cycleEdges names a cycle's runs: each holds the key the one before waits for.
func cycleEdges(cycle []waitRecord) []DeadlockEdge {
	out := make([]DeadlockEdge, len(cycle))
	for i, r := range cycle {
		prev := cycle[(i+len(cycle)-1)%len(cycle)]
		out[i] = DeadlockEdge{RunID: r.RunID, Step: r.Step, Holds: prev.Key, WaitsFor: r.Key}
	}
	return out
}

func marshalWait(rec *waitRecord) string {
	b, _ := json.Marshal(rec) // strings only: cannot fail
	return string(b)
}

func unmarshalWait(s string) (waitRecord, bool) {
	var rec waitRecord
	err := json.Unmarshal([]byte(s), &rec)
	return rec, err == nil && rec.ID != "" && rec.RunID != "" && rec.Key != ""
}

// sortWaits orders records by wait id, so that a search reads the same
// graph in the same order whatever order a backend listed them in.
func sortWaits(recs []waitRecord) {
	slices.SortFunc(recs, func(a, b waitRecord) int { return cmp.Compare(a.ID, b.ID) })
}
