package lock_test

import (
	"context"
	"sort"
	"strconv"
	"strings"
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
// 2 round trips per pair, on one key again and again (same-key) and on a
// fresh key each time (fresh-key, as the peer benchmark does). The floor
// (SET NX PX + DEL pairs on the same connection) runs in blocks interleaved
// with the lock's blocks, so that noise from other processes on the machine
// hits both alike; %floor is the median over block pairs. It also reports
// the server's commands and time per pair (INFO commandstats). Run it pinned
// (taskset -c 0) for low noise.
func BenchmarkUncontended(b *testing.B) {
	for _, fresh := range []bool{false, true} {
		name := "same-key"
		if fresh {
			name = "fresh-key"
		}
		b.Run(name, func(b *testing.B) { benchUncontended(b, fresh) })
	}
}

func benchUncontended(b *testing.B, fresh bool) {
	const block = 400
	srv := locktest.StartServer(b, nil)
	c := benchClient(b, srv)
	l := lock.NewRedis(c, nil)
	ctx := context.Background()
	h := lock.Holder{Owner: "bench@host", PID: 1234, RunID: "0123456789abcdef", Step: "step.bench"}
	ping, _ := floor(b, c) // also warms up
	pairs, floorPairs, ratios := 0, 0, []float64{}
	var lockTime, floorTime time.Duration
	var cmds int64
	c.ConfigResetStat(ctx)
	b.ResetTimer()
	for b.Loop() {
		if pairs%block == 0 {
			b.StopTimer()
			ft := floorBlock(ctx, c, block)
			floorTime += ft
			floorPairs += block
			b.StartTimer()
			lt, n := lockBlock(b, l, h, pairs, block, fresh, c)
			lockTime += lt
			cmds += n
			ratios = append(ratios, float64(ft)/float64(lt))
		}
		pairs++
	}
	b.StopTimer()
	sort.Float64s(ratios)
	blocks := float64(len(ratios) * block)
	b.ReportMetric(blocks/lockTime.Seconds(), "pairs/s")
	b.ReportMetric(float64(floorPairs)/floorTime.Seconds(), "floor-pairs/s")
	b.ReportMetric(100*ratios[len(ratios)/2], "%floor")
	b.ReportMetric(float64(cmds)/blocks, "server-cmds/pair")
	usec := commandUsec(b, c)
	b.ReportMetric((usec["evalsha"]+usec["eval"]+usec["hdel"]+usec["exists"])/blocks, "server-µs/pair")
	b.ReportMetric((usec["set"]+usec["del"])/float64(floorPairs), "floor-server-µs/pair")
	b.ReportMetric(float64(ping.Microseconds()), "ping-µs")
}

// floorBlock times n SET NX PX + DEL pairs.
func floorBlock(ctx context.Context, c *redis.Client, n int) time.Duration {
	start := time.Now()
	for range n {
		c.SetNX(ctx, "floor", "t", 30*time.Second)
		c.Del(ctx, "floor")
	}
	return time.Since(start)
}

// lockBlock times n acquire+release pairs and counts the server commands
// they ran (commandstats, scripts' inner commands included).
func lockBlock(b *testing.B, l *lock.Redis, h lock.Holder, from, n int, fresh bool, c *redis.Client) (time.Duration, int64) {
	ctx := context.Background()
	b.StopTimer()
	before := commandCalls(b, c)
	b.StartTimer()
	start := time.Now()
	for i := range n {
		key := "bench"
		if fresh {
			key = "bench/" + strconv.Itoa(from+i)
		}
		lease, err := l.Acquire(ctx, lock.Request{Key: key, TTL: 30 * time.Second, Holder: h})
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Release(ctx, lease.Key, lease.Token); err != nil {
			b.Fatal(err)
		}
	}
	took := time.Since(start)
	b.StopTimer()
	n2 := commandCalls(b, c) - before - 1
	b.StartTimer()
	return took, n2
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
