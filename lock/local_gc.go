package lock

// Collection of the local backend's idle per-key state (docs/locks.md,
// "Nothing grows forever"). A key's directory holds its fencing counter and
// the tickets of its queue. Once nobody holds, waits for or queues on a key
// and its directory has not changed for keepIdle, a sweep removes it; the
// same sweep removes once markers whose TTL ran out and the wait records of
// processes that are gone. A sweep runs at most once per keepIdle/2 among
// all the processes sharing the lock directory, from Release and List: no
// daemon.
//
// The race with an acquirer. Tickets are created only under the exclusive
// lock of the counter file that the key's path names at that moment:
// lockCounter checks, once it holds the lock, that the path still names the
// file it locked, and opens the path again otherwise. The collector takes
// the same lock, checks again that the key is idle and that no ticket is
// live, and removes the files, the counter last, then the directory. An
// acquirer that opened the counter before it went finds it unlinked once it
// gets the lock and starts over in a new directory, where the counter
// restarts at the clock (fenceBase), above every fence the old one gave
// out.

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

const (
	// localKeepIdle is how long the files of a key nobody uses are kept.
	localKeepIdle = 10 * time.Minute
	fenceName     = "fence" // a key's counter, in its directory
	sweptName     = "swept" // in the lock directory: its mtime is the last sweep
	retiredSuffix = ".gc"   // a counter being removed (Windows renames it first)
	// sweepBudget bounds the time one sweep takes out of a Release.
	sweepBudget = 20 * time.Millisecond
	// maxReopen bounds the attempts at a counter or key directory that
	// collectors keep removing (each attempt needs a whole collection).
	maxReopen = 100
)

// localGC is a Local's state for collection.
type localGC struct {
	keepIdle  time.Duration
	nextSweep atomic.Int64 // UnixNano before which Release does not look

	hook           func(stage string) // test hook, called at points of an acquire; nil in use
	noCounterCheck bool               // test hook: lockCounter's check off (the canary)
}

func (l *Local) stage(s string) {
	if l.gc.hook != nil {
		l.gc.hook(s)
	}
}

// lockCounter opens the counter at path (creating it) and takes its
// exclusive lock. A collector may have removed the counter, and its
// directory, between the open and the lock: a counter cut off from its
// directory orders nothing, so the path is opened again (and fails with
// fs.ErrNotExist when the directory went: enqueue then makes it again).
func (l *Local) lockCounter(path string) (osFile, error) {
	for range maxReopen {
		f, err := openCounter(path)
		if err != nil {
			return noFile, err
		}
		l.stage("opened")
		if err := f.lockExclusive(); err != nil {
			f.close()
			return noFile, err
		}
		if l.gc.noCounterCheck || namesFile(path, f) {
			return f, nil
		}
		f.close()
	}
	return noFile, fmt.Errorf("%s: removed again and again while it was being opened", path)
}

// namesFile says whether path names the file f has open.
func namesFile(path string, f osFile) bool {
	pid, err := pathID(path)
	if err != nil {
		return false
	}
	id, err := f.id()
	return err == nil && id == pid
}

// maybeCollect sweeps the lock directory unless a process swept it less
// than keepIdle/2 ago. Between sweeps it costs a clock reading. A sweep
// works for sweepBudget at most; one that stops short has the next one due
// after a sixteenth of the interval.
func (l *Local) maybeCollect() {
	now := time.Now()
	if now.UnixNano() < l.gc.nextSweep.Load() {
		return
	}
	every := l.gc.keepIdle / 2
	l.gc.nextSweep.Store(now.Add(every).UnixNano())
	f, ok := l.claimSweep(now, every)
	if !ok {
		return
	}
	n, complete := l.collect(now, sweepBudget)
	f.close()
	if !complete {
		soon := now.Add(every / 16)
		l.gc.nextSweep.Store(soon.UnixNano())
		at := soon.Add(-every)
		os.Chtimes(filepath.Join(l.dir, sweptName), at, at)
	}
	l.log.Debug("swept the lock directory", "keys removed", n, "complete", complete, "took", time.Since(now))
}

// claimSweep takes the sweep on unless another process swept less than
// every ago (the mtime of <dir>/swept says when) or sweeps right now (it
// holds the file's lock). f is the locked file, to close after the sweep.
func (l *Local) claimSweep(now time.Time, every time.Duration) (f osFile, ok bool) {
	path := filepath.Join(l.dir, sweptName)
	if l.sweptWithin(path, now, every) {
		return noFile, false
	}
	f, err := openCounter(path)
	if err != nil {
		return noFile, false
	}
	if ok, _ := f.tryExclusive(); !ok || l.sweptWithin(path, now, every) || f.writeAt(acqField(now), 0) != nil {
		f.close()
		return noFile, false
	}
	return f, true
}

// sweptWithin says whether the sweep file at path was written less than
// every from now (a time far in the future counts as stale: a clock that
// was stepped back must not stop sweeps).
func (l *Local) sweptWithin(path string, now time.Time, every time.Duration) bool {
	fi, err := os.Lstat(path)
	if err != nil {
		return false
	}
	if age := now.Sub(fi.ModTime()); age >= every || age <= -every {
		return false
	}
	l.gc.nextSweep.Store(fi.ModTime().Add(every).UnixNano())
	return true
}

