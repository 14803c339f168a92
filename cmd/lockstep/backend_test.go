package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/lockstep-dev/lockstep/config"
	"github.com/lockstep-dev/lockstep/lock"
)

func TestResolveBackend_order(t *testing.T) {
	block := &config.Backend{Type: "redis", URL: "redis://block:1/2"}
	for _, tc := range []struct {
		name, flag, env string
		block           *config.Backend
		wantDesc        string
		wantLocal       bool
	}{
		{"flag wins", "redis://flag:1", "redis://env:1", block, "redis://flag:1", false},
		{"env over block", "", "redis://env:1", block, "redis://env:1", false},
		{"block", "", "", block, "redis://block:1/2", false},
		{"default local", "", "", nil, "local (default directory)", true},
		{"local dir", "local:///tmp/locks", "", nil, "local:///tmp/locks", true},
		{"unix", "unix:///tmp/r.sock?db=3", "", nil, "unix:///tmp/r.sock?db=3", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := resolveBackend(tc.flag, tc.env, tc.block)
			if err != nil {
				t.Fatal(err)
			}
			if s.desc != tc.wantDesc || s.local != tc.wantLocal {
				t.Errorf("got %q local=%v, want %q local=%v", s.desc, s.local, tc.wantDesc, tc.wantLocal)
			}
		})
	}
}

func TestResolveBackend_redactsAndParses(t *testing.T) {
	s, err := resolveBackend("rediss://bob:s3cret@db.example:7000/4", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s.desc, "s3cret") || !strings.Contains(s.desc, "bob:xxxxx@db.example:7000") {
		t.Errorf("description %q", s.desc)
	}
	o := s.simple
	if o.Addr != "db.example:7000" || o.DB != 4 || o.Username != "bob" || o.Password != "s3cret" || o.TLSConfig == nil {
		t.Errorf("options %+v", o)
	}
	u, err := resolveBackend("unix:///tmp/r.sock?db=3", "", nil)
	if err != nil || u.simple.Network != "unix" || u.simple.Addr != "/tmp/r.sock" || u.simple.DB != 3 {
		t.Errorf("unix options %+v, %v", u.simple, err)
	}
}

func TestResolveBackend_malformed(t *testing.T) {
	for _, tc := range []struct{ flag, env, wantIn string }{
		{"redis://u:s3cret@host:port", "", "-backend"},
		{"", "mysql://u:s3cret@h/x", "LOCKSTEP_BACKEND"},
		{"redis://u:s3cret@h:1/notadb", "", "-backend"},
		{"just-a-host:6379", "", "-backend"},
		{"local://host/dir", "", "-backend"},
	} {
		_, err := resolveBackend(tc.flag, tc.env, nil)
		if exitCode(err) != exitUsage {
			t.Errorf("%q/%q: exit %d (%v), want 2", tc.flag, tc.env, exitCode(err), err)
			continue
		}
		if !strings.Contains(err.Error(), tc.wantIn) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%q/%q: error %q should name %s and hide the password", tc.flag, tc.env, err, tc.wantIn)
		}
	}
}

func TestResolveBackend_block(t *testing.T) {
	rng := hcl.Range{Filename: "main.hcl", Start: hcl.Pos{Line: 2, Column: 3}}
	b := &config.Backend{Type: "redis", URL: "redis://h:1", Username: "u", Password: "p", DB: 5, KeyPrefix: "x:", DeclRange: rng}
	s, err := resolveBackend("", "", b)
	if err != nil {
		t.Fatal(err)
	}
	if s.simple.Username != "u" || s.simple.Password != "p" || s.simple.DB != 5 || s.keyPrefix != "x:" {
		t.Errorf("block options %+v prefix %q", s.simple, s.keyPrefix)
	}
	sen := &config.Backend{Type: "redis", Sentinel: &config.Sentinel{MasterName: "m", Addresses: []string{"a:1", "b:2"}}}
	s, err = resolveBackend("", "", sen)
	if err != nil || s.universal == nil || s.universal.MasterName != "m" || len(s.universal.Addrs) != 2 {
		t.Errorf("sentinel %+v, %v", s, err)
	}
	cl := &config.Backend{Type: "redis", Cluster: &config.Cluster{Addresses: []string{"a:1"}}}
	s, err = resolveBackend("", "", cl)
	if err != nil || s.universal == nil || !s.universal.IsClusterMode {
		t.Errorf("cluster %+v, %v", s, err)
	}
	bad := &config.Backend{Type: "redis", TLS: &config.TLS{CAFile: "/nonexistent"}, DeclRange: rng}
	if _, err := resolveBackend("", "", bad); exitCode(err) != exitUsage || !strings.Contains(err.Error(), "main.hcl") {
		t.Errorf("bad tls: %v", err)
	}
}

