//go:build unix

package supervise

import (
	"bufio"
	"io"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// The watchdog makes a command's whole process group die with lockstep, also
// when lockstep is killed with SIGKILL. On Linux the parent-death signal
// Start arms reaches only the command itself; the watchdog reaches the rest
// of its group (a `sh -c` script's commands, anything a command forks). On
// macOS and other Unix systems, which have no parent-death signal, the
// watchdog covers the command itself too: killing a group kills its leader.
//
// It is one process per lockstep process: the lockstep binary re-executed
// with WatchdogArg, in a process group of its own, reading a pipe from
// lockstep. lockstep writes "+PGID\n" when a command's group starts and
// "-PGID\n" once that group is empty (its leader reaped and no member left).
// When the pipe reaches end of file, lockstep is gone (however it died: the
// kernel closes its end), and the watchdog sends SIGKILL to every group still
// registered and exits. After a normal exit of lockstep no group is
// registered unless a command left processes running in its group, which are
// then killed too. On Linux it reads the registrations every drainEvery, not
// as each comes (that woke it twice a step), and at once when the pipe hangs
// up (registrations, watchdog_drain_linux.go).
//
// Killing only registered groups is safe against PID reuse: POSIX systems do
// not hand out a PID while it is still some process group's id, and a group
// is deregistered as soon as lockstep sees it empty: right after reaping its
// leader, or within lingerPoll for a group that outlived its leader (reusing
// the id that soon would take the kernel's pids wrapping around).
//
// Should the pipe never reach end of file (its write end leaked into a
// process that outlives lockstep), the watchdog has a second line of defence
// of its own OS (parentDeath): Linux's parent-death signal, kqueue's
// NOTE_EXIT on macOS, polling getppid elsewhere.

// orphanGrace is how long the watchdog keeps reading the pipe after its
// parent died before it kills what is registered: the messages lockstep wrote
// before dying are still in the pipe.
const orphanGrace = time.Second

// WatchdogMain runs the watchdog: it reads registrations from r (lockstep's
// pipe, the watchdog's stdin) until end of file, then kills every group still
// registered and returns the exit code, 0. It ignores SIGINT, SIGTERM and
// SIGHUP: only the end of lockstep ends it.
func WatchdogMain(r io.Reader) int {
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	orphaned := parentDeath()
	groups := newGroupSet()
	eof := make(chan struct{})
	go func() {
		groups.read(registrations(r))
		close(eof)
	}()
	select {
	case <-eof:
	case <-orphaned:
		grace := time.NewTimer(orphanGrace)
		select {
		case <-eof:
		case <-grace.C:
		}
	}
	groups.killAll()
	return 0
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
