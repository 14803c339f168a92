package lock

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// TestScanQueue_seesTicketsRenamedDuringTheListing: a ForceRelease from
// another process renames a holder's ticket (X → X.r) while waiters list
// the queue. A listing that takes several reads of the directory can miss
// an entry renamed between two of them under both its names, and a waiter
// that misses a holder ahead of it takes the lock while that holder still
// runs. Here every ticket of a queue is renamed, one by one in random order,
// while the queue is listed again and again: every listing must show every
// ticket exactly once, under its new name if it was renamed before the
// listing began. 400 tickets take several reads of the directory; 12 fit
// one read, which listNames takes as whole.
func TestScanQueue_seesTicketsRenamedDuringTheListing(t *testing.T) {
	for _, tc := range []struct{ n, rounds int }{{400, 8}, {12, 200}} {
		t.Run(fmt.Sprintf("tickets=%d", tc.n), func(t *testing.T) {
			listings, wrong, lost := 0, 0, 0
			var first string
			for range tc.rounds {
				dir := t.TempDir()
				names := make([]string, tc.n)
				for i := range names {
					names[i] = ticketName(int64(i+1), Exclusive, 1, FIFO)
					if err := os.WriteFile(filepath.Join(dir, names[i]), nil, 0o600); err != nil {
						t.Fatal(err)
					}
				}
				order := rand.Perm(tc.n)
				var renamed atomic.Int64 // order[:renamed] are renamed
				done := make(chan error, 1)
				go func() {
					for _, i := range order {
						if err := os.Rename(filepath.Join(dir, names[i]), filepath.Join(dir, names[i]+revokedSuffix)); err != nil {
							done <- err
							return
						}
						renamed.Add(1)
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
					revoked := make(map[int64]bool, tc.n) // renamed before this listing began
					for _, i := range order[:renamed.Load()] {
						revoked[int64(i+1)] = true
					}
					ts, err := scanQueue(dir, nil)
					if err != nil {
						t.Fatal(err)
					}
					listings++
					if problem, missing := checkListing(ts, tc.n, revoked); problem != "" {
						wrong++
						if missing {
							lost++
						}
						if first == "" {
							first = problem
						}
					}
				}
			}
			if wrong > 0 {
				t.Fatalf("%d of %d listings were wrong (%d missed a ticket); the first: %s", wrong, listings, lost, first)
			}
			t.Logf("%d listings, all complete", listings)
		})
	}
}

// checkListing says what is wrong with a listing of tickets 1..n, or "";
// missing is set when a ticket is missing under both names. A ticket in
// revoked must be listed under its revoked name.
func checkListing(ts []ticket, n int, revoked map[int64]bool) (problem string, missing bool) {
	seen := make(map[int64]int, n)
	for _, tk := range ts {
		seen[tk.seq]++
		if revoked[tk.seq] && !tk.revoked {
			return fmt.Sprintf("ticket %d, renamed before the listing began, is listed under its old name", tk.seq), false
		}
	}
	for seq := int64(1); seq <= int64(n); seq++ {
		switch seen[seq] {
		case 1:
		case 0:
			return fmt.Sprintf("ticket %d is missing under both names", seq), true
		default:
			return fmt.Sprintf("ticket %d is listed %d times", seq, seen[seq]), false
		}
	}
	if len(ts) != n {
		return fmt.Sprintf("%d tickets listed, want %d", len(ts), n), false
	}
	return "", false
}

// TestQueueOf_keepsTheRevokedName: a ticket that a merged listing shows
// under both its names is one ticket, under its revoked name (the name its
// file has now: a rename is never undone), whichever listing came first.
func TestQueueOf_keepsTheRevokedName(t *testing.T) {
	x, y := ticketName(7, Exclusive, 1, FIFO), ticketName(9, Shared, 1, FIFO)
	for _, names := range [][]string{{x, y, x + revokedSuffix}, {x + revokedSuffix, x, y}} {
		ts := queueOf(names, nil)
		if len(ts) != 2 || ts[0].seq != 7 || !ts[0].revoked || ts[0].name != x+revokedSuffix || ts[1].seq != 9 {
			t.Errorf("queueOf(%q) = %+v, want ticket 7 once, revoked, then 9", names, ts)
		}
	}
}