// collect removes the files of every key idle for keepIdle, the once
// markers that expired and the wait records of dead processes, and returns how many keys it removed. With a
// budget, it stops once that much time went and says it did not complete.
// It starts at a random entry, so that sweeps that stop short cover every
// entry in turn.
func (l *Local) collect(now time.Time, budget time.Duration) (removed int, complete bool) {
	over := func() bool { return budget > 0 && time.Since(now) > budget }
	locks := filepath.Join(l.dir, "locks")
	complete = eachFrom(locks, func(name string) bool {
		if isHashName(name) && l.collectKey(filepath.Join(locks, name), now) {
			removed++
		}
		return !over()
	})
	if !complete {
		return removed, false
	}
	if !eachFrom(filepath.Join(l.dir, "once"), func(name string) bool {
		l.collectOnce(filepath.Join(l.dir, "once", name), now)
		return !over()
	}) {
		return removed, false
	}
	return removed, eachFrom(filepath.Join(l.dir, "waits"), func(name string) bool {
		l.collectWait(filepath.Join(l.dir, "waits", name), now)
		return !over()
	})
}

// eachFrom calls f with each name in dir, starting at a random one, until
// f returns false; it reports whether it saw every name.
func eachFrom(dir string, f func(name string) bool) bool {
	names, _ := readNames(dir)
	start := 0
	if len(names) > 0 {
		start = rand.IntN(len(names))
	}
	for i := range names {
		if !f(names[(start+i)%len(names)]) {
			return i == len(names)-1
		}
	}
	return true
}

// collectKey removes the key directory dir if nobody held, waited for or
// queued on the key for keepIdle, under the exclusive lock of its counter
// (created if missing, to have something to lock: an acquirer would create
// it too). It reports whether the directory went.
func (l *Local) collectKey(dir string, now time.Time) bool {
	if !l.idle(dir, now) {
		return false
	}
	fence := filepath.Join(dir, fenceName)
	f, err := openCounter(fence)
	if err != nil {
		return false // the directory went meanwhile
	}
	emptied := l.emptyKey(dir, fence, f, now)
	// Closed before the directory goes: on Windows an open file keeps its
	// name. Once the counter is unlinked its lock protects nothing: an
	// acquirer that opened it finds that out when it gets the lock.
	f.close()
	return emptied && os.Remove(dir) == nil
}

// emptyKey removes the files of the key directory dir, its counter (fence,
// open as f) last, if f's lock is free, fence still names f, the key is
// still idle, and none of its tickets is live.
func (l *Local) emptyKey(dir, fence string, f osFile, now time.Time) bool {
	if ok, _ := f.tryExclusive(); !ok || !namesFile(fence, f) || !l.idle(dir, now) {
		return false // an acquire holds the counter, another sweep removed it, or the key was used
	}
	names, err := listNames(dir)
	if err != nil || !settled(dir, names) {
		return false
	}
	for _, n := range names {
		if n != fenceName { // tickets of dead processes, their doorbells, leftovers
			removeFile(filepath.Join(dir, n))
		}
	}
	return retireFile(fence) == nil
}

// idle says whether dir is a real directory that has not changed for
// keepIdle: every request that queues or leaves creates or removes a ticket
// in it, and a ForceRelease renames one.
func (l *Local) idle(dir string, now time.Time) bool {
	fi, err := os.Lstat(dir)
	return err == nil && fi.IsDir() && now.Sub(fi.ModTime()) >= l.gc.keepIdle
}

// settled says whether none of the tickets among names is live (held or
// waiting) and none vanished since they were listed (it left or was
// renamed by a ForceRelease: the key is in use). It runs under the
// counter's lock, so no ticket is being created.
func settled(dir string, names []string) bool {
	for _, n := range names {
		if _, ok := parseTicket(n); !ok {
			continue
		}
		f, err := openLocked(filepath.Join(dir, n))
		if err != nil {
			return false
		}
		free, err := f.tryShared()
		f.close()
		if !free || err != nil {
			return false
		}
	}
	return true
}

// isHashName says whether name is a key directory's name (hashName).
func isHashName(name string) bool {
	if len(name) != 32 {
		return false
	}
	return strings.Trim(name, "0123456789abcdef") == ""
}

// collectOnce removes the once marker at path if its TTL ran out (Once and
// ListOnce remove those they read; this finds the others), or the
// temporary file of a MarkOnce that died, once older than keepIdle.
func (l *Local) collectOnce(path string, now time.Time) {
	name := filepath.Base(path)
	if strings.HasSuffix(name, ".json") {
		l.readOnce(path, "")
		return
	}
	fi, err := os.Lstat(path)
	if err == nil && strings.Contains(name, ".json.tmp") && fi.Mode().IsRegular() && now.Sub(fi.ModTime()) >= l.gc.keepIdle {
		removeFile(path)
	}
}

// collectWait removes the wait record at path if its process is gone:
// readWait removes a complete one; one its process never completed (it died
// creating it) goes once older than keepIdle. Only the runs of a wait-for
// cycle read each other's records, so those of a killed run that nobody
// waits on are found only here.
func (l *Local) collectWait(path string, now time.Time) {
	if _, live := readWait(path); live {
		return
	}
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() || now.Sub(fi.ModTime()) < l.gc.keepIdle {
		return
	}
	f, err := openLocked(path)
	if err != nil {
		return
	}
	defer f.close()
	if free, err := f.tryShared(); free && err == nil {
		removeFile(path)
	}
}

// readFileID reads the file at path and identifies it.
func readFileID(path string) ([]byte, fileID, error) {
	f, err := openRead(path)
	if err != nil {
		return nil, fileID{}, err
	}
	defer f.close()
	id, err := f.id()
	if err != nil {
		return nil, id, err
	}
	var b []byte
	buf := make([]byte, 4096)
	for {
		n, err := f.readAt(buf, int64(len(b)))
		b = append(b, buf[:n]...)
		if n == 0 || err != nil {
			return b, id, err
		}
	}
}

// removeIfNamed removes path if it still names the file id: a file written
// in its place meanwhile (MarkOnce renames a new one over it) stays.
func removeIfNamed(path string, id fileID) {
	if pid, err := pathID(path); err == nil && pid == id {
		removeFile(path)
	}
}
