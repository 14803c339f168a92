package lock

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Acquire takes a free slot of req.Key (one slot per Limit). A waiting
// request tries again after a pause growing from 1ms to PollMax; it is not
// served in arrival order. Cancelling ctx returns ctx's error and leaves
// nothing behind. Acquire is idempotent for a token this process holds.
func (l *Local) Acquire(ctx context.Context, req Request) (*Lease, error) {
	if err := req.Normalize(); err != nil {
		return nil, fmt.Errorf("acquire: %w", err)
	}
	if err := errNotYet(req); err != nil {
		return nil, err
	}
	start := time.Now()
	pause, lastWait := time.Millisecond, time.Time{}
	for {
		lease, err := l.tryAcquire(req)
		if err != nil || lease != nil {
			return lease, err
		}
		if req.Wait == 0 {
			hs, _ := l.Holders(ctx, req.Key)
			return nil, &BusyError{Key: req.Key, Holders: hs}
		}
		if req.OnWait != nil && time.Since(lastWait) > 5*time.Second {
			hs, _ := l.Holders(ctx, req.Key)
			req.OnWait(hs)
			lastWait = time.Now()
		}
		wait := pause
		if req.Wait > 0 {
			left := req.Wait - time.Since(start)
			if left <= 0 {
				hs, _ := l.Holders(ctx, req.Key)
				return nil, &BusyError{Key: req.Key, Holders: hs, Waited: time.Since(start), Timeout: true}
			}
			wait = min(wait, left)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("acquire %q: %w", req.Key, ctx.Err())
		case <-t.C:
		}
		pause = min(pause*2, l.pollMax)
	}
}

// tryAcquire takes the first free slot, or returns nil, nil when all are taken.
func (l *Local) tryAcquire(req Request) (*Lease, error) {
	id := l.heldID(req.Key, req.Token)
	held.Lock()
	defer held.Unlock()
	if h, ok := held.m[id]; ok {
		if l.own(req.Key, req.Token) != nil {
			lease := h.lease
			return &lease, nil
		}
		// Force-released by another process: the old lease is revoked, so
		// this is a fresh acquisition with a new fence.
		h.f.Close()
		delete(held.m, id)
	}
	if err := os.MkdirAll(l.lockDir(req.Key), 0o700); err != nil {
		return nil, unavailable(fmt.Sprintf("acquire %q", req.Key), err)
	}
	if kf := filepath.Join(l.lockDir(req.Key), "key"); !fileExists(kf) {
		if err := writeFile(kf, []byte(req.Key)); err != nil {
			return nil, unavailable(fmt.Sprintf("acquire %q", req.Key), err)
		}
	}
	for i := range req.Limit {
		f, err := os.OpenFile(l.slotPath(req.Key, i), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, unavailable(fmt.Sprintf("acquire %q", req.Key), err)
		}
		if ok, err := flockNB(f, syscall.LOCK_EX); !ok {
			f.Close()
			if err != nil {
				return nil, unavailable(fmt.Sprintf("acquire %q", req.Key), err)
			}
			continue
		}
		lease, err := l.take(req, f, i)
		if err != nil {
			f.Close()
			return nil, unavailable(fmt.Sprintf("acquire %q", req.Key), err)
		}
		held.m[id] = &heldSlot{f: f, slot: i, lease: *lease}
		return lease, nil
	}
	return nil, nil
}

// take records a new holder of the flocked slot i.
func (l *Local) take(req Request, f *os.File, i int) (*Lease, error) {
	fence, err := l.nextFence(req.Key)
	if err != nil {
		return nil, err
	}
	m := localMeta{Holder: req.Holder, Key: req.Key, Limit: req.Limit, TokenHash: tokenHash(req.Token)}
	m.Since, m.TTL, m.Fence = time.Now(), 0, fence
	b, _ := json.Marshal(m)
	if err := writeFile(l.slotPath(req.Key, i)+".json", b); err != nil {
		return nil, err
	}
	return &Lease{Key: req.Key, Token: req.Token, Fence: fence, TTL: req.TTL, Limit: req.Limit}, nil
}

// own returns this process's slot for key and token if it is still valid
// (not revoked by ForceRelease). Callers hold held's lock.
func (l *Local) own(key, token string) *heldSlot {
	h, ok := held.m[l.heldID(key, token)]
	if !ok {
		return nil
	}
	m, err := l.readMeta(key, h.slot)
	if err != nil || m.TokenHash != tokenHash(token) {
		return nil
	}
	return h
}

func (l *Local) readMeta(key string, i int) (localMeta, error) {
	var m localMeta
	b, err := os.ReadFile(l.slotPath(key, i) + ".json")
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	return m, err
}

// Check reports whether token holds key in this process.
func (l *Local) Check(ctx context.Context, key, token string) error {
	held.Lock()
	defer held.Unlock()
	if l.own(key, token) == nil {
		return fmt.Errorf("check %q: %w", key, ErrNotHeld)
	}
	return nil
}

// Renew checks that token still holds key: local leases last as long as the
// process, so there is nothing to extend. ErrNotHeld after a release or a
// ForceRelease.
func (l *Local) Renew(ctx context.Context, key, token string, ttl time.Duration) error {
	held.Lock()
	defer held.Unlock()
	if l.own(key, token) == nil {
		return fmt.Errorf("renew %q: %w", key, ErrNotHeld)
	}
	return nil
}

// Release drops token's slot of key. ErrNotHeld when this process does not
// hold it (the slot of a revoked holder is still freed).
func (l *Local) Release(ctx context.Context, key, token string) error {
	held.Lock()
	defer held.Unlock()
	id := l.heldID(key, token)
	h, ok := held.m[id]
	if !ok {
		return fmt.Errorf("release %q: %w", key, ErrNotHeld)
	}
	valid := l.own(key, token) != nil
	if valid {
		os.Remove(l.slotPath(key, h.slot) + ".json")
	}
	delete(held.m, id)
	h.f.Close() // drops the flock
	if !valid {
		return fmt.Errorf("release %q: %w", key, ErrNotHeld)
	}
	return nil
}

// slotHeld probes slot i of key: true when some open file holds its flock.
func (l *Local) slotHeld(key string, i int) bool {
	f, err := os.Open(l.slotPath(key, i))
	if err != nil {
		return false
	}
	defer f.Close()
	ok, err := flockNB(f, syscall.LOCK_SH)
	if ok {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	}
	return !ok && err == nil
}

// slots lists the slot numbers that exist for key.
func (l *Local) slots(key string) []int {
	names, _ := filepath.Glob(filepath.Join(l.lockDir(key), "slot.*"))
	var out []int
	for _, n := range names {
		var i int
		if _, err := fmt.Sscanf(filepath.Base(n), "slot.%d", &i); err == nil && !strings.HasSuffix(n, ".json") && !strings.Contains(filepath.Base(n), ".tmp") {
			out = append(out, i)
		}
	}
	sort.Ints(out)
	return out
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
