package lock_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

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
		if _, err := srv.Do("CONFIG", "RESETSTAT"); err != nil {
			t.Fatal(err)
		}
		infos, err := lock.ShowMany(ctx, l, keys)
		if err != nil || len(infos) != len(keys) || len(infos[299].Holders) != 1 || len(infos[0].Holders) != 0 {
			t.Fatalf("round %d: ShowMany: %v (%d infos)", round, err, len(infos))
		}
		recs, err := lock.OnceMany(ctx, l, keys)
		if err != nil || len(recs) != len(keys) || recs[298] == nil || recs[297] != nil {
			t.Fatalf("round %d: OnceMany: %v (%d records)", round, err, len(recs))
		}
		// Scripts go by SHA in pipelines: a forgotten script is loaded
		// again once, not asked key by key with EVAL.
		stats := scriptCalls(t, srv)
		if stats["eval"] != 0 || stats["evalsha"] < 2*len(keys) || stats["evalsha"] > 2*2*len(keys) {
			t.Fatalf("round %d: script calls %v for 2 × %d keys, want no EVAL and %d to %d EVALSHA", round, stats, len(keys), 2*len(keys), 4*len(keys))
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

// scriptCalls returns srv's EVAL and EVALSHA call counts since its last
// CONFIG RESETSTAT.
func scriptCalls(t *testing.T, srv *locktest.Server) map[string]int {
	t.Helper()
	info, err := redisClient(t, srv).Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for line := range strings.Lines(info) {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok {
			continue
		}
		n, _ := strconv.Atoi(strings.SplitN(rest, ",", 2)[0])
		out[strings.TrimPrefix(name, "cmdstat_")] = n
	}
	return out
}

// TestRedis_manyOnCluster: on a fresh Cluster backend, ShowMany loads its
// script on every master first, so no key is asked a second time (an EVAL
// that cached it on one master only left two thirds of the first pipeline
// to NOSCRIPT and a round trip each).
func TestRedis_manyOnCluster(t *testing.T) {
	cl := locktest.StartCluster(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs()})
	t.Cleanup(func() { c.Close() })
	l := lock.NewRedis(c, nil)
	t.Cleanup(func() { l.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var keys []string
	for i := range 256 {
		keys = append(keys, fmt.Sprintf("k%d", i))
	}
	for _, n := range cl.Nodes {
		if _, err := n.Do("CONFIG", "RESETSTAT"); err != nil {
			t.Fatal(err)
		}
	}
	if infos, err := lock.ShowMany(ctx, l, keys); err != nil || len(infos) != len(keys) {
		t.Fatalf("ShowMany: %v (%d infos)", err, len(infos))
	}
	total := map[string]int{}
	for _, n := range cl.Nodes {
		for k, v := range scriptCalls(t, n) {
			total[k] += v
		}
	}
	if total["eval"] != 0 || total["evalsha"] != len(keys) {
		t.Fatalf("script calls on the cluster %v, want %d EVALSHA and no EVAL", total, len(keys))
	}
}

// TestRedis_manyWithoutScriptLoad: a user whom an ACL denies SCRIPT LOAD
// but who may run scripts still gets ShowMany and OnceMany answered, one
// call at a time (as Show and Once answer him).
func TestRedis_manyWithoutScriptLoad(t *testing.T) {
	srv := locktest.StartServer(t, nil)
	if _, err := srv.Do("ACL", "SETUSER", "noload", "on", ">pw", "~*", "&*", "+@all", "-script|load"); err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: "noload", Password: "pw"})
	t.Cleanup(func() { c.Close() })
	l := lock.NewRedis(c, nil)
	t.Cleanup(func() { l.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := l.Acquire(ctx, lock.Request{Key: "k1", TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkOnce(ctx, lock.OnceRecord{Key: "k2"}, 0); err != nil {
		t.Fatal(err)
	}
	infos, err := lock.ShowMany(ctx, l, []string{"k0", "k1"})
	if err != nil || len(infos) != 2 || len(infos[1].Holders) != 1 || len(infos[0].Holders) != 0 {
		t.Fatalf("ShowMany without SCRIPT LOAD: %+v, %v", infos, err)
	}
	recs, err := lock.OnceMany(ctx, l, []string{"k1", "k2"})
	if err != nil || len(recs) != 2 || recs[0] != nil || recs[1] == nil {
		t.Fatalf("OnceMany without SCRIPT LOAD: %+v, %v", recs, err)
	}
}
