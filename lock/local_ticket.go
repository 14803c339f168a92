package lock

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// ticketFile is a ticket this process put in a queue. Its file stays open
// and locked until the ticket leaves the queue (release, cancel, supersede)
// or the process dies; the OS then drops the lock and the ticket counts as
// gone.
type ticketFile struct {
	l    *Local
	key  string
	dir  string // the key's directory
	t    ticket
	path string
	id   fileID
	meta ticketMeta

	mu      sync.Mutex
	f       osFile // noFile once closed
	written bool   // the content is on disk
	bell    *doorbell
	lease   Lease      // once it holds the lock
	lost    chan error // receives the watcher's loss report (buffered 1)
	gone    bool       // lost was sent, or the ticket left
	killed  chan struct{}
	finish  []func() // tidying left by inline waits, run by leave
}

// enqueue puts a ticket for req at the end of its key's queue.
func (l *Local) enqueue(req Request) (*ticketFile, error) {
	dir := l.lockDir(req.Key)
	tf := &ticketFile{l: l, key: req.Key, dir: dir, f: noFile, lost: make(chan error, 1), killed: make(chan struct{})}
	tf.meta = ticketMeta{Holder: req.Holder, Key: req.Key, Limit: req.Limit, Queue: req.Queue, TokenHash: tokenHash(req.Token)}
	tf.meta.Mode, tf.meta.Since, tf.meta.TTL = req.Mode, time.Now(), 0
	create := func(seq int64) error {
		tf.t = ticket{seq: seq, mode: req.Mode, limit: req.Limit, queue: req.Queue, name: ticketName(seq, req.Mode, req.Limit, req.Queue)}
		tf.path = filepath.Join(dir, tf.t.name)
		f, err := createFile(tf.path)
		if err != nil {
			return err
		}
		// Waits only while an inspector probes the new file.
		if err := f.lockExclusive(); err != nil {
			f.close()
			removeFile(tf.path)
			return err
		}
		tf.f = f
		if req.Queue == Newest {
			// Written before the counter's lock goes, so that an older
			// waiter it supersedes can always name it (supersededBy).
			tf.meta.Fence = seq
			return tf.write(time.Time{})
		}
		return nil
	}
	seq, err := l.nextFence(req.Key, create)
	// A key not seen yet, or collected meanwhile (local_gc.go).
	for i := 0; errors.Is(err, fs.ErrNotExist) && tf.f == noFile && i < maxReopen; i++ {
		if err = l.mkKeyDir(dir); err == nil {
			seq, err = l.nextFence(req.Key, create)
		}
	}
	if err == nil {
		tf.id, err = tf.f.id()
	}
	if err != nil {
		tf.leave()
		return nil, err
	}
	tf.meta.Fence = seq
	l.track(tf, true)
	return tf, nil
}

// mkKeyDir makes a key's directory, and the lock directory again if it was
// removed while this process runs.
func (l *Local) mkKeyDir(dir string) error {
	err := os.Mkdir(dir, 0o700)
	if errors.Is(err, fs.ErrNotExist) {
		for _, d := range []string{l.dir, filepath.Join(l.dir, "locks")} {
			if err := ensureDir(d); err != nil {
				return fmt.Errorf("local lock dir %q: %w", d, err)
			}
		}
		err = os.Mkdir(dir, 0o700)
		if underTemp(l.dir) {
			holdDir(l.dir) // made again: a new directory to hold (heldDirs skips a held one)
		}
	}
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	return err
}

func (l *Local) track(tf *ticketFile, on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if on {
		l.tickets[tf] = true
	} else {
		delete(l.tickets, tf)
	}
}

// write puts the ticket's content on disk, or only the time it got the
// lock when the rest is there already.
func (tf *ticketFile) write(acquired time.Time) error {
	tf.mu.Lock()
	defer tf.mu.Unlock()
	if tf.f == noFile {
		return errors.New("ticket closed")
	}
	if tf.written {
		return tf.f.writeAt(acqField(acquired), 0)
	}
	if !acquired.IsZero() {
		tf.meta.Since = acquired
	}
	tf.written = true
	return tf.f.writeAt(encodeTicket(tf.meta, acquired), 0)
}

// markQueued rewrites the ticket's record with Queued set: the record is
// the same up to its end, so a reader sees the old record, a torn one it
// cannot decode, or the new one.
func (tf *ticketFile) markQueued() error {
	tf.mu.Lock()
	defer tf.mu.Unlock()
	if tf.f == noFile {
		return errors.New("ticket closed")
	}
	tf.meta.Queued, tf.written = true, true
	return tf.f.writeAt(encodeTicket(tf.meta, time.Time{}), 0)
}

// current finds the ticket's file: its path, or the revoked name a
// ForceRelease from another process gave it. ok is false when neither
// names the file this ticket holds (the directory was removed or replaced).
func (tf *ticketFile) current() (path string, revoked, ok bool) {
	if id, err := pathID(tf.path); err == nil && id == tf.id {
		return tf.path, false, true
	}
	if id, err := pathID(tf.path + revokedSuffix); err == nil && id == tf.id {
		return tf.path + revokedSuffix, true, true
	}
	return "", false, false
}

// valid reports whether the ticket still names its file and is not revoked.
func (tf *ticketFile) valid() bool {
	_, revoked, ok := tf.current()
	return ok && !revoked
}

// leave takes the ticket out of the queue: its file goes, then its lock,
// which wakes the tickets waiting behind it. (A waiter that finds the file
// still there after the lock went knows its owner died, and removes it.)
// It reports whether the ticket was still valid: neither revoked nor cut
// off from its directory.
func (tf *ticketFile) leave() bool {
	tf.mu.Lock()
	defer tf.mu.Unlock()
	valid := false
	if tf.f != noFile {
		path, revoked, ok := tf.current()
		valid = ok && !revoked
		if ok {
			removeFile(path)
		}
		tf.f.close()
		tf.f = noFile
	}
	if tf.bell != nil {
		tf.bell.close()
		tf.bell = nil
	}
	for _, f := range tf.finish {
		f()
	}
	tf.finish = nil
	tf.gone = true
	tf.l.track(tf, false)
	return valid
}

// kill closes the ticket's file without removing it, as the death of the
// process would (test hook).
func (tf *ticketFile) kill() {
	tf.mu.Lock()
	defer tf.mu.Unlock()
	if tf.f != noFile {
		tf.f.close()
		tf.f = noFile
	}
	if tf.bell != nil {
		tf.bell.close()
		tf.bell = nil
	}
	select {
	case <-tf.killed:
	default:
		close(tf.killed)
	}
}

// reportLost tells the lease's watcher channel, once, that it is lost.
func (tf *ticketFile) reportLost(err error) {
	tf.mu.Lock()
	defer tf.mu.Unlock()
	if !tf.gone {
		tf.gone = true
		tf.lost <- err
	}
}
