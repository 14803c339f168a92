package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// TestSafety_backendRefused: authentication, ACL and TLS refusals exit 5 with
// the reason, never 3 ("busy").
func TestSafety_backendRefused(t *testing.T) {
	srv := locktest.StartServer(t, nil)
	srv.Restrict()
	cases := []struct{ name, url, reason string }{
		{"no password", "redis://" + srv.Addr, "auth"},
		{"wrong password", "redis://:wrong@" + srv.Addr, "pass"},
		{"acl denies scripts", "redis://" + locktest.ReaderUser + ":" + locktest.ReaderPassword + "@" + srv.Addr, "perm"},
		{"tls to a plain server", "rediss://" + srv.Addr, "tls"},
	}
	lockstepBin(t) // build first: the timing is lockstep's alone
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			code, p := runLockstep(t, "", nil, "exec", "-backend", c.url, "safety/refused", "--", "teststep", "print", "ran")
			took := time.Since(start)
			stderr := p.stderr.String()
			t.Logf("refused (%s): exit %d in %s: %s", c.name, code, took.Round(time.Millisecond), strings.TrimSpace(stderr))
			if code != exitUnavailable {
				t.Fatalf("exit %d, want %d", code, exitUnavailable)
			}
			if strings.Contains(p.stdout.String(), "ran") {
				t.Fatal("the command ran without the lock")
			}
			if strings.Contains(strings.ToLower(stderr), "busy") {
				t.Fatal("a refusal is reported as busy")
			}
			if !strings.Contains(strings.ToLower(stderr), c.reason) {
				t.Errorf("stderr does not give the reason (%q)", c.reason)
			}
			if took > 10*time.Second {
				t.Errorf("the refusal took %s to report, want under 10s", took)
			}
			if strings.Contains(stderr, locktest.ReaderPassword) {
				t.Fatal("stderr shows the password")
			}
		})
	}
}

// TestSafety_evictionWarning: lockstep warns at startup when maxmemory-policy
// may evict lock keys, and stays quiet under noeviction.
func TestSafety_evictionWarning(t *testing.T) {
	for _, c := range []struct {
		policy string
		warn   bool
	}{{"noeviction", false}, {"allkeys-lru", true}} {
		t.Run(c.policy, func(t *testing.T) {
			srv := locktest.StartServer(t, &locktest.ServerOptions{Args: []string{"--maxmemory-policy", c.policy}})
			code, p := runLockstep(t, "", []string{"LOCKSTEP_BACKEND=" + srv.URL()}, "exec", "safety/evict", "--", "teststep", "print", "ran")
			warned := strings.Contains(p.stderr.String(), "maxmemory-policy")
			t.Logf("maxmemory-policy %s: exit %d, warned %v: %s", c.policy, code, warned, strings.TrimSpace(p.stderr.String()))
			if code != 0 {
				t.Fatalf("exit %d\nstderr:\n%s", code, p.stderr)
			}
			if warned != c.warn {
				t.Fatalf("warned = %v, want %v", warned, c.warn)
			}
		})
	}
}

const blockStep = `
step "locked" {
  lock {
    key = "block/{deploy}/staging"
    ttl = "5s"
  }
  command = ["teststep", "print", "locked-step-ran"]
}
`

// TestSafety_sentinelBlock: the backend block's sentinel form works for run
// and exec, and follows a failover.
func TestSafety_sentinelBlock(t *testing.T) {
	s := locktest.StartSentinel(t, nil)
	dir := writeWorkflow(t, map[string]string{"main.hcl": fmt.Sprintf(`
lockstep {
  backend "redis" {
    sentinel {
      master_name = %q
      addresses   = [%q]
    }
  }
}
%s`, s.MasterName, s.Sentinel.Addr, blockStep)})
	runBlock(t, dir, s.Primary.Addr)
	// A step holds a lock through the failover: lockstep must follow the new
	// primary and either keep the lock (it had replicated) or report its loss
	// (exit 4); nothing else.
	records := filepath.Join(t.TempDir(), "records")
	held := startLockstep(t, dir, nil, "exec", "-config", ".", "-ttl", "3s", "failover/held", "--",
		"teststep", "record", records, "held", "4s")
	waitFile(t, records, 30*time.Second)
	start := time.Now()
	s.Failover()
	failover := time.Since(start)
	code := held.wait(t, time.Minute)
	t.Logf("sentinel block: failover took %s; a 4s step holding a lock through it: exit %d (0: the lock survived and was renewed on the new primary; 4: loss reported) %s",
		failover.Round(time.Millisecond), code, firstLine(held.stderr.String()+"\n-"))
	if code != 0 && code != exitLost {
		t.Errorf("the step holding a lock through the failover: exit %d, want 0 or %d\nstderr:\n%s", code, exitLost, held.stderr)
	}
	runBlock(t, dir, s.Replica.Addr)
}

