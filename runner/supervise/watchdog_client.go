//go:build unix

package supervise

import (
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// watchdogWriteTimeout bounds a write to the watchdog's pipe (which blocks
// only once the pipe is full, that is when the watchdog stopped reading).
const watchdogWriteTimeout = time.Second

// lingerPoll is how often lockstep checks whether a group that outlived its
// leader is empty yet.
const lingerPoll = 100 * time.Millisecond

// watchdogDelay is how long after a command starts the watchdog is started,
// if some command's group is still registered then (platformWatchdogDelay;
// tests set 0 to run Linux as macOS runs). 0 means before the first command
// starts.
var watchdogDelay time.Duration = platformWatchdogDelay

// watchdogClient is lockstep's side: it writes registrations to the pipe and
// watches groups that outlived their leader until they are empty. Errors are
// logged at debug level and disable it; they are never fatal.
type watchdogClient struct {
	log     hclog.Logger
	mu      sync.Mutex
	w       *os.File         // the pipe's write end; nil once disabled
	linger  map[int]struct{} // reaped leaders whose groups still have members
	polling bool             // a pollLingering goroutine runs
	proc    *os.Process      // the watchdog once started

	// The delayed start (watchdogDelay > 0): the pipe's read end until the
	// watchdog starts, and whether a start is scheduled. live holds the
	// groups registered and not yet deregistered; while nobody reads the
	// pipe they are only noted there (a pipe written and never read would
	// fill up after a few thousand quick commands), and delayedStart writes
	// them before it starts the watchdog. A start that finds none is put off
	// until the next command.
	pending *os.File
	armed   bool
	live    map[int]struct{}
}

func newWatchdogClient(w *os.File, log hclog.Logger) *watchdogClient {
	return &watchdogClient{log: log, w: w, linger: make(map[int]struct{}), live: make(map[int]struct{})}
}

// started registers the group of a command that has just been started.
func (c *watchdogClient) started(pgid int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.linger, pgid) // the id was free again, so that group is gone
	c.live[pgid] = struct{}{}
	if c.pending == nil {
		c.writeLocked('+', pgid)
	} else if !c.armed {
		c.armed = true
		time.AfterFunc(watchdogDelay, c.delayedStart)
	}
}

// deregisterLocked tells the watchdog that group pgid is empty.
func (c *watchdogClient) deregisterLocked(pgid int) {
	delete(c.live, pgid)
	if c.pending == nil {
		c.writeLocked('-', pgid)
	}
}

// delayedStart starts the watchdog watchdogDelay after a command started,
// if some group is still registered: a lockstep whose commands all ended
// within the delay (a short exec, a run of quick steps) never pays for one.
// Any command that starts while no start is scheduled schedules one.
func (c *watchdogClient) delayedStart() {
	c.mu.Lock()
	c.armed = false
	r := c.pending
	if r == nil || len(c.live) == 0 {
		c.mu.Unlock()
		return
	}
	c.pending = nil
	for pgid := range c.live {
		c.writeLocked('+', pgid) // the pipe is empty: these cannot block
	}
	c.mu.Unlock()
	if cmd := startWatchdog(c, r); cmd != nil {
		awaitWatchdog(c, cmd)
	}
}

// reaped is called once the group's leader has been reaped: the group is
// deregistered now if it is empty, otherwise once it is.
func (c *watchdogClient) reaped(pgid int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !groupAlive(pgid) {
		c.deregisterLocked(pgid)
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
				c.deregisterLocked(pgid)
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
	// A watchdog that stopped reading (SIGSTOP) must not stall the commands.
	_ = c.w.SetWriteDeadline(time.Now().Add(watchdogWriteTimeout))
	if _, err := c.w.Write(append(msg, '\n')); err != nil {
		// Closing the pipe alone would leave a stalled watchdog that
		// resumes to read its end as lockstep's death, and kill the groups
		// of commands still running: it is ended first.
		c.killWatchdogLocked()
		c.disableLocked("watchdog unreachable; "+uncovered, err)
	}
}

// killWatchdogLocked ends the watchdog process, if one was started (one that
// starts later is ended by startWatchdog, which finds the client disabled).
// SIGKILL ends a stopped process too.
func (c *watchdogClient) killWatchdogLocked() {
	if c.proc != nil {
		_ = c.proc.Kill()
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
	if c.pending != nil {
		c.pending.Close()
		c.pending = nil
	}
}

// watchdog is the process-wide watchdog state.
var watchdog struct {
	mu      sync.Mutex
	enabled bool
	log     hclog.Logger
	client  *watchdogClient // nil until the first command, or when it cannot start
	tried   bool
}

// EnableWatchdog makes Start start the watchdog for the commands (before the
// first one, or watchdogDelay after a command starts while one runs). Only
// a program whose main dispatches WatchdogArg to WatchdogMain may call it:
// the watchdog is this very executable re-executed. log receives debug lines
// about the watchdog (nil discards them). Calling it again only replaces the
// logger. Without it, a killed lockstep takes only its commands themselves
// with it on Linux, and nothing on macOS and other Unix systems.
func EnableWatchdog(log hclog.Logger) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	watchdog.mu.Lock()
	defer watchdog.mu.Unlock()
	watchdog.enabled, watchdog.log = true, log
}

// currentWatchdog returns the watchdog client, arranging the watchdog's start
// on first use; nil when the watchdog is not enabled or could not be set up.
// The commands never wait for the watchdog to run: the pipe buffers their
// messages until it reads them.
func currentWatchdog() *watchdogClient {
	watchdog.mu.Lock()
	defer watchdog.mu.Unlock()
	if !watchdog.enabled || watchdog.tried {
		return watchdog.client
	}
	watchdog.tried = true
	r, w, err := os.Pipe()
	if err != nil {
		watchdog.log.Debug("cannot start the watchdog; "+uncovered, "error", err)
		return nil
	}
	c := newWatchdogClient(w, watchdog.log)
	watchdog.client = c
	if watchdogDelay > 0 {
		c.pending = r // started by delayedStart, which commands schedule
	} else if cmd := startWatchdog(c, r); cmd != nil {
		go awaitWatchdog(c, cmd)
	}
	return c
}

// startWatchdog starts the watchdog process reading r. If it cannot start,
// the client is disabled and the result is nil.
func startWatchdog(c *watchdogClient, r *os.File) *exec.Cmd {
	cmd, err := watchdogCommand()
	if err == nil {
		cmd.Args = []string{"lockstep", WatchdogArg} // argv[0] is how test binaries dispatch
		cmd.Stdin = r
		cmd.Env = watchdogEnv()
		err = cmd.Start()
	}
	r.Close()
	if err != nil {
		c.disable("cannot start the watchdog; "+uncovered, err)
		return nil
	}
	c.log.Debug("watchdog started", "pid", cmd.Process.Pid)
	c.mu.Lock()
	c.proc = cmd.Process
	if c.w == nil { // a write gave up while it started
		c.killWatchdogLocked()
	}
	c.mu.Unlock()
	return cmd
}

// awaitWatchdog reaps the watchdog when it exits and disables the client.
func awaitWatchdog(c *watchdogClient, cmd *exec.Cmd) {
	err := cmd.Wait()
	c.disable("watchdog exited; "+uncovered, err)
}

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
