package locktest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the master name StartSentinel monitors.
const SentinelMaster = "lockstep-primary"

// Sentinel is a small Redis Sentinel deployment for one test: a primary, a
// replica of it and one sentinel (quorum 1) watching them, all on free
// loopback ports, without persistence, stopped when the test ends.
type Sentinel struct {
	tb         TB
	Primary    *Server // the primary at start; after a failover it is a replica
	Replica    *Server // the replica at start; after a failover it is the primary
	Sentinel   *Server // the sentinel process (answers SENTINEL commands)
	MasterName string

	sc *redis.SentinelClient
}

// SentinelOptions tunes StartSentinel; nil means defaults. There are none
// yet; the parameter keeps the signature stable.
type SentinelOptions struct{}

// StartSentinel starts the primary, the replica and the sentinel, and returns
// once the replica is in sync and the sentinel knows it (so that a failover
// can promote it). The sentinel declares the primary down after 1 s without
// answers and retries a failover after 3 s.
func StartSentinel(tb TB, opts *SentinelOptions) *Sentinel {
	tb.Helper()
	primary := StartServer(tb, nil)
	replica := StartServer(tb, &ServerOptions{Args: []string{"--replicaof", "127.0.0.1", portOf(primary.Addr)}})
	s := &Sentinel{tb: tb, Primary: primary, Replica: replica, MasterName: SentinelMaster}
	s.Sentinel = startSentinelProcess(tb, primary.Addr)
	s.waitFor("the replica to sync", func(ctx context.Context) error {
		var info string
		err := withClient(replica.Addr, func(c *redis.Client) (err error) {
			info, err = c.Info(ctx, "replication").Result()
			return err
		})
		if err != nil {
			return err
		}
		if !containsLine(info, "master_link_status:up") {
			return fmt.Errorf("replica link not up")
		}
		return nil
	})
	s.waitFor("the sentinel to see the replica", func(ctx context.Context) error {
		replicas, err := s.client().Replicas(ctx, s.MasterName).Result()
		if err != nil {
			return err
		}
		for _, r := range replicas {
			if r["port"] == portOf(replica.Addr) && r["flags"] == "slave" {
				return nil
			}
		}
		return fmt.Errorf("sentinel knows replicas %v", replicas)
	})
	return s
}

func startSentinelProcess(tb TB, primaryAddr string) *Server {
	tb.Helper()
	dir, err := os.MkdirTemp("", "lockstep-sentinel-")
	if err != nil {
		tb.Fatalf("%v", err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	addr := "127.0.0.1:" + strconv.Itoa(FreePort(tb))
	host, port, _ := net.SplitHostPort(primaryAddr)
	conf := fmt.Sprintf(`bind 127.0.0.1
port %s
dir %s
logfile %s
sentinel monitor %s %s %s 1
sentinel down-after-milliseconds %s 1000
sentinel failover-timeout %s 3000
sentinel parallel-syncs %s 1
`, portOf(addr), dir, filepath.Join(dir, "redis.log"), SentinelMaster, host, port,
		SentinelMaster, SentinelMaster, SentinelMaster)
	path := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		tb.Fatalf("write sentinel.conf: %v", err)
	}
	// The config file must come first; the sentinel rewrites it as it learns.
	s := &Server{tb: tb, Addr: addr, Dir: dir, args: []string{path, "--sentinel"}}
	tb.Cleanup(s.Stop) // before start, as in StartServer
	s.start()
	return s
}

// BreakReplication cuts the replica off its primary (it retries with a user
// the primary does not know) and returns once the replica reports its link
// down. Writes to the primary from then on never reach the replica: a
// failover after that loses them, as asynchronous replication can.
func (s *Sentinel) BreakReplication() {
	s.tb.Helper()
	for _, cmd := range [][]string{
		{"CONFIG", "SET", "masteruser", "lockstep-no-such-user"},
		{"CONFIG", "SET", "masterauth", "lockstep-wrong"},
		{"CLIENT", "KILL", "TYPE", "master"},
	} {
		if _, err := s.Replica.Do(cmd...); err != nil {
			s.tb.Fatalf("replica %v: %v", cmd, err)
		}
	}
	s.waitFor("the replica's link to go down", func(ctx context.Context) error {
		var info string
		err := withClient(s.Replica.Addr, func(c *redis.Client) (err error) {
			info, err = c.Info(ctx, "replication").Result()
			return err
		})
		if err != nil {
			return err
		}
		if !containsLine(info, "master_link_status:down") {
			return fmt.Errorf("replica link still up")
		}
		return nil
	})
}

// Addrs is the sentinel address list for a client (the backend block's
// sentinel { addresses }).
func (s *Sentinel) Addrs() []string { return []string{s.Sentinel.Addr} }

// PrimaryAddr asks the sentinel which address is the primary now.
func (s *Sentinel) PrimaryAddr() string {
	s.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, err := s.client().GetMasterAddrByName(ctx, s.MasterName).Result()
	if err != nil {
		s.tb.Fatalf("sentinel get-master-addr-by-name: %v", err)
	}
	return net.JoinHostPort(a[0], a[1])
}

// Failover forces a failover (SENTINEL FAILOVER, no agreement needed) and
// returns once the sentinel reports a new primary address and that server
// answers as a master. It returns the new primary's address.
func (s *Sentinel) Failover() string {
	s.tb.Helper()
	old := s.PrimaryAddr()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.client().Failover(ctx, s.MasterName).Err(); err != nil {
		s.tb.Fatalf("sentinel failover: %v", err)
	}
	var now string
	s.waitFor("the sentinel to report a new primary", func(ctx context.Context) error {
		a, err := s.client().GetMasterAddrByName(ctx, s.MasterName).Result()
		if err != nil {
			return err
		}
		now = net.JoinHostPort(a[0], a[1])
		if now == old {
			return fmt.Errorf("primary still %s", old)
		}
		var role []any
		err = withClient(now, func(c *redis.Client) (err error) {
			role, err = c.Do(ctx, "ROLE").Slice()
			return err
		})
		if err != nil {
			return err
		}
		if len(role) == 0 || role[0] != "master" {
			return fmt.Errorf("%s answers ROLE %v", now, role)
		}
		return nil
	})
	return now
}

func (s *Sentinel) client() *redis.SentinelClient {
	if s.sc == nil {
		s.sc = redis.NewSentinelClient(&redis.Options{Addr: s.Sentinel.Addr, MaxRetries: -1})
		s.tb.Cleanup(func() { s.sc.Close() })
	}
	return s.sc
}

// waitFor polls cond (each call with a short deadline) until it returns nil,
// failing the test after 20 s with the last error.
func (s *Sentinel) waitFor(what string, cond func(ctx context.Context) error) {
	s.tb.Helper()
	waitFor(s.tb, 20*time.Second, what, cond)
}

func waitFor(tb TB, limit time.Duration, what string, cond func(ctx context.Context) error) {
	tb.Helper()
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := cond(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s: %v", limit, what, err)
		}
		time.Sleep(20 * time.Millisecond) // polling an external process's state
	}
}

// withClient runs fn with a one-connection client for addr and closes it.
func withClient(addr string, fn func(c *redis.Client) error) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, PoolSize: 1})
	defer c.Close()
	return fn(c)
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

func containsLine(text, line string) bool {
	for len(text) > 0 {
		i := 0
		for i < len(text) && text[i] != '\n' {
			i++
		}
		if l := text[:i]; l == line || l == line+"\r" {
			return true
		}
		if i == len(text) {
			break
		}
		text = text[i+1:]
	}
	return false
}

type redisClient = redis.Client
