package lock

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// held is every ticket that holds a lock in this process, by directory, key
// and token, shared by all Local values of the process. Once Lost was
// called and while held is not empty, a watcher checks every watchEvery
// that each ticket's path still names the file this process holds: a
// removed or replaced lock directory, or a ForceRelease from another
// process, is reported as a loss through Lost within about that time.
var held = struct {
	sync.Mutex
	m        map[string]*ticketFile
	watching bool
}{m: map[string]*ticketFile{}}

// watchEvery is the watcher's period: a loss is reported within it (plus
// scheduling delays), well inside the 250 ms lockstep promises.
const watchEvery = 100 * time.Millisecond

func (l *Local) heldID(key, token string) string { return l.dir + "\x00" + key + "\x00" + token }

func (l *Local) lookup(key, token string) *ticketFile {
	held.Lock()
	defer held.Unlock()
	return held.m[l.heldID(key, token)]
}

// hold records tf as holding its lock under token.
func (l *Local) hold(token string, tf *ticketFile) {
	held.Lock()
	defer held.Unlock()
	held.m[l.heldID(tf.key, token)] = tf
}

// heldLease returns the lease req.Token holds on req.Key in this process,
// if it is still valid. A revoked or cut-off one is dropped: the retried
// request then takes the lock afresh, with a new fence.
func (l *Local) heldLease(req Request) (*Lease, bool) {
	tf := l.lookup(req.Key, req.Token)
	if tf == nil {
		return nil, false
	}
	if tf.valid() {
		lease := tf.lease
		return &lease, true
	}
	l.drop(req.Key, req.Token, tf)
	tf.leave()
	return nil, false
}

func (l *Local) drop(key, token string, tf *ticketFile) {
	held.Lock()
	defer held.Unlock()
	if id := l.heldID(key, token); held.m[id] == tf {
		delete(held.m, id)
	}
}

func watchHeld() {
	t := time.NewTicker(watchEvery)
	defer t.Stop()
	for range t.C {
		held.Lock()
		if len(held.m) == 0 {
			held.watching = false
			held.Unlock()
			return
		}
		tfs := make([]*ticketFile, 0, len(held.m))
		for _, tf := range held.m {
			tfs = append(tfs, tf)
		}
		held.Unlock()
		for _, tf := range tfs {
			if !tf.valid() {
				tf.reportLost(fmt.Errorf("lock %q: its ticket in %s was removed, replaced or revoked: %w", tf.key, tf.l.dir, ErrNotHeld))
			}
		}
	}
}

// Lost implements LossWatcher: the channel receives an error wrapping
// ErrNotHeld when the lease of token on key is found lost between
// renewals (its lock directory removed or replaced, or a ForceRelease by
// another process), within about 100 ms. It never receives after a
// Release; for a lease this process does not hold it receives at once.
func (l *Local) Lost(key, token string) <-chan error {
	held.Lock()
	defer held.Unlock()
	if tf := held.m[l.heldID(key, token)]; tf != nil {
		if !held.watching {
			held.watching = true
			go watchHeld()
		}
		return tf.lost
	}
	ch := make(chan error, 1)
	ch <- fmt.Errorf("lock %q: %w", key, ErrNotHeld)
	return ch
}

// Check reports whether token holds key in this process: ErrNotHeld after
// a release, a ForceRelease, or when the lock directory was removed.
func (l *Local) Check(ctx context.Context, key, token string) error {
	if tf := l.lookup(key, token); tf == nil || !tf.valid() {
		return fmt.Errorf("check %q: %w", key, ErrNotHeld)
	}
	return nil
}

// Renew checks that token still holds key: local leases last as long as the
// process, so there is nothing to extend. ErrNotHeld as Check says.
func (l *Local) Renew(ctx context.Context, key, token string, ttl time.Duration) error {
	if tf := l.lookup(key, token); tf == nil || !tf.valid() {
		return fmt.Errorf("renew %q: %w", key, ErrNotHeld)
	}
	return nil
}

// Release takes token's ticket out of key's queue, which wakes the next
// waiter, and then, at most once per 5 minutes among the processes using
// the directory, removes the files of keys idle for 10 minutes (see
// docs/locks.md, "Nothing grows forever"). ErrNotHeld when this process
// does not hold it, or when it was revoked or cut off from its directory
// (its lock is let go all the same).
func (l *Local) Release(ctx context.Context, key, token string) error {
	held.Lock()
	id := l.heldID(key, token)
	tf := held.m[id]
	delete(held.m, id)
	held.Unlock()
	if tf == nil || !tf.leave() {
		return fmt.Errorf("release %q: %w", key, ErrNotHeld)
	}
	l.maybeCollect() // after the next waiter was woken
	return nil
}

func (l *Local) isKilled() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.killed
}

// kill makes l act as if its process died: every ticket and wait record it
// opened loses its lock without going away, and l refuses further requests (a
// test hook for the dead-waiter conformance cases).
func (l *Local) kill() {
	l.mu.Lock()
	l.killed = true
	var tfs []*ticketFile
	for tf := range l.tickets {
		tfs = append(tfs, tf)
	}
	for id, f := range l.waits {
		f.close()
		delete(l.waits, id)
	}
	l.mu.Unlock()
	for _, tf := range tfs {
		tf.kill()
	}
}
