package lock

// The local backend's queue: one directory per key, one ticket file per
// request in it, named by the request's fencing number (which only grows)
// and its mode, limit and queue policy. Whether a ticket holds the lock is a
// function of the tickets ahead of it: the queue is the lock.

import (
	"encoding/json"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ticket is one entry of a key's queue, as its file name describes it.
type ticket struct {
	seq     int64
	mode    Mode // Exclusive or Shared
	limit   int
	queue   Policy
	name    string // file name in the key's directory
	revoked bool   // renamed by a ForceRelease from another process
}

const seqDigits = 20

// ticketName is "t<seq, 20 digits>.<x|s><limit><f|n>": the name sorts as the
// number does.
func ticketName(seq int64, mode Mode, limit int, q Policy) string {
	s := strconv.FormatInt(seq, 10)
	m, p := "x", "f"
	if mode == Shared {
		m = "s"
	}
	if q == Newest {
		p = "n"
	}
	return "t" + strings.Repeat("0", max(seqDigits-len(s), 0)) + s + "." + m + strconv.Itoa(limit) + p
}

// revokedSuffix marks a ticket whose holder another process force-released:
// the holder's path no longer names its file, so it learns of the loss; the
// ticket still blocks the queue until the holder lets go.
const revokedSuffix = ".r"

func parseTicket(name string) (ticket, bool) {
	t := ticket{name: name}
	rest, ok := strings.CutPrefix(name, "t")
	if !ok {
		return t, false
	}
	rest, t.revoked = strings.CutSuffix(rest, revokedSuffix)
	num, kind, ok := strings.Cut(rest, ".")
	if !ok || len(num) != seqDigits || len(kind) < 3 {
		return t, false
	}
	var err error
	if t.seq, err = strconv.ParseInt(num, 10, 64); err != nil {
		return t, false
	}
	switch kind[0] {
	case 'x':
		t.mode = Exclusive
	case 's':
		t.mode = Shared
	default:
		return t, false
	}
	switch kind[len(kind)-1] {
	case 'f':
		t.queue = FIFO
	case 'n':
		t.queue = Newest
	default:
		return t, false
	}
	t.limit, err = strconv.Atoi(kind[1 : len(kind)-1])
	return t, err == nil && t.limit > 0
}

// bellName is the doorbell of the waiter of ticket seq.
func bellName(seq int64) string {
	s := strconv.FormatInt(seq, 10)
	return "b" + strings.Repeat("0", max(seqDigits-len(s), 0)) + s
}

// scanQueue lists the tickets in dir in queue order, leaving out those in
// gone (known to have left).
func scanQueue(dir string, gone map[int64]bool) ([]ticket, error) {
	names, err := listNames(dir)
	if err != nil {
		return nil, err
	}
	return queueOf(names, gone), nil
}

// queueOf is the queue the file names describe, in order, without the
// tickets in gone. A ticket listed under both its names (see listNames) is
// kept once, under the revoked one: a rename is never undone.
func queueOf(names []string, gone map[int64]bool) []ticket {
	ts := make([]ticket, 0, len(names))
	for _, n := range names {
		if t, ok := parseTicket(n); ok && !gone[t.seq] {
			ts = append(ts, t)
		}
	}
	slices.SortFunc(ts, func(a, b ticket) int {
		if c := compareSeq(a.seq, b.seq); c != 0 {
			return c
		}
		return compareRevokedFirst(a, b)
	})
	return slices.CompactFunc(ts, func(a, b ticket) bool { return a.seq == b.seq })
}

func compareRevokedFirst(a, b ticket) int {
	switch {
	case a.revoked && !b.revoked:
		return -1
	case b.revoked && !a.revoked:
		return 1
	}
	return 0
}

// listNames lists the names in dir so that a rename during the listing
// (ForceRelease's X → X.r) cannot hide the entry. A directory is read in
// parts, and a rename between two parts can move an entry from the part
// still to come to one already read: missed under both names (and another
// may show under both). A waiter that missed a holder ahead of it would take
// the lock while that holder still runs. Even a small directory is not
// always read at once: on Linux a pending signal (Go preempts goroutines
// with one) can end a getdents call early. So the directory is listed twice
// and the two listings merged: an entry renamed during the first listing is
// under its new name in the second, one renamed during the second was under
// its old name in the first, and no ticket is renamed twice. The merge may
// also hold a name that went meanwhile, which callers treat as they treat
// any ticket that leaves after a look.
// [TestScanQueue_seesTicketsRenamedDuringTheListing]
func listNames(dir string) ([]string, error) {
	names, err := readNames(dir)
	if err != nil {
		return nil, err
	}
	again, err := readNames(dir)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		seen[n] = true
	}
	for _, n := range again {
		if !seen[n] {
			names = append(names, n)
		}
	}
	return names, nil
}

