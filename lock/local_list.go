package lock

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Show returns key's holders and its waiters in order, as their ticket
// files describe them. Tickets whose owners died are left out.
func (l *Local) Show(ctx context.Context, key string) (LockInfo, error) {
	li, err := l.show(l.lockDir(key))
	li.Key = key
	if err != nil {
		return li, unavailable(fmt.Sprintf("show %q", key), err)
	}
	return li, nil
}

func (l *Local) show(dir string) (LockInfo, error) {
	li := LockInfo{Holders: []Holder{}}
	ts, err := scanQueue(dir, nil)
	if errors.Is(err, fs.ErrNotExist) {
		return li, nil
	}
	if err != nil {
		return li, err
	}
	ts = liveTickets(dir, ts)
	li.Holders, li.Queue = queueInfo(dir, ts)
	li.Waiters = len(li.Queue)
	for i, t := range ts {
		li.Limit = max(li.Limit, t.limit)
		if i < len(li.Holders) {
			li.Mode = t.mode
		}
	}
	return li, nil
}

// List returns every held lock whose key starts with prefix, by key, with
// its waiters counted and listed. Like Release, it first removes the files
// of idle keys when no process did so for 5 minutes.
func (l *Local) List(ctx context.Context, prefix string) ([]LockInfo, error) {
	l.maybeCollect()
	dirs, err := os.ReadDir(filepath.Join(l.dir, "locks"))
	if err != nil {
		return nil, unavailable("list locks", err)
	}
	var out []LockInfo
	for _, d := range dirs {
		li, err := l.show(filepath.Join(l.dir, "locks", d.Name()))
		if err != nil || len(li.Holders) == 0 {
			continue
		}
		li.Key = l.keyOf(d.Name(), li)
		if li.Key != "" && strings.HasPrefix(li.Key, prefix) {
			out = append(out, li)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// keyOf finds the key of the lock directory name in its tickets' files.
func (l *Local) keyOf(name string, li LockInfo) string {
	ts, _ := scanQueue(filepath.Join(l.dir, "locks", name), nil)
	for _, t := range ts {
		if m, ok := readTicket(filepath.Join(l.dir, "locks", name, t.name)); ok && hashName(m.Key) == name {
			return m.Key
		}
	}
	return ""
}

// ForceRelease revokes every holder of key. A holder in this process loses
// its lock at once (its Lost channel says so) and the waiters move up. A
// holder in another process cannot be unlocked from outside: its ticket is
// renamed, so that it notices within about 100 ms (Lost, Check and Renew
// report ErrNotHeld; lockstep then stops its step and releases); the
// waiters move up when it lets go or exits. ErrNotHeld when key was free.
func (l *Local) ForceRelease(ctx context.Context, key string) error {
	dir := l.lockDir(key)
	ts, err := scanQueue(dir, nil)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return unavailable(fmt.Sprintf("force-release %q", key), err)
	}
	n := 0
	for _, t := range holdersOnly(liveTickets(dir, ts)) {
		if tf := l.heldBySeq(key, t.seq); tf != nil {
			tf.reportLost(fmt.Errorf("lock %q: force-released: %w", key, ErrNotHeld))
			tf.leave()
			n++
			continue
		}
		if t.revoked || os.Rename(filepath.Join(dir, t.name), filepath.Join(dir, t.name+revokedSuffix)) == nil {
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("force-release %q: %w", key, ErrNotHeld)
	}
	return nil
}

// heldBySeq takes the ticket seq of key out of this process's holdings.
func (l *Local) heldBySeq(key string, seq int64) *ticketFile {
	held.Lock()
	defer held.Unlock()
	for id, tf := range held.m {
		if tf.l.dir == l.dir && tf.key == key && tf.t.seq == seq {
			delete(held.m, id)
			return tf
		}
	}
	return nil
}
