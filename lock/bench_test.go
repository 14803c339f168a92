package lock_test

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// floor measures, on the same server, the go-redis PING round trip and the
// rate of SET NX PX + DEL pairs: what any Redis lock costs at 2 round trips.
func floor(b *testing.B, c *redis.Client) (ping time.Duration, pairsPerSec float64) {
	ctx := context.Background()
	const n = 3000
	start := time.Now()
	for range n {
		if err := c.Ping(ctx).Err(); err != nil {
			b.Fatal(err)
		}
	}
	ping = time.Since(start) / n
	start = time.Now()
	for range n {
		if err := c.SetNX(ctx, "floor", "t", 30*time.Second).Err(); err != nil {
			b.Fatal(err)
		}
		if err := c.Del(ctx, "floor").Err(); err != nil {
			b.Fatal(err)
		}
	}
	return ping, n / time.Since(start).Seconds()
}

func benchClient(b *testing.B, srv *locktest.Server) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	b.Cleanup(func() { c.Close() })
	return c
}

// BenchmarkUncontended: acquire+release pairs on a free lock, one client,
// 2 round trips per pair. The floor (SET NX PX + DEL pairs on the same
// connection) runs in blocks interleaved with the lock's blocks, so that
// noise from other processes on the machine hits both alike. It also
// reports the server's own time per pair (INFO commandstats usec).
func BenchmarkUncontended(b *testing.B) {
	srv := locktest.StartServer(b, nil)
	c := benchClient(b, srv)
	l := lock.NewRedis(c, nil)
	ctx := context.Background()
	ping, _ := floor(b, c) // also warms up
	var lockTime, floorTime time.Duration
	var pairs int
	c.ConfigResetStat(ctx)
	b.ResetTimer()
	for b.Loop() {
		if pairs%500 == 0 {
			start := time.Now()
			for range 500 {
				c.SetNX(ctx, "floor", "t", 30*time.Second)
				c.Del(ctx, "floor")
			}
			floorTime += time.Since(start)
		}
		start := time.Now()
		lease, err := l.Acquire(ctx, lock.Request{Key: "bench", TTL: 30 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Release(ctx, lease.Key, lease.Token); err != nil {
			b.Fatal(err)
		}
		lockTime += time.Since(start)
		pairs++
	}
	b.StopTimer()
	floorPairs := 500 * ((pairs + 499) / 500)
	rate, floorRate := float64(pairs)/lockTime.Seconds(), float64(floorPairs)/floorTime.Seconds()
	usec := commandUsec(b, c)
	b.ReportMetric(rate, "pairs/s")
	b.ReportMetric(floorRate, "floor-pairs/s")
	b.ReportMetric(100*rate/floorRate, "%floor")
	b.ReportMetric(usec["evalsha"]/float64(pairs), "server-µs/pair")
	b.ReportMetric((usec["set"]+usec["del"])/float64(floorPairs), "floor-server-µs/pair")
	b.ReportMetric(float64(ping.Microseconds()), "ping-µs")
}

// commandUsec returns the server time spent per command name.
func commandUsec(b testing.TB, c *redis.Client) map[string]float64 {
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":")
		_, u, ok2 := strings.Cut(rest, "usec=")
		if !ok || !ok2 {
			continue
		}
		out[name], _ = strconv.ParseFloat(strings.SplitN(u, ",", 2)[0], 64)
	}
	return out
}

// BenchmarkHandoff: clients (separate connections, as separate processes
// would have) each hold the lock 1ms in turn. gap = from a release call
// starting to the next holder's acquire returning.
func BenchmarkHandoff(b *testing.B) {
	for _, n := range []int{8, 32} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) { benchHandoff(b, n) })
	}
}

type handoffLog struct {
	mu           sync.Mutex
	releaseStart time.Time
	gaps         []time.Duration
	held         time.Duration
	left         int
}

func benchHandoff(b *testing.B, clients int) {
	srv := locktest.StartServer(b, nil)
	ping, _ := floor(b, benchClient(b, srv))
	hl := &handoffLog{left: b.N}
	var wg sync.WaitGroup
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for range clients {
		l := lock.NewRedis(benchClient(b, srv), nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				lease, err := l.Acquire(ctx, lock.Request{Key: "handoff", TTL: 30 * time.Second, Wait: lock.WaitForever})
				if err != nil {
					b.Error(err)
					return
				}
				got := time.Now()
				hl.mu.Lock()
				if !hl.releaseStart.IsZero() {
					hl.gaps = append(hl.gaps, got.Sub(hl.releaseStart))
				}
				hl.left--
				done := hl.left < 0
				hl.mu.Unlock()
				if !done {
					time.Sleep(time.Millisecond) // the work done under the lock
				}
				rel := time.Now()
				hl.mu.Lock()
				hl.held += rel.Sub(got)
				hl.releaseStart = rel
				hl.mu.Unlock()
				if err := l.Release(ctx, lease.Key, lease.Token); err != nil {
					b.Error(err)
					return
				}
				if done {
					return
				}
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	b.StopTimer()
	p50, p99 := percentile(hl.gaps, 50), percentile(hl.gaps, 99)
	b.ReportMetric(float64(p50.Microseconds())/1000, "gap-p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "gap-p99-ms")
	b.ReportMetric(100*hl.held.Seconds()/wall.Seconds(), "%util")
	b.ReportMetric(float64(ping.Microseconds()), "ping-µs")
}

func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, len(s)*p/100)]
}

// commandCount returns the calls of one command (INFO commandstats; those
// run inside scripts count).
func commandCount(b testing.TB, c *redis.Client, name string) int64 {
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	_, rest, ok := strings.Cut(info, "cmdstat_"+name+":calls=")
	if !ok {
		return 0
	}
	n, _ := strconv.ParseInt(strings.SplitN(rest, ",", 2)[0], 10, 64)
	return n
}

// commandCalls sums the calls of INFO commandstats (commands run inside
// scripts count). The INFO being answered is not counted yet, so a delta
// between two snapshots includes the first INFO: subtract 1.
func commandCalls(b testing.TB, c *redis.Client) int64 {
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	var sum int64
	for _, line := range strings.Split(info, "\n") {
		_, rest, ok := strings.Cut(line, ":calls=")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.SplitN(rest, ",", 2)[0], 10, 64)
		sum += n
	}
	return sum
}