func compareSeq(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// canHold says whether t holds the lock with the tickets ahead of it: a
// shared ticket when no exclusive one is ahead; an exclusive one when no
// shared one is ahead and fewer than its limit are.
func canHold(t ticket, ahead []ticket) bool {
	for _, a := range ahead {
		if (t.mode == Shared) != (a.mode == Shared) {
			return false
		}
	}
	return t.mode == Shared || len(ahead) < t.limit
}

// holding marks which of the queue's tickets hold the lock.
func holding(ts []ticket) []bool {
	out := make([]bool, len(ts))
	for i, t := range ts {
		out[i] = canHold(t, ts[:i])
	}
	return out
}

// blockers are the tickets ahead of t (which does not hold) whose leaving
// t must notice: for an exclusive ticket the last shared one ahead, else the
// one just ahead (and, for a semaphore, the limit first ones, which hold);
// for a shared ticket the last exclusive one ahead. Each is a ticket that
// must leave before t can hold, or, for a semaphore, enough of them that any
// change that lets t in is the leaving of one of them.
func blockers(t ticket, ahead []ticket) []ticket {
	for i := len(ahead) - 1; i >= 0; i-- {
		if (t.mode == Shared) != (ahead[i].mode == Shared) {
			return ahead[i : i+1]
		}
	}
	if t.mode == Shared || len(ahead) == 0 {
		return nil
	}
	last := ahead[len(ahead)-1]
	switch {
	case t.limit <= 1:
		return []ticket{last}
	case len(ahead) <= t.limit:
		return ahead
	}
	return append(slices.Clip(ahead[:t.limit]), last)
}

// ticketMeta is a ticket file's content after its first line (the time the
// ticket got the lock, in Unix nanoseconds, 19 digits, zeros while it waits).
type ticketMeta struct {
	Holder           // Since is when the request queued
	Key       string `json:"key"`
	Limit     int    `json:"limit"`
	Queue     Policy `json:"queue,omitempty"`
	TokenHash string `json:"token_sha256"`
	// Queued: a newest-wins request passed its checks (it waits, the queue
	// was not full) and may supersede older newest-wins waiters; one that
	// only looked and left never does. Last, so that its write changes only
	// the end of the record.
	Queued bool `json:"queued,omitempty"`
}

const acqDigits = 19

func acqField(at time.Time) []byte {
	s := "0"
	if !at.IsZero() {
		s = strconv.FormatInt(at.UnixNano(), 10)
	}
	return []byte(strings.Repeat("0", max(acqDigits-len(s), 0)) + s + "\n")
}

// encodeTicket is a ticket file's whole content.
func encodeTicket(m ticketMeta, acquired time.Time) []byte {
	b, _ := json.Marshal(m)
	return append(acqField(acquired), b...)
}

// decodeTicket parses a ticket file's content; ok is false while the file
// is still being written. The holder's Since is when it got the lock, or
// when it queued if it has not.
func decodeTicket(b []byte) (m ticketMeta, acquired time.Time, ok bool) {
	if len(b) <= acqDigits || b[acqDigits] != '\n' {
		return m, acquired, false
	}
	if json.Unmarshal(b[acqDigits+1:], &m) != nil {
		return m, acquired, false
	}
	if ns, err := strconv.ParseInt(string(b[:acqDigits]), 10, 64); err == nil && ns > 0 {
		acquired = time.Unix(0, ns)
		m.Since = acquired
	}
	return m, acquired, true
}

// readTicket reads the ticket file at path (ok false if gone or unwritten).
func readTicket(path string) (ticketMeta, bool) {
	f, err := openRead(path)
	if err != nil {
		return ticketMeta{}, false
	}
	defer f.close()
	m, _, ok := decodeTicket(readAll(f))
	return m, ok
}

// readAll reads f from its start, up to 1 MiB.
func readAll(f osFile) []byte {
	buf := make([]byte, 4096)
	n, _ := f.readAt(buf, 0)
	for n == len(buf) && len(buf) < 1<<20 {
		buf = append(buf, make([]byte, len(buf))...)
		m, _ := f.readAt(buf[n:], int64(n))
		n += m
	}
	return buf[:n]
}

// live probes whether the ticket's owner still holds it. A ticket listed
// under its own name may have been revoked since (a ForceRelease renamed it):
// it is then probed under its new name, as it blocks the queue until its
// holder lets go.
func live(dir string, t ticket) bool {
	path := filepath.Join(dir, t.name)
	f, err := openLocked(path)
	if errors.Is(err, fs.ErrNotExist) && !t.revoked {
		f, err = openLocked(path + revokedSuffix)
	}
	if err != nil {
		return false
	}
	defer f.close()
	free, err := f.tryShared()
	return !free && err == nil
}
