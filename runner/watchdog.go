package runner

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
)

// The watchdog makes a step's whole process group die with lockstep, also
// when lockstep is killed with SIGKILL. The parent-death signal StartProcess
// arms reaches only the step's direct child; the watchdog reaches the rest of
// its group (a `sh -c` script's commands, anything a step forks).
//
// It is one process per lockstep process, started watchdogDelay after the
// first step: the lockstep binary re-executed with WatchdogArg, in a process
// group of its own, reading a pipe from lockstep. lockstep writes "+PGID\n"
// when a step's group starts and "-PGID\n" once that group is empty (its
// leader reaped and no member left).
// When the pipe reaches end of file, lockstep is gone (however it died: the
// kernel closes its end), and the watchdog sends SIGKILL to every group still
// registered and exits. After a normal exit of lockstep no group is
// registered unless a step left processes running in its group, which are
// then killed too.
//
// Killing only registered groups is safe against PID reuse: Linux does not
// hand out a PID while it is still some process group's id, and a group is
// deregistered as soon as lockstep sees it empty: right after reaping its
// leader, or within lingerPoll for a group that outlived its leader (reusing
// the id that soon would take the kernel's pids wrapping around).

// WatchdogArg is the hidden first argument that makes the lockstep binary run
// WatchdogMain instead of a command. The program's main must dispatch it
// before anything else (it is not a command and help does not show it).
const WatchdogArg = "__watchdog"

// watchdogDeathSignal is the watchdog's parent-death signal, its second line
// of defence should the pipe never reach end of file (its write end leaked
// into another process). Its default action is to be ignored, so it cannot
// kill the watchdog before the watchdog is ready to handle it.
const watchdogDeathSignal = syscall.SIGWINCH

// orphanGrace is how long the watchdog keeps reading the pipe after its
// parent died before it kills what is registered: the messages lockstep wrote
// before dying are still in the pipe.
const orphanGrace = time.Second

// watchdogDelay is how long after the first step started the watchdog is
// started. Starting it costs about as much CPU as starting lockstep, which a
// short `lockstep exec` would feel on a small machine; with the delay, a
// lockstep that is done within it never starts one. The price is a window:
// kill -9 of lockstep within watchdogDelay of its first step reaches only the
// step's direct child.
const watchdogDelay = 10 * time.Millisecond

// watchdogWriteTimeout bounds a write to the watchdog's pipe (which blocks
// only once the pipe is full, that is when the watchdog stopped reading).
const watchdogWriteTimeout = time.Second

// lingerPoll is how often lockstep checks whether a group that outlived its
// leader is empty yet.
const lingerPoll = 100 * time.Millisecond

// WatchdogMain runs the watchdog: it reads registrations from r (lockstep's
// pipe, the watchdog's stdin) until end of file, then kills every group still
// registered and returns the exit code, 0. It ignores SIGINT, SIGTERM and
// SIGHUP: only the end of lockstep ends it.
func WatchdogMain(r io.Reader) int {
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	parent := os.Getppid()
	died := make(chan os.Signal, 1)
	signal.Notify(died, watchdogDeathSignal)
	groups := newGroupSet()
	eof := make(chan struct{})
	go func() {
		groups.read(r)
		close(eof)
	}()
	for {
		select {
		case <-eof:
			groups.killAll()
			return 0
		case <-died:
			if os.Getppid() == parent {
				continue // a thread of lockstep exited, not lockstep
			}
			grace := time.NewTimer(orphanGrace)
			select {
			case <-eof:
			case <-grace.C:
			}
			groups.killAll()
			return 0
		}
	}
}

// groupSet is the watchdog's set of registered process groups.
type groupSet struct {
	mu sync.Mutex
	m  map[int]struct{}
}

func newGroupSet() *groupSet { return &groupSet{m: make(map[int]struct{})} }

// read applies "+PGID" and "-PGID" lines from r until end of file or a read
// error. Malformed lines and ids that do not name a single foreign group
// (≤ 1, or the watchdog's own) are ignored.
func (s *groupSet) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) < 2 {
			continue
		}
		pgid, err := strconv.Atoi(string(line[1:]))
		if err != nil || pgid <= 1 || pgid == os.Getpid() {
			continue
		}
		s.mu.Lock()
		switch line[0] {
		case '+':
			s.m[pgid] = struct{}{}
		case '-':
			delete(s.m, pgid)
		}
		s.mu.Unlock()
	}
}

// killAll sends SIGKILL to every registered group and returns their ids.
func (s *groupSet) killAll() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	killed := make([]int, 0, len(s.m))
	for pgid := range s.m {
		_ = syscall.Kill(-pgid, syscall.SIGKILL) // ESRCH: emptied meanwhile
		killed = append(killed, pgid)
		delete(s.m, pgid)
	}
	return killed
}

// watchdogClient is lockstep's side: it writes registrations to the pipe and
// watches groups that outlived their leader until they are empty. Errors are
// logged at debug level and disable it; they are never fatal, since the
// step's direct child still has its parent-death signal.
type watchdogClient struct {
	log     hclog.Logger
	mu      sync.Mutex
	w       *os.File         // the pipe's write end; nil once disabled
	linger  map[int]struct{} // reaped leaders whose groups still have members
	polling bool             // a pollLingering goroutine runs
	pid     int              // the watchdog's pid once started (for tests)
}

func newWatchdogClient(w *os.File, log hclog.Logger) *watchdogClient {
	return &watchdogClient{log: log, w: w, linger: make(map[int]struct{})}
}

