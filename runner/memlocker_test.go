package runner

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lockstep-dev/lockstep/lock"
)

// memLocker is an in-memory lock.Locker for runner tests: semaphores with
// FIFO-ish wake-ups through a broadcast channel, TTLs checked on access, once
// markers, and counters the tests assert on.
type memLocker struct {
	mu      sync.Mutex
	locks   map[string]map[string]*memLease // key -> token -> lease
	fences  map[string]int64
	onces   map[string]lock.OnceRecord
	changed chan struct{} // closed and replaced on every release

	acquired, released int
	maxHeld            map[string]int // most holders of a key at once
}

type memLease struct {
	holder  lock.Holder
	expires time.Time
}

func newMemLocker() *memLocker {
	return &memLocker{locks: map[string]map[string]*memLease{}, fences: map[string]int64{},
		onces: map[string]lock.OnceRecord{}, changed: make(chan struct{}), maxHeld: map[string]int{}}
}

// live returns the unexpired holders of key; callers hold mu.
func (m *memLocker) live(key string) map[string]*memLease {
	hs := m.locks[key]
	for tok, l := range hs {
		if time.Now().After(l.expires) {
			delete(hs, tok)
		}
	}
	return hs
}

func (m *memLocker) holders(key string) []lock.Holder {
	var out []lock.Holder
	for _, l := range m.live(key) {
		h := l.holder
		h.TTL = time.Until(l.expires)
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Fence < out[j].Fence })
	return out
}

func (m *memLocker) Acquire(ctx context.Context, req lock.Request) (*lock.Lease, error) {
	if err := req.Normalize(); err != nil {
		return nil, err
	}
	start := time.Now()
	var deadline <-chan time.Time
	if req.Wait > 0 {
		t := time.NewTimer(req.Wait)
		defer t.Stop()
		deadline = t.C
	}
	waiting := false
	for {
		m.mu.Lock()
		hs := m.live(req.Key)
		if len(hs) < req.Limit {
			if hs == nil {
				hs = map[string]*memLease{}
				m.locks[req.Key] = hs
			}
			m.fences[req.Key]++
			h := req.Holder
			h.Since, h.Fence = time.Now(), m.fences[req.Key]
			hs[req.Token] = &memLease{holder: h, expires: time.Now().Add(req.TTL)}
			m.acquired++
			m.maxHeld[req.Key] = max(m.maxHeld[req.Key], len(hs))
			m.mu.Unlock()
			return &lock.Lease{Key: req.Key, Token: req.Token, Fence: h.Fence, TTL: req.TTL, Limit: req.Limit}, nil
		}
		holders := m.holders(req.Key)
		changed := m.changed
		m.mu.Unlock()
		if req.Wait == 0 {
			return nil, &lock.BusyError{Key: req.Key, Holders: holders}
		}
		if req.OnWait != nil && !waiting {
			req.OnWait(holders)
		}
		waiting = true
		select {
		case <-changed:
		case <-time.After(10 * time.Millisecond): // expiry of a crashed holder
		case <-deadline:
			return nil, &lock.BusyError{Key: req.Key, Holders: holders, Waited: time.Since(start), Timeout: true}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (m *memLocker) Check(ctx context.Context, key, token string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.live(key)[token] == nil {
		return lock.ErrNotHeld
	}
	return nil
}

func (m *memLocker) Renew(ctx context.Context, key, token string, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.live(key)[token]
	if l == nil {
		return fmt.Errorf("renew %q: %w", key, lock.ErrNotHeld)
	}
	l.expires = time.Now().Add(ttl)
	return nil
}

func (m *memLocker) wake() {
	close(m.changed)
	m.changed = make(chan struct{})
}

func (m *memLocker) Release(ctx context.Context, key, token string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.live(key)[token] == nil {
		return fmt.Errorf("release %q: %w", key, lock.ErrNotHeld)
	}
	delete(m.locks[key], token)
	m.released++
	m.wake()
	return nil
}

func (m *memLocker) Show(ctx context.Context, key string) (lock.LockInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return lock.LockInfo{Key: key, Holders: m.holders(key)}, nil
}

func (m *memLocker) List(ctx context.Context, prefix string) ([]lock.LockInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []lock.LockInfo
	for key := range m.locks {
		if strings.HasPrefix(key, prefix) && len(m.live(key)) > 0 {
			out = append(out, lock.LockInfo{Key: key, Holders: m.holders(key)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func (m *memLocker) ForceRelease(ctx context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.live(key)) == 0 {
		return lock.ErrNotHeld
	}
	delete(m.locks, key)
	m.wake()
	return nil
}

func (m *memLocker) MarkOnce(ctx context.Context, rec lock.OnceRecord, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec.At = time.Now()
	m.onces[rec.Key] = rec
	return nil
}

func (m *memLocker) Once(ctx context.Context, key string) (*lock.OnceRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := m.onces[key]
	if !ok {
		return nil, nil
	}
	return &rec, nil
}

func (m *memLocker) ListOnce(ctx context.Context, prefix string) ([]lock.OnceRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []lock.OnceRecord
	for k, rec := range m.onces {
		if strings.HasPrefix(k, prefix) {
			out = append(out, rec)
		}
	}
	return out, nil
}

func (m *memLocker) ForgetOnce(ctx context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.onces[key]; !ok {
		return lock.ErrNotHeld
	}
	delete(m.onces, key)
	return nil
}

func (m *memLocker) Close() error { return nil }

// heldNow returns how many holders key has.
func (m *memLocker) heldNow(key string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.live(key))
}

var _ lock.Locker = (*memLocker)(nil)