// TestSafety_clusterBlock: the backend block's cluster form works for run and
// exec with a key that carries braces.
func TestSafety_clusterBlock(t *testing.T) {
	cl := locktest.StartCluster(t)
	addrs := `"` + strings.Join(cl.Addrs(), `", "`) + `"`
	dir := writeWorkflow(t, map[string]string{"main.hcl": fmt.Sprintf(`
lockstep {
  backend "redis" {
    cluster {
      addresses = [%s]
    }
  }
}
%s`, addrs, blockStep)})
	runBlock(t, dir, "")
}

// runBlock runs the workflow and an exec through its backend block; when
// primary is set, the fence counters must have landed there.
func runBlock(t *testing.T, dir, primary string) {
	t.Helper()
	code, p := runLockstep(t, dir, nil, "run", ".")
	if code != 0 || !strings.Contains(p.stdout.String(), "locked-step-ran") {
		t.Fatalf("run through the block exited %d\nstdout:\n%s\nstderr:\n%s", code, p.stdout, p.stderr)
	}
	code, p = runLockstep(t, dir, nil, "exec", "-config", ".", "exec/{a}b}", "--", "teststep", "print", "exec-ran")
	if code != 0 || !strings.Contains(p.stdout.String(), "exec-ran") {
		t.Fatalf("exec -config through the block exited %d\nstderr:\n%s", code, p.stderr)
	}
	if primary == "" {
		t.Logf("block backend: run and exec succeeded")
		return
	}
	keys, err := adminClient(t, primary).Keys(context.Background(), "lockstep:*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("no lockstep keys on the primary %s (%v)", primary, err)
	}
	t.Logf("block backend: run and exec succeeded; %d lockstep keys on the primary %s", len(keys), primary)
}

// TestSafety_fencingExample: examples/fencing validates, runs, and its
// resource rejects a write that carries a stale fencing token.
func TestSafety_fencingExample(t *testing.T) {
	example, err := filepath.Abs(filepath.Join("..", "..", "examples", "fencing"))
	if err != nil {
		t.Fatal(err)
	}
	if code, p := runLockstep(t, "", nil, "validate", example); code != 0 {
		t.Fatalf("validate exited %d\nstderr:\n%s", code, p.stderr)
	}
	srv := locktest.StartServer(t, nil)
	store := t.TempDir()
	env := []string{"LOCKSTEP_BACKEND=" + srv.URL(), "FENCING_STORE=" + store}
	for _, v := range []string{"first", "second"} {
		if code, p := runLockstep(t, "", env, "run", "-var", "value="+v, example); code != 0 {
			t.Fatalf("run %s exited %d\nstderr:\n%s", v, code, p.stderr)
		}
	}
	// A holder paused past its TTL wakes up with its old token (1) after the
	// lock passed on (2): the resource refuses it.
	stale := exec.Command("sh", filepath.Join(example, "store.sh"), store, "stale")
	stale.Env = append(os.Environ(), "LOCKSTEP_FENCING_TOKEN=1")
	out, err := stale.CombinedOutput()
	if exitCode(err) != 1 || !strings.Contains(string(out), "rejected") {
		t.Fatalf("stale write: exit %d, %s; want a rejection", exitCode(err), out)
	}
	data, _ := os.ReadFile(filepath.Join(store, "data"))
	if strings.Contains(string(data), "stale") || !strings.Contains(string(data), "second") {
		t.Fatalf("resource data %q", data)
	}
	t.Logf("fencing example: accepted writes (token value) %q; a stale write with token 1: %s",
		strings.Fields(strings.TrimSpace(string(data))), strings.TrimSpace(string(out)))
}
