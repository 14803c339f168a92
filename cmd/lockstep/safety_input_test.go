package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// writeWorkflow writes files (name → content) into a new directory.
func writeWorkflow(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const injectionWorkflow = `
variable "payload" { type = string }

step "argv" {
  command = ["teststep", "print", var.payload]
}

step "env" {
  command = ["teststep", "env", "PAYLOAD"]
  env     = { PAYLOAD = var.payload }
}

step "shell_env" {
  shell = "printf 'shell:%s\\n' \"$PAYLOAD\""
  env   = { PAYLOAD = var.payload }
}

step "lock_key" {
  lock { key = "inject/${var.payload}" }
  command = ["teststep", "print", "locked"]
}
`

// TestSafety_shellInjection: hostile variable values reach steps only as argv
// or environment, never through a shell's parser, and never as HCL.
func TestSafety_shellInjection(t *testing.T) {
	srv := locktest.StartServer(t, nil)
	payloads := []string{
		`";$(touch pwned-1)`,
		"`touch pwned-2`",
		`'$(touch pwned-3)'`,
		`x; touch pwned-4 #`,
		`$(touch pwned-5) && touch pwned-6`,
		`${file("/etc/hostname")}`,
		"line\n$(touch pwned-7)",
	}
	for _, payload := range payloads {
		dir := writeWorkflow(t, map[string]string{"main.hcl": injectionWorkflow})
		code, p := runLockstep(t, dir, []string{"LOCKSTEP_BACKEND=" + srv.URL()}, "run", "-parallelism", "1", "-var", "payload="+payload, ".")
		if code != 0 {
			t.Fatalf("payload %q: run exited %d\nstderr:\n%s", payload, code, p.stderr)
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "pwned") {
				t.Fatalf("payload %q: the marker %s was created: a value reached a shell", payload, e.Name())
			}
		}
		out := p.stdout.String()
		if !strings.Contains(out, strings.Split(payload, "\n")[0]) || !strings.Contains(out, "PAYLOAD="+strings.Split(payload, "\n")[0]) {
			t.Fatalf("payload %q did not reach the steps verbatim; stdout:\n%s", payload, out)
		}
	}
	t.Logf("shell-injection: %d hostile payloads through command argv, env, a shell reading $PAYLOAD and a lock key: 0 marker files, values verbatim", len(payloads))
}

const secretWorkflow = `
variable "api_key" {
  type      = string
  sensitive = true
}

variable "go_file" { type = string }

step "deploy" {
  lock {
    key = "secret/deploy"
    ttl = "5s"
  }
  command = ["teststep", "wait-file", var.go_file, "stderr", "deploy failed", "exit", "1"]
  env     = { API_KEY = var.api_key }
}

output "key" {
  value     = var.api_key
  sensitive = true
}
`