func TestExitCode(t *testing.T) {
	busy := &lock.BusyError{Key: "k"}
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("boom"), 1},
		{usagef("bad flag"), 2},
		{fmt.Errorf("acquire: %w", busy), 3},
		{fmt.Errorf("step.x: %w", &lock.DeadlockError{Key: "b", Cycle: []lock.DeadlockEdge{{RunID: "r1", Holds: "a", WaitsFor: "b"}}}), 3},
		{fmt.Errorf("renew: %w", lock.ErrNotHeld), 4},
		{fmt.Errorf("%w: key deleted", errLost), 4},
		{fmt.Errorf("dial: %w", lock.ErrUnavailable), 5},
		{fmt.Errorf("%w: %w", context.Canceled, &signalError{syscall.SIGINT}), 130},
		{fmt.Errorf("%w: %w", context.Canceled, &signalError{syscall.SIGTERM}), 143},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestWriteLockInfo(t *testing.T) {
	var b strings.Builder
	h := lock.Holder{Owner: "alice@bastion-2", PID: 4211, RunID: "r1", Step: "step.failover",
		Info: "https://ci/1", Since: time.Now().Add(-130 * time.Second), TTL: 20 * time.Second, Fence: 7}
	writeLockInfo(&b, "db/orders", []lock.Holder{h})
	out := b.String()
	for _, want := range []string{"Lock Info:", "Key:", "db/orders", "alice@bastion-2", "4211", "r1", "step.failover", "https://ci/1", "(2m10s ago)", "TTL left: 20s", "Fence:"} {
		if !strings.Contains(out, want) {
			t.Errorf("lock info lacks %q:\n%s", want, out)
		}
	}
	if got := holderSummary([]lock.Holder{h}); !strings.HasPrefix(got, "alice@bastion-2, pid 4211, step.failover, for 2m1") {
		t.Errorf("summary %q", got)
	}
}

func TestProcessHolder(t *testing.T) {
	t.Setenv("USER", "")
	t.Setenv("LOGNAME", "")
	t.Setenv("LOCKSTEP_HOLDER_INFO", "https://ci.example/job/7")
	h := processHolder(os.Getenv)
	user, host, ok := strings.Cut(h.Owner, "@")
	if !ok || user == "" || host == "" {
		t.Errorf("owner %q is not user@host", h.Owner)
	}
	if h.PID != os.Getpid() || h.Info != "https://ci.example/job/7" {
		t.Errorf("holder %+v", h)
	}
	t.Setenv("LOGNAME", "carol")
	if u := currentUser(os.Getenv); u != "carol" {
		t.Errorf("currentUser with LOGNAME=carol: %q", u)
	}
}

// TestCurrentUser_username: Windows has neither $USER, $LOGNAME nor
// /etc/passwd (and no uid); its account name is in $USERNAME.
func TestCurrentUser_username(t *testing.T) {
	t.Setenv("USER", "")
	t.Setenv("LOGNAME", "")
	t.Setenv("USERNAME", "dave")
	if u := currentUser(os.Getenv); u != "dave" {
		t.Errorf("currentUser with only USERNAME=dave: %q", u)
	}
}

func TestWaitReporter_printsOnChange(t *testing.T) {
	e, _, stderr := testEnv(nil)
	r := newWaitReporter(e, "k")
	a := []lock.Holder{{Owner: "a@h", PID: 1, Fence: 1}}
	b := []lock.Holder{{Owner: "b@h", PID: 2, Fence: 2}}
	r.onWait(a)
	r.onWait(a)
	r.onWait(b)
	r.onWait(b)
	r.close()
	out := stderr.String()
	if n := strings.Count(out, "Lock Info:"); n != 2 {
		t.Errorf("printed the block %d times, want 2 (start and one change):\n%s", n, out)
	}
	if n := strings.Count(out, `Waiting for lock "k"`); n != 1 {
		t.Errorf("printed the waiting line %d times, want 1 (in a log it comes back every %s):\n%s", n, waitRefresh, out)
	}
}
