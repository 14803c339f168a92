package lock

import (
	"context"
	"slices"
)

// cycleSearch is one breadth-first walk of the wait-for graph from the
// searching request's wait. Its nodes are waits (records); an edge leads
// from a wait to each wait of a run that holds the key waited for and
// declared that key in its Holds. Each wait is visited once, so the walk
// ends on any graph; maxReads bounds what it costs the backend.
type cycleSearch struct {
	b     waitBoard
	self  waitRecord
	nodes []searchNode
	seen  map[string]bool         // wait ids already among nodes
	runs  map[string][]waitRecord // wait records read, by run
	reads int
}

type searchNode struct {
	rec    waitRecord
	parent int // index of the wait this one holds a key of; -1 for self
	depth  int // waits between self and this one
}

// findCycle returns the waits of a cycle through self's wait, self first
// and each one waiting for a key the next one holds, or nil when the walk
// found none.
func findCycle(ctx context.Context, b waitBoard, self waitRecord) ([]waitRecord, error) {
	s := &cycleSearch{b: b, self: self, nodes: []searchNode{{rec: self, parent: -1}},
		seen: map[string]bool{self.ID: true}, runs: map[string][]waitRecord{}}
	for i := 0; i < len(s.nodes); i++ {
		closed, err := s.expand(ctx, i)
		if err != nil {
			return nil, err
		}
		if closed {
			return s.path(i), nil
		}
	}
	return nil, nil
}

// expand reads the key node i waits for and adds the waits of its holders;
// closed reports that self's run holds it, which closes a cycle.
func (s *cycleSearch) expand(ctx context.Context, i int) (closed bool, err error) {
	n := s.nodes[i]
	li, err := s.show(ctx, n.rec.Key)
	if err != nil || !blockedBy(li, n.rec, i == 0) {
		return false, err
	}
	for _, h := range li.Holders {
		if h.RunID == s.self.RunID && slices.Contains(s.self.Holds, n.rec.Key) {
			return true, nil
		}
		if h.RunID == "" || n.depth+1 >= maxCycle {
			continue
		}
		if err := s.follow(ctx, i, h.RunID); err != nil {
			return false, err
		}
	}
	return false, nil
}

// blockedBy says whether rec's wait on the lock li is blocked by every
// holder of it: rec must still be in the lock's queue (a record outlives
// its wait by a moment; the searching wait itself is known to wait), and
// the lock must not be a semaphore, where any one holder's leaving lets a
// waiter in (a cycle through one of its holders is no deadlock).
func blockedBy(li LockInfo, rec waitRecord, self bool) bool {
	if li.Limit > 1 || len(li.Holders) == 0 {
		return false
	}
	return self || slices.ContainsFunc(li.Queue, func(w Waiter) bool {
		return w.RunID == rec.RunID && (rec.Step == "" || w.Step == rec.Step)
	})
}

// follow adds run's waits that hold the key node i waits for.
func (s *cycleSearch) follow(ctx context.Context, i int, run string) error {
	recs, err := s.waitsOf(ctx, run)
	if err != nil {
		return err
	}
	key := s.nodes[i].rec.Key
	for _, r := range recs {
		if r.RunID != run || s.seen[r.ID] || !slices.Contains(r.Holds, key) {
			continue
		}
		s.seen[r.ID] = true
		s.nodes = append(s.nodes, searchNode{rec: r, parent: i, depth: s.nodes[i].depth + 1})
	}
	return nil
}

func (s *cycleSearch) show(ctx context.Context, key string) (LockInfo, error) {
	if s.reads++; s.reads > maxReads {
		return LockInfo{}, errSearchBudget
	}
	return s.b.Show(ctx, key)
}

func (s *cycleSearch) waitsOf(ctx context.Context, run string) ([]waitRecord, error) {
	if recs, ok := s.runs[run]; ok {
		return recs, nil
	}
	if s.reads++; s.reads > maxReads {
		return nil, errSearchBudget
	}
	recs, err := s.b.waitsOf(ctx, run)
	if err == nil {
		s.runs[run] = recs
	}
	return recs, err
}

// path is the cycle closed at node i: self first, i last.
func (s *cycleSearch) path(i int) []waitRecord {
	var out []waitRecord
	for ; i >= 0; i = s.nodes[i].parent {
		out = append(out, s.nodes[i].rec)
	}
	slices.Reverse(out)
	return out
}