// TestSafety_secretRedaction: the Redis password in the URL, a sensitive
// variable and the lock token never appear in stdout, stderr or the trace
// log, even when a step fails.
func TestSafety_secretRedaction(t *testing.T) {
	const password, apiKey = "pw-Sup3rSecret-91", "key-T0pSecret-42"
	srv := locktest.StartServer(t, nil)
	if _, err := srv.Do("CONFIG", "SET", "requirepass", password); err != nil {
		t.Fatal(err)
	}
	a := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: password, MaxRetries: -1, DisableIdentity: true})
	t.Cleanup(func() { a.Close() })
	dir := writeWorkflow(t, map[string]string{"main.hcl": secretWorkflow})
	goFile, logFile := filepath.Join(dir, "go"), filepath.Join(t.TempDir(), "lockstep.log")
	env := []string{
		"LOCKSTEP_BACKEND=redis://:" + password + "@" + srv.Addr,
		"LOCKSTEP_LOG=trace",
		"LOCKSTEP_LOG_PATH=" + logFile,
		"LOCKSTEP_VAR_api_key=" + apiKey,
	}
	for _, json := range []bool{false, true} {
		args := []string{"run", "-var", "go_file=" + goFile}
		if json {
			args = append(args, "-json")
		}
		os.Remove(goFile)
		p := startLockstep(t, dir, env, append(args, ".")...)
		token := holderToken(t, a)
		if err := os.WriteFile(goFile, []byte("go"), 0o644); err != nil {
			t.Fatal(err)
		}
		if code := p.wait(t, time.Minute); code != exitFailed {
			t.Fatalf("run exited %d, want %d\nstderr:\n%s", code, exitFailed, p.stderr)
		}
		logText, _ := os.ReadFile(logFile)
		if len(logText) == 0 {
			t.Fatal("LOCKSTEP_LOG_PATH got no log: the test would prove nothing")
		}
		found := 0
		for name, text := range map[string]string{"stdout": p.stdout.String(), "stderr": p.stderr.String(), "log file": string(logText)} {
			for what, secret := range map[string]string{"password": password, "sensitive variable": apiKey, "lock token": token} {
				if n := strings.Count(text, secret); n > 0 {
					found += n
					t.Errorf("json=%v: the %s appears %d times in %s", json, what, n, name)
				}
			}
		}
		t.Logf("secret-redaction (json=%v): %d occurrences of password, sensitive value and token in stdout (%d B), stderr (%d B), trace log (%d B)",
			json, found, len(p.stdout.String()), len(p.stderr.String()), len(logText))
	}
}

// holderToken waits for a lease to appear and returns its token (the member
// of the holders hash, which only the server and the holder know).
func holderToken(t *testing.T, a *redis.Client) string {
	t.Helper()
	ctx := context.Background()
	var token string
	waitCond(t, 30*time.Second, "a lease to appear", func() bool {
		for _, k := range liveLockKeys(t, a) {
			if strings.HasSuffix(k, ":h") {
				m, err := a.HGetAll(ctx, k).Result()
				for field, rec := range m {
					if err != nil || field == "f" {
						continue
					}
					// "deadline|fence|limit|mode|token|json"
					if f := strings.SplitN(rec, "|", 6); len(f) == 6 {
						token = f[4]
						return true
					}
				}
			}
		}
		return false
	})
	return token
}

// TestSafety_hostileFiles: a 200 KB nest of parentheses and a 50 MB file are
// refused with a diagnostic and exit 2, quickly, without a crash.
func TestSafety_hostileFiles(t *testing.T) {
	depth := 100_000
	bomb := "locals {\n  x = " + strings.Repeat("(", depth) + "1" + strings.Repeat(")", depth) + "\n}\n"
	big := bytes.Repeat([]byte("# padding padding padding padding padding padding padding padding padding\n"), 50<<20/74+1)
	cases := map[string][]byte{"hcl-depth-bomb": []byte(bomb), "50 MB file": big}
	lockstepBin(t) // build first: the timing is lockstep's alone
	for name, text := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "main.hcl"), text, 0o644); err != nil {
				t.Fatal(err)
			}
			for _, cmd := range []string{"validate", "run"} {
				start := time.Now()
				code, p := runLockstep(t, dir, nil, cmd, ".")
				took := time.Since(start)
				t.Logf("%s (%d bytes): lockstep %s exited %d in %s: %s", name, len(text), cmd, code, took.Round(time.Millisecond), firstLine(p.stderr.String()))
				if code != exitUsage {
					t.Errorf("%s exited %d, want %d\nstderr:\n%.2000s", cmd, code, exitUsage, p.stderr)
				}
				if strings.TrimSpace(p.stderr.String()) == "" || strings.Contains(p.stderr.String(), "goroutine ") {
					t.Errorf("%s: want a diagnostic, not silence or a crash\nstderr:\n%.2000s", cmd, p.stderr)
				}
				if took > time.Second {
					t.Errorf("%s took %s, want under 1s", cmd, took)
				}
			}
		})
	}
}