// started registers the group of a step that has just been started.
func (c *watchdogClient) started(pgid int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.linger, pgid) // the id was free again, so that group is gone
	c.writeLocked('+', pgid)
}

// reaped is called once the group's leader has been reaped: the group is
// deregistered now if it is empty, otherwise once it is.
func (c *watchdogClient) reaped(pgid int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !groupAlive(pgid) {
		c.writeLocked('-', pgid)
		return
	}
	c.linger[pgid] = struct{}{}
	if !c.polling {
		c.polling = true
		go c.pollLingering()
	}
}

// pollLingering deregisters lingering groups as they become empty and
// returns when none is left.
func (c *watchdogClient) pollLingering() {
	tick := time.NewTicker(lingerPoll)
	defer tick.Stop()
	for range tick.C {
		c.mu.Lock()
		for pgid := range c.linger {
			if !groupAlive(pgid) {
				delete(c.linger, pgid)
				c.writeLocked('-', pgid)
			}
		}
		if len(c.linger) == 0 {
			c.polling = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
	}
}

func (c *watchdogClient) writeLocked(op byte, pgid int) {
	if c.w == nil {
		return
	}
	// One write of at most PIPE_BUF bytes: it lands whole or not at all, so
	// the watchdog never reads half an id.
	msg := strconv.AppendInt([]byte{op}, int64(pgid), 10)
	// A watchdog that stopped reading (SIGSTOP) must not stall the steps.
	_ = c.w.SetWriteDeadline(time.Now().Add(watchdogWriteTimeout))
	if _, err := c.w.Write(append(msg, '\n')); err != nil {
		c.disableLocked("watchdog unreachable; a killed lockstep now takes only its steps' direct children with it", err)
	}
}

// disable stops writing; the watchdog then sees end of file (if it still
// runs) with nothing registered that was deregistered in time.
func (c *watchdogClient) disable(msg string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.disableLocked(msg, err)
}

func (c *watchdogClient) disableLocked(msg string, err error) {
	if c.w == nil {
		return
	}
	c.log.Debug(msg, "error", err)
	c.w.Close()
	c.w = nil
}

// groupAlive reports whether any process of group pgid still exists.
func groupAlive(pgid int) bool { return syscall.Kill(-pgid, 0) == nil }

// watchdogEnv is lockstep's environment, with the race detector's one-second
// sleep at exit turned off (it matters only for -race test builds, where the
// watchdog would otherwise outlive lockstep by a second).
func watchdogEnv() []string {
	env := os.Environ()
	race := "atexit_sleep_ms=0"
	if v, ok := os.LookupEnv("GORACE"); ok && v != "" {
		race = v + " " + race
	}
	return append(env, "GORACE="+race)
}

// watchdog is the process-wide watchdog state.
var watchdog struct {
	mu      sync.Mutex
	enabled bool
	log     hclog.Logger
	client  *watchdogClient // nil until the first step, or when it cannot start
	tried   bool
}

// EnableWatchdog makes StartProcess start the watchdog with the first step
// process. Only a program whose main dispatches WatchdogArg to WatchdogMain
// may call it: the watchdog is this very executable re-executed. log receives
// debug lines about the watchdog (nil discards them). Calling it again only
// replaces the logger.
func EnableWatchdog(log hclog.Logger) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	watchdog.mu.Lock()
	defer watchdog.mu.Unlock()
	watchdog.enabled, watchdog.log = true, log
}

// currentWatchdog returns the watchdog client, starting the watchdog on first
// use; nil when the watchdog is not enabled or could not be set up.
func currentWatchdog() *watchdogClient {
	watchdog.mu.Lock()
	defer watchdog.mu.Unlock()
	if !watchdog.enabled || watchdog.tried {
		return watchdog.client
	}
	watchdog.tried = true
	r, w, err := os.Pipe()
	if err != nil {
		watchdog.log.Debug("cannot start the watchdog; a killed lockstep takes only its steps' direct children with it", "error", err)
		return nil
	}
	c := newWatchdogClient(w, watchdog.log)
	watchdog.client = c
	// Steps do not wait for the watchdog: the pipe buffers their messages
	// until it reads them.
	time.AfterFunc(watchdogDelay, func() { runWatchdog(c, r) })
	return c
}

// runWatchdog starts the watchdog process reading r and reaps it when it
// exits. If it cannot start, or exits early, the client is disabled.
func runWatchdog(c *watchdogClient, r *os.File) {
	cmd := &exec.Cmd{
		Path:  "/proc/self/exe",                  // this executable, even if its file was replaced
		Args:  []string{"lockstep", WatchdogArg}, // argv[0] is how test binaries dispatch
		Stdin: r,
		Env:   watchdogEnv(),
		SysProcAttr: &syscall.SysProcAttr{
			Setpgid:   true, // out of reach of the terminal's Ctrl-C and of lockstep's group
			Pdeathsig: watchdogDeathSignal,
		},
	}
	err := cmd.Start()
	r.Close()
	if err != nil {
		c.disable("cannot start the watchdog; a killed lockstep takes only its steps' direct children with it", err)
		return
	}
	c.log.Debug("watchdog started", "pid", cmd.Process.Pid)
	c.mu.Lock()
	c.pid = cmd.Process.Pid
	c.mu.Unlock()
	err = cmd.Wait()
	c.disable("watchdog exited; a killed lockstep now takes only its steps' direct children with it", err)
}
