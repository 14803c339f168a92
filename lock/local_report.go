package lock

import (
	"path/filepath"
	"slices"
	"time"
)

// queueInfo is a key's queue as listed: its holders and waiters, in order,
// with what their files say.
func queueInfo(dir string, ts []ticket) (holders []Holder, waiters []Waiter) {
	isHolder := holding(ts)
	holders = []Holder{}
	for i, t := range ts {
		m, ok := readTicket(filepath.Join(dir, t.name))
		h := m.Holder
		if !ok { // still being written: what the name says
			h = Holder{Mode: t.mode}
		}
		h.Fence, h.TTL = t.seq, 0
		if h.Mode == "" {
			h.Mode = t.mode
		}
		if isHolder[i] {
			holders = append(holders, h)
		} else {
			h.Fence = 0
			waiters = append(waiters, Waiter{Holder: h, Position: len(waiters) + 1, Queue: t.queue})
		}
	}
	return holders, waiters
}

// liveTickets drops the tickets whose owners are gone (probing each).
func liveTickets(dir string, ts []ticket) []ticket {
	return slices.DeleteFunc(slices.Clone(ts), func(t ticket) bool { return !live(dir, t) })
}

// report tells OnWait and OnQueue what changed since they were last told.
func (w *localWait) report(ts []ticket, i int) {
	if w.req.OnWait == nil && w.req.OnQueue == nil {
		return
	}
	isHolder := holding(ts)
	var fences []int64
	st := QueueStatus{Position: 1}
	for j, t := range ts {
		switch {
		case isHolder[j]:
			fences = append(fences, t.seq)
		case j < i:
			st.Position++
			st.Length++
		default:
			st.Length++
		}
	}
	moved := !w.told || !slices.Equal(fences, w.fences)
	newPlace := st.Position != w.status.Position || st.Length != w.status.Length
	var hs []Holder
	if moved || w.req.OnQueue != nil && newPlace {
		hs, _ = queueInfo(w.tf.dir, holdersOnly(ts))
	}
	if w.req.OnWait != nil && moved {
		w.req.OnWait(hs)
	}
	w.told, w.fences = true, fences
	if w.req.OnQueue != nil && newPlace {
		st.Holders = hs
		w.status = st
		w.req.OnQueue(st)
	}
}

// busy is the *BusyError for this request, with the holders now.
func (w *localWait) busy(timedOut bool) *BusyError {
	be := &BusyError{Key: w.req.Key, Timeout: timedOut}
	if timedOut {
		be.Waited = time.Since(w.start)
	}
	if ts, err := scanQueue(w.tf.dir, w.gone); err == nil {
		ts = slices.DeleteFunc(ts, func(t ticket) bool { return t.seq == w.tf.t.seq })
		be.Holders, _ = queueInfo(w.tf.dir, liveTickets(w.tf.dir, holdersOnly(ts)))
	}
	return be
}

// holdersOnly keeps the tickets that hold the lock.
func holdersOnly(ts []ticket) []ticket {
	isHolder := holding(ts)
	var out []ticket
	for i, t := range ts {
		if isHolder[i] {
			out = append(out, t)
		}
	}
	return out
}
