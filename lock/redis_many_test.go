package lock_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// TestRedis_manyAfterScriptFlush: a server that forgot its scripts (a
// restart, SCRIPT FLUSH) still answers ShowMany and OnceMany in full: each
// NOSCRIPT reply is asked again on its own.
func TestRedis_manyAfterScriptFlush(t *testing.T) {
	srv := locktest.StartServer(t, nil)
	c := redisClient(t, srv)
	l := lock.NewRedis(c, nil)
	t.Cleanup(func() { l.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var keys []string
	for i := range 300 {
		keys = append(keys, fmt.Sprintf("k%d", i))
	}
	if _, err := l.Acquire(ctx, lock.Request{Key: "k299", TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkOnce(ctx, lock.OnceRecord{Key: "k298"}, 0); err != nil {
		t.Fatal(err)
	}
	for round := range 2 { // the first loads the scripts, the second finds them gone
		infos, err := lock.ShowMany(ctx, l, keys)
		if err != nil || len(infos) != len(keys) || len(infos[299].Holders) != 1 || len(infos[0].Holders) != 0 {
			t.Fatalf("round %d: ShowMany: %v (%d infos)", round, err, len(infos))
		}
		recs, err := lock.OnceMany(ctx, l, keys)
		if err != nil || len(recs) != len(keys) || recs[298] == nil || recs[297] != nil {
			t.Fatalf("round %d: OnceMany: %v (%d records)", round, err, len(recs))
		}
		if _, err := srv.Do("SCRIPT", "FLUSH"); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRedis_manyUnavailable: a stopped server makes ShowMany and OnceMany
// fail with ErrUnavailable, as Show and Once do.
func TestRedis_manyUnavailable(t *testing.T) {
	srv := locktest.StartServer(t, nil)
	l := lock.NewRedis(redisClient(t, srv), nil)
	t.Cleanup(func() { l.Close() })
	srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := lock.ShowMany(ctx, l, []string{"a", "b"}); !errors.Is(err, lock.ErrUnavailable) {
		t.Errorf("ShowMany on a stopped server: %v, want ErrUnavailable", err)
	}
	if _, err := lock.OnceMany(ctx, l, []string{"a", "b"}); !errors.Is(err, lock.ErrUnavailable) {
		t.Errorf("OnceMany on a stopped server: %v, want ErrUnavailable", err)
	}
}
