package main

// Custom testscript commands:
//
//	redis-start [NAME] [-unix] [-- REDIS-SERVER-ARGS...]
//	                         start a private redis-server for this script. The
//	                         default one (NAME "redis") sets LOCKSTEP_BACKEND,
//	                         REDIS_URL, REDIS_ADDR (host:port) and REDIS_SOCK;
//	                         a named one sets NAME_URL, NAME_ADDR, NAME_SOCK.
//	redis-stop [NAME]        stop it (the backend is then down)
//	redis-restart [NAME]     restart it empty on the same address
//	redis [-n NAME] CMD ARG… run a raw command; the reply goes to stdout, one
//	                         line per element ("(nil)" for nil)
//	wait-key [-gone] KEY [TIMEOUT]
//	                         wait (default 10s) until KEY exists, or with -gone
//	                         until it does not; KEY may be a KEYS pattern
//	wait-file PATH [TIMEOUT] wait (default 10s) until PATH exists
//	expect-exit N PROG ARG…  run PROG like exec and require exit status N
//	envfile NAME FILE        set NAME to FILE's content, trailing newline cut
//	wait-pid-gone FILE [TIMEOUT]
//	                         wait (default 10s) until the process whose pid
//	                         FILE holds has exited
//	check-overlaps FILE [-max N]
//	                         check teststep record lines: at most N holders at
//	                         once (default 1) and, for N=1, fencing tokens that
//	                         strictly increase in enter order

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/lockstep-dev/lockstep/lock/locktest"
)

type scriptKey int

const (
	keyState scriptKey = iota // *scriptState
	keyT                      // testscript.T, for Skip
)

// scriptState is the per-script state of the custom commands.
type scriptState struct {
	servers map[string]*locktest.Server
}

func scriptSetup(env *testscript.Env) error {
	// Keep scripts away from any developer or CI setting.
	env.Setenv("LOCKSTEP_BACKEND", "")
	env.Setenv("NO_COLOR", "1")
	// The local backend's default directory then lands under the script's
	// own TMPDIR.
	env.Setenv("XDG_RUNTIME_DIR", "")
	// A -race binary sleeps 1s at exit by default (atexit_sleep_ms); every
	// lockstep and teststep process of a script would pay it.
	env.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	if p, err := exec.LookPath("teststep"); err == nil {
		env.Setenv("TESTSTEP", p)
	}
	env.Values[keyState] = &scriptState{servers: map[string]*locktest.Server{}}
	env.Values[keyT] = env.T()
	return nil
}

func scriptCmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"redis-start":    cmdRedisStart,
		"redis-stop":     cmdRedisStop,
		"redis-restart":  cmdRedisRestart,
		"redis":          cmdRedis,
		"wait-key":       cmdWaitKey,
		"wait-file":      cmdWaitFile,
		"check-overlaps": cmdCheckOverlaps,
		"expect-exit":    cmdExpectExit,
		"envfile":        cmdEnvfile,
		"wait-pid-gone":  cmdWaitPidGone,
	}
}

// scriptTB adapts a script to locktest.TB: Cleanup runs when the script ends.
type scriptTB struct{ ts *testscript.TestScript }

func (s scriptTB) Helper()                           {}
func (s scriptTB) Fatalf(format string, args ...any) { s.ts.Fatalf(format, args...) }
func (s scriptTB) Cleanup(f func())                  { s.ts.Defer(f) }
func (s scriptTB) Skip(args ...any)                  { s.ts.Value(keyT).(testscript.T).Skip(args...) }

func state(ts *testscript.TestScript) *scriptState { return ts.Value(keyState).(*scriptState) }

func cmdRedisStart(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! redis-start")
	}
	name, opts := "redis", &locktest.ServerOptions{}
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-unix":
			opts.Unix = true
		case a == "--":
			opts.Args, i = args[i+1:], len(args)
		case strings.HasPrefix(a, "-"):
			ts.Fatalf("redis-start: unknown flag %s", a)
		default:
			name = a
		}
	}
	st := state(ts)
	if st.servers[name] != nil {
		ts.Fatalf("redis-start: %s is already running", name)
	}
	srv := locktest.StartServer(scriptTB{ts}, opts)
	st.servers[name] = srv
	prefix := strings.ToUpper(name)
	if name == "redis" {
		ts.Setenv("LOCKSTEP_BACKEND", srv.URL())
		prefix = "REDIS"
	}
	ts.Setenv(prefix+"_URL", srv.URL())
	ts.Setenv(prefix+"_ADDR", srv.Addr)
	ts.Setenv(prefix+"_SOCK", srv.Sock)
}

func server(ts *testscript.TestScript, args []string) *locktest.Server {
	name := "redis"
	if len(args) > 0 {
		name = args[0]
	}
	srv := state(ts).servers[name]
	if srv == nil {
		ts.Fatalf("no redis server %q: run redis-start first", name)
	}
	return srv
}

func cmdRedisStop(ts *testscript.TestScript, neg bool, args []string) { server(ts, args).Stop() }

func cmdRedisRestart(ts *testscript.TestScript, neg bool, args []string) {
	server(ts, args).Restart()
}

