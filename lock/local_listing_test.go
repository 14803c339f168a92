package lock

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScanQueue_seesTicketsRenamedDuringTheListing: a ForceRelease from
// another process renames a holder's ticket (X → X.r) while waiters list
// the queue. A listing that takes several reads of the directory can miss
// an entry renamed between two of them under both its names, and a waiter
// that misses a holder ahead of it takes the lock while that holder still
// runs. Here 400 tickets (several reads of the directory each time) are
// renamed one by one in random order while the queue is listed again and
// again: every listing must show every ticket exactly once, under the name
// it had at the end of the listing or at its start.
func TestScanQueue_seesTicketsRenamedDuringTheListing(t *testing.T) {
	const n, rounds = 400, 8
	listings, missed, lost := 0, 0, 0
	var first string
	for range rounds {
		dir := t.TempDir()
		names := make([]string, n)
		for i := range names {
			names[i] = ticketName(int64(i+1), Exclusive, 1, FIFO)
			if err := os.WriteFile(filepath.Join(dir, names[i]), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		done := make(chan error, 1)
		go func() {
			for _, i := range rand.Perm(n) {
				if err := os.Rename(filepath.Join(dir, names[i]), filepath.Join(dir, names[i]+revokedSuffix)); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		for finished := false; !finished; {
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
				finished = true // one more listing, of the end state
			default:
			}
			ts, err := scanQueue(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			listings++
			if problem := checkListing(ts, n); problem != "" {
				missed++
				if strings.Contains(problem, "missing") {
					lost++
				}
				if first == "" {
					first = problem
				}
			}
		}
	}
	if missed > 0 {
		t.Fatalf("%d of %d listings were wrong (%d missed a ticket); the first: %s", missed, listings, lost, first)
	}
	t.Logf("%d listings, all complete", listings)
}

// checkListing says what is wrong with a listing of tickets 1..n, or "".
func checkListing(ts []ticket, n int) string {
	seen := make(map[int64]int, n)
	for _, tk := range ts {
		seen[tk.seq]++
	}
	for seq := int64(1); seq <= int64(n); seq++ {
		switch seen[seq] {
		case 1:
		case 0:
			return "ticket " + ticketName(seq, Exclusive, 1, FIFO) + " is missing under both names"
		default:
			return "ticket " + ticketName(seq, Exclusive, 1, FIFO) + " is listed twice"
		}
	}
	if len(ts) != n {
		return "unexpected tickets"
	}
	return ""
}
