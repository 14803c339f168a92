package lock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// localOnce is a done-marker file.
type localOnce struct {
	OnceRecord
	Expires int64 `json:"expires_unix_ms,omitempty"` // 0: forever
}

func (l *Local) oncePath(key string) string {
	return filepath.Join(l.dir, "once", hashName(key)+".json")
}

// MarkOnce writes the done-marker rec.Key, kept for ttl (0: forever).
func (l *Local) MarkOnce(ctx context.Context, rec OnceRecord, ttl time.Duration) error {
	if rec.Key == "" {
		return errors.New("mark once: key is empty")
	}
	m := localOnce{OnceRecord: rec}
	m.At, m.TTL = time.Now(), 0
	if ttl > 0 {
		m.Expires = m.At.Add(ttl).UnixMilli()
	}
	b, _ := json.Marshal(m)
	if err := writeFile(l.oncePath(rec.Key), b); err != nil {
		return unavailable(fmt.Sprintf("mark once %q", rec.Key), err)
	}
	return nil
}

// Once returns the done-marker for key, or nil when unset or expired.
func (l *Local) Once(ctx context.Context, key string) (*OnceRecord, error) {
	return l.readOnce(l.oncePath(key), key)
}

func (l *Local) readOnce(path, key string) (*OnceRecord, error) {
	b, id, err := readFileID(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable(fmt.Sprintf("once %q", key), err)
	}
	var m localOnce
	if err := json.Unmarshal(b, &m); err != nil || (key != "" && m.Key != key) {
		return nil, nil
	}
	if m.Expires > 0 {
		left := time.Until(time.UnixMilli(m.Expires))
		if left <= 0 {
			removeIfNamed(path, id)
			return nil, nil
		}
		m.TTL = left
	}
	return &m.OnceRecord, nil
}

// ListOnce returns every done-marker whose key starts with prefix, by key.
func (l *Local) ListOnce(ctx context.Context, prefix string) ([]OnceRecord, error) {
	names, err := filepath.Glob(filepath.Join(l.dir, "once", "*.json"))
	if err != nil {
		return nil, unavailable("list once markers", err)
	}
	var out []OnceRecord
	for _, n := range names {
		rec, err := l.readOnce(n, "")
		if err != nil {
			return nil, err
		}
		if rec != nil && strings.HasPrefix(rec.Key, prefix) {
			out = append(out, *rec)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// ForgetOnce deletes the done-marker for key; ErrNotHeld when there was none.
func (l *Local) ForgetOnce(ctx context.Context, key string) error {
	rec, err := l.Once(ctx, key)
	if err != nil {
		return err
	}
	if rec == nil {
		return fmt.Errorf("forget once %q: %w", key, ErrNotHeld)
	}
	if err := os.Remove(l.oncePath(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return unavailable(fmt.Sprintf("forget once %q", key), err)
	}
	return nil
}
