package lock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// TestKeep_troubleThenRecovered: while the backend is away, every failed
// renewal is reported with the time since the lease was last confirmed and
// the local validity left, which only shrinks; when the backend returns,
// one Recovered report follows and the lease is kept.
func TestKeep_troubleThenRecovered(t *testing.T) {
	const ttl = 6 * time.Second
	srv := locktest.StartServer(t, nil)
	proxy := locktest.StartProxy(t, srv.Addr)
	l := faultLocker(t, proxy.Addr, nil)
	lease := acquire(t, l, "deploy/staging", ttl)
	reports := make(chan lock.Trouble, 64)
	k := lock.Keep(context.Background(), l, lease, &lock.KeepOptions{Timeout: 500 * time.Millisecond, OnTrouble: func(tr lock.Trouble) {
		select {
		case reports <- tr:
		default:
		}
	}})
	t.Cleanup(k.Stop)
	waitRenewals(t, k, 1, 2*ttl)
	proxy.Disable() // refused at once: each renewal fails fast
	var seen []lock.Trouble
	for len(seen) < 3 {
		select {
		case tr := <-reports:
			if tr.Recovered {
				t.Fatalf("recovered while the backend was away: %+v", tr)
			}
			seen = append(seen, tr)
		case <-k.Lost():
			t.Fatalf("lost before three failed renewals were reported: %v", k.Err())
		case <-time.After(ttl):
			t.Fatalf("only %d trouble reports within %s of the backend going away", len(seen), ttl)
		}
	}
	proxy.Enable()
	for _, tr := range seen {
		if tr.Key != "deploy/staging" || tr.Err == nil || tr.Left <= 0 || tr.Left > ttl || tr.Since <= 0 {
			t.Errorf("trouble report %+v: want the key, an error, 0 < left <= ttl and since > 0", tr)
		}
	}
	for i := 1; i < len(seen); i++ {
		if seen[i].Left > seen[i-1].Left || seen[i].Since < seen[i-1].Since {
			t.Errorf("report %d (left %s, since %s) after report %d (left %s, since %s): left must shrink, since grow",
				i, seen[i].Left, seen[i].Since, i-1, seen[i-1].Left, seen[i-1].Since)
		}
	}
	t.Logf("keeper trouble: first report %s after the last confirmation with %s left", seen[0].Since.Round(time.Millisecond), seen[0].Left.Round(time.Millisecond))
	deadline := time.After(ttl)
	for {
		select {
		case tr := <-reports:
			if tr.Recovered {
				if err := k.Err(); err != nil {
					t.Fatalf("recovered, yet the keeper lost the lease: %v", err)
				}
				return
			}
		case <-k.Lost():
			if !errors.Is(k.Err(), lock.ErrUnavailable) {
				t.Fatalf("lost with %v after the backend returned", k.Err())
			}
			t.Fatalf("lost before a renewal succeeded again: %v", k.Err())
		case <-deadline:
			t.Fatalf("no Recovered report within %s of the backend returning", ttl)
		}
	}
}
