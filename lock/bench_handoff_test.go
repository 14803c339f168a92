package lock_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// BenchmarkHandoff: clients (separate connections and backends, as
// separate processes would have) each hold the lock 1ms in turn; a client
// that released queues again only after another one acquired, so every
// acquisition is a hand-off (the peer benchmark's "handoff" mode). gap =
// from a release call starting to the next holder's acquire returning. It
// reports the server commands and the Redis CPU per acquisition (INFO
// commandstats and INFO cpu), the floor being the PING round trip of the
// same run; the commands by name go to the log.
func BenchmarkHandoff(b *testing.B) {
	for _, n := range []int{8, 32} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) { benchHandoff(b, n) })
	}
}

type handoffLog struct {
	mu           sync.Mutex
	cond         *sync.Cond
	epoch        int
	releaseStart time.Time
	gaps         []time.Duration
	held         time.Duration
	left         int
}

func benchHandoff(b *testing.B, clients int) {
	srv := locktest.StartServer(b, nil)
	admin := benchClient(b, srv)
	ping, _ := floor(b, admin)
	hl := &handoffLog{left: b.N}
	hl.cond = sync.NewCond(&hl.mu)
	lockers := make([]*lock.Redis, clients)
	for i := range lockers {
		lockers[i] = lock.NewRedis(benchClient(b, srv), nil)
		b.Cleanup(func() { lockers[i].Close() })
	}
	admin.ConfigResetStat(context.Background())
	before, cpu0 := commandsByName(b, admin), redisCPU(b, admin)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for _, l := range lockers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			handoffLoop(b, l, hl)
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	b.StopTimer()
	usec := commandUsec(b, admin)
	cmds, total := commandDelta(before, commandsByName(b, admin))
	acq := float64(b.N)
	b.ReportMetric(float64(percentile(hl.gaps, 50).Microseconds())/1000, "gap-p50-ms")
	b.ReportMetric(float64(percentile(hl.gaps, 99).Microseconds())/1000, "gap-p99-ms")
	b.ReportMetric(100*hl.held.Seconds()/wall.Seconds(), "%util")
	b.ReportMetric(float64(total)/acq, "server-cmds/acq")
	b.ReportMetric((redisCPU(b, admin)-cpu0)*1e6/acq, "redis-cpu-µs/acq")
	b.ReportMetric((usec["evalsha"]+usec["eval"]+usec["ssubscribe"])/acq, "scripts-µs/acq")
	b.ReportMetric(float64(ping.Microseconds()), "ping-µs")
	b.Logf("%d acquisitions, server commands per acquisition: %s", b.N, cmds.per(acq))
}

// handoffLoop acquires, holds 1ms, releases, and waits until another
// client acquired before queueing again.
func handoffLoop(b *testing.B, l *lock.Redis, hl *handoffLog) {
	ctx := context.Background()
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
		hl.epoch++
		mine := hl.epoch
		hl.cond.Broadcast()
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
		hl.mu.Lock()
		for hl.epoch == mine && hl.left >= 0 {
			hl.cond.Wait()
		}
		over := hl.left < 0
		hl.mu.Unlock()
		if over {
			return
		}
	}
}

type cmdCounts map[string]int64

// commandsByName reads INFO commandstats calls per command.
func commandsByName(b testing.TB, c *redis.Client) cmdCounts {
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	out := cmdCounts{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "cmdstat_"), ":calls=")
		if !ok {
			continue
		}
		var n int64
		fmt.Sscan(strings.SplitN(rest, ",", 2)[0], &n)
		out[name] = n
	}
	return out
}

// commandDelta is after - before, without INFO (the measurement's own).
func commandDelta(before, after cmdCounts) (cmdCounts, int64) {
	d, total := cmdCounts{}, int64(0)
	for k, v := range after {
		if n := v - before[k]; n > 0 && k != "info" {
			d[k], total = n, total+n
		}
	}
	return d, total
}

func (c cmdCounts) per(n float64) string {
	names := make([]string, 0, len(c))
	for k := range c {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return c[names[i]] > c[names[j]] })
	var parts []string
	for _, k := range names {
		parts = append(parts, fmt.Sprintf("%s %.2f", strings.ToUpper(k), float64(c[k])/n))
	}
	return strings.Join(parts, ", ")
}

// redisCPU is the server's used_cpu_user + used_cpu_sys in seconds.
func redisCPU(b testing.TB, c *redis.Client) float64 {
	info, err := c.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var sum float64
	for _, line := range strings.Split(info, "\n") {
		for _, k := range []string{"used_cpu_user:", "used_cpu_sys:"} {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), k); ok {
				var f float64
				fmt.Sscan(v, &f)
				sum += f
			}
		}
	}
	return sum
}
