package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// TestRedis_oneConnectionPerCommand: an exec and a run of one locked step
// each open exactly one connection to the server: go-redis's dedicated
// pipeline pool (on by default since v9.2x) would dial a second one, with
// 128 KiB buffers, for the release's HDEL+EXISTS pipeline.
func TestRedis_oneConnectionPerCommand(t *testing.T) {
	srv := locktest.StartServer(t, nil)
	a := adminClient(t, srv.Addr)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(`
step "one" {
  lock { key = "conns/run" }
  command = ["true"]
}
`), 0o644)
	url := "redis://" + srv.Addr
	for _, c := range []struct {
		name string
		args []string
	}{
		{"exec", []string{"exec", "-backend", url, "conns/exec", "--", "true"}},
		{"run", []string{"run", "-backend", url, dir}},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := connectionsReceived(t, a)
			if code, p := runLockstep(t, dir, nil, c.args...); code != 0 {
				t.Fatalf("exit %d: %s", code, p.stderr.String())
			}
			if n := connectionsReceived(t, a) - before; n != 1 {
				t.Errorf("%s opened %d connections, want 1", c.name, n)
			}
		})
	}
}

// connectionsReceived is the server's count of accepted connections.
func connectionsReceived(t *testing.T, a *redis.Client) int {
	t.Helper()
	info, err := a.Info(context.Background(), "stats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(line, "total_connections_received:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("INFO stats has no total_connections_received")
	return 0
}