// client opens a go-redis client to srv for one command.
func client(srv *locktest.Server) *redis.Client {
	if srv.Sock != "" {
		return redis.NewClient(&redis.Options{Network: "unix", Addr: srv.Sock, DisableIdentity: true, MaxRetries: -1})
	}
	return redis.NewClient(&redis.Options{Addr: srv.Addr, DisableIdentity: true, MaxRetries: -1})
}

func cmdRedis(ts *testscript.TestScript, neg bool, args []string) {
	var names []string
	if len(args) > 1 && args[0] == "-n" {
		names, args = args[1:2], args[2:]
	}
	if len(args) == 0 {
		ts.Fatalf("usage: redis [-n NAME] CMD ARGS...")
	}
	c := client(server(ts, names))
	defer c.Close()
	cmdArgs := make([]any, len(args))
	for i, a := range args {
		cmdArgs[i] = a
	}
	v, err := c.Do(context.Background(), cmdArgs...).Result()
	if err == redis.Nil {
		v, err = nil, nil
	}
	if err != nil {
		if !neg {
			ts.Fatalf("redis %s: %v", strings.Join(args, " "), err)
		}
		fmt.Fprintln(ts.Stderr(), err)
		return
	}
	if neg {
		ts.Fatalf("redis %s: succeeded unexpectedly", strings.Join(args, " "))
	}
	writeReply(ts, v)
}

func writeReply(ts *testscript.TestScript, v any) {
	switch v := v.(type) {
	case nil:
		fmt.Fprintln(ts.Stdout(), "(nil)")
	case []any:
		for _, e := range v {
			writeReply(ts, e)
		}
	default:
		fmt.Fprintln(ts.Stdout(), v)
	}
}

// timeoutArg parses an optional timeout argument (default 10s).
func timeoutArg(ts *testscript.TestScript, args []string, i int) time.Duration {
	if len(args) <= i {
		return 10 * time.Second
	}
	d, err := time.ParseDuration(args[i])
	if err != nil {
		ts.Fatalf("bad timeout %q: %v", args[i], err)
	}
	return d
}

// waitUntil polls cond until it holds or timeout passes.
func waitUntil(ts *testscript.TestScript, what string, timeout time.Duration, cond func() bool) {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			ts.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond) // polling external state
	}
}

func cmdWaitKey(ts *testscript.TestScript, neg bool, args []string) {
	gone := len(args) > 0 && args[0] == "-gone"
	if gone {
		args = args[1:]
	}
	if len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: wait-key [-gone] KEY [TIMEOUT]")
	}
	c := client(server(ts, nil))
	defer c.Close()
	what := fmt.Sprintf("key %q to exist", args[0])
	if gone {
		what = fmt.Sprintf("key %q to be gone", args[0])
	}
	waitUntil(ts, what, timeoutArg(ts, args, 1), func() bool {
		keys, err := c.Keys(context.Background(), args[0]).Result()
		return err == nil && (len(keys) > 0) != gone
	})
}

func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: wait-file PATH [TIMEOUT]")
	}
	path := ts.MkAbs(args[0])
	waitUntil(ts, path+" to appear", timeoutArg(ts, args, 1), func() bool {
		_, err := os.Stat(path)
		return err == nil
	})
}

func cmdCheckOverlaps(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 && !(len(args) == 3 && args[1] == "-max") {
		ts.Fatalf("usage: check-overlaps FILE [-max N]")
	}
	limit := 1
	if len(args) == 3 {
		n, err := strconv.Atoi(args[2])
		if err != nil || n < 1 {
			ts.Fatalf("check-overlaps: bad -max %q", args[2])
		}
		limit = n
	}
	rep, err := checkOverlaps(ts.ReadFile(args[0]), limit)
	if err != nil {
		ts.Fatalf("check-overlaps: %v", err)
	}
	ts.Logf("check-overlaps: %s", rep)
	switch bad := rep.Overlaps > 0 || rep.FenceViolations > 0; {
	case bad && !neg:
		ts.Fatalf("check-overlaps: %s", rep)
	case !bad && neg:
		ts.Fatalf("check-overlaps: expected overlaps or fence violations, found none (%s)", rep)
	}
}

func cmdExpectExit(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: expect-exit N PROG ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("expect-exit: bad status %q", args[0])
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("expect-exit: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

func cmdEnvfile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: envfile NAME FILE")
	}
	ts.Setenv(args[0], strings.TrimRight(ts.ReadFile(args[1]), "\n"))
}

func cmdWaitPidGone(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: wait-pid-gone FILE [TIMEOUT]")
	}
	pid, err := strconv.Atoi(strings.TrimSpace(ts.ReadFile(args[0])))
	if err != nil {
		ts.Fatalf("wait-pid-gone: %v", err)
	}
	waitUntil(ts, fmt.Sprintf("process %d to exit", pid), timeoutArg(ts, args, 1), func() bool {
		return !processAlive(pid)
	})
}

// processAlive reports whether pid exists and is not a zombie (an orphan's
// zombie may never be reaped by a container's init).
func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || i+2 >= len(b) || (b[i+2] != 'Z' && b[i+2] != 'X')
}
