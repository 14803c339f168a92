package lock

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// scan returns every key matching pattern, on every master of a Cluster.
func (r *Redis) scan(ctx context.Context, pattern string) ([]string, error) {
	c, ok := r.client.(*redis.ClusterClient)
	if !ok {
		return scanOne(ctx, r.client, pattern)
	}
	var mu sync.Mutex
	var keys []string
	err := c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		ks, err := scanOne(ctx, n, pattern)
		mu.Lock()
		keys = append(keys, ks...)
		mu.Unlock()
		return err
	})
	return keys, err
}

func scanOne(ctx context.Context, c redis.Cmdable, pattern string) ([]string, error) {
	var keys []string
	it := c.Scan(ctx, 0, pattern, 500).Iterator()
	for it.Next(ctx) {
		keys = append(keys, it.Val())
	}
	return keys, it.Err()
}

// List returns every held lock whose user key starts with prefix, sorted by
// key, with its waiters counted. It scans the key space (SCAN, never KEYS).
func (r *Redis) List(ctx context.Context, prefix string) ([]LockInfo, error) {
	start := len(r.prefix) + 1
	keys, err := r.scan(ctx, globEscape(r.prefix)+"{"+EncodeKey(prefix)+"*}:h")
	if err != nil {
		return nil, backendErr(ctx, "list locks", err)
	}
	var out []LockInfo
	for _, rk := range keys {
		key, ok := tagged(rk, start)
		if !ok || !strings.HasPrefix(key, prefix) {
			continue
		}
		li, err := r.lockInfo(ctx, key, false)
		if err != nil {
			return nil, err
		}
		if len(li.Holders) > 0 {
			out = append(out, li)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Show returns key's live holders and its queue in order, each waiter with
// its holder metadata (Since is when it queued, by its own clock).
func (r *Redis) Show(ctx context.Context, key string) (LockInfo, error) {
	return r.lockInfo(ctx, key, true)
}

// lockInfo runs show.lua: {waiters, n, n holders..., queue entries...}.
func (r *Redis) lockInfo(ctx context.Context, key string, queue bool) (LockInfo, error) {
	op := fmt.Sprintf("show %q", key)
	res, err := r.run(ctx, scriptShow, r.lockKeys(key), showFlag(queue))
	if err != nil {
		return LockInfo{Key: key}, backendErr(ctx, op, err)
	}
	return parseShow(op, key, res)
}

func showFlag(queue bool) string {
	if queue {
		return "q"
	}
	return ""
}

// parseShow reads show.lua's reply for key.
func parseShow(op, key string, res any) (LockInfo, error) {
	vals, n, ok := replyInts(res, 2)
	if !ok || int64(len(vals)) < 2+n[1] || n[1] < 0 {
		return LockInfo{Key: key}, badReply(op, res)
	}
	li := LockInfo{Key: key, Waiters: int(n[0])}
	hs, limit, ok := parseHolders(vals[2 : 2+n[1]])
	if !ok {
		return LockInfo{Key: key}, badReply(op, res)
	}
	li.Holders, li.Limit = hs, limit
	if len(hs) > 0 {
		li.Mode = hs[0].Mode
	}
	for i, v := range vals[2+n[1]:] {
		s, ok := v.(string)
		if !ok {
			return LockInfo{Key: key}, badReply(op, res)
		}
		w, err := parseWaiter(s, i+1)
		if err != nil {
			w = Waiter{Holder: Holder{Owner: UnreadableRecord}, Position: i + 1} // as parseHolders does
		}
		li.Queue = append(li.Queue, w)
	}
	return li, nil
}

// MarkOnce writes the done-marker rec.Key stamped with the server's time,
// kept for ttl (0: forever).
func (r *Redis) MarkOnce(ctx context.Context, rec OnceRecord, ttl time.Duration) error {
	if rec.Key == "" {
		return fmt.Errorf("mark once: key is empty")
	}
	rec.At, rec.TTL = time.Time{}, 0
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("mark once %q: %w", rec.Key, err)
	}
	ms := ttl.Milliseconds()
	if ttl > 0 {
		ms = max(ms, 1) // a sub-millisecond ttl is not "forever"
	}
	err = r.runOnce(ctx, scriptOnce, rec.Key, string(b), ms)
	return backendErr(ctx, fmt.Sprintf("mark once %q", rec.Key), err)
}

// Once returns the done-marker for key, or nil and no error when unset.
func (r *Redis) Once(ctx context.Context, key string) (*OnceRecord, error) {
	op := fmt.Sprintf("once %q", key)
	res, err := r.runScript(ctx, scriptOnceGet, []string{r.onceKey(key)})
	if err == redis.Nil {
		return nil, nil
	}
	if err != nil {
		return nil, backendErr(ctx, op, err)
	}
	return parseOnce(op, key, res)
}

// parseOnce reads onceget.lua's reply for key (not redis.Nil).
func parseOnce(op, key string, res any) (*OnceRecord, error) {
	vals, ok := res.([]any)
	if !ok || len(vals) != 2 {
		return nil, badReply(op, res)
	}
	s, ok := vals[0].(string)
	pttl, ok2 := replyInt(vals[1])
	if !ok || !ok2 {
		return nil, badReply(op, res)
	}
	at, js, _ := strings.Cut(s, "|")
	var rec OnceRecord
	if err := json.Unmarshal([]byte(js), &rec); err != nil {
		return nil, fmt.Errorf("%s: bad marker: %w", op, err)
	}
	ms, _ := strconv.ParseInt(at, 10, 64)
	rec.Key, rec.At = key, backendTime(time.UnixMilli(ms))
	if pttl > 0 {
		rec.TTL = time.Duration(pttl) * time.Millisecond
	}
	return &rec, nil
}

func (r *Redis) runOnce(ctx context.Context, s *luaScript, key string, args ...any) error {
	_, err := r.runScript(ctx, s, []string{r.onceKey(key)}, args...)
	return err
}

// ListOnce returns every done-marker whose key starts with prefix, by key.
func (r *Redis) ListOnce(ctx context.Context, prefix string) ([]OnceRecord, error) {
	base := r.prefix + "once:"
	keys, err := r.scan(ctx, globEscape(base)+"{"+EncodeKey(prefix)+"*}")
	if err != nil {
		return nil, backendErr(ctx, "list once markers", err)
	}
	var out []OnceRecord
	for _, rk := range keys {
		key, ok := tagged(rk, len(base)+1)
		if !ok || !strings.HasPrefix(key, prefix) {
			continue
		}
		rec, err := r.Once(ctx, key)
		if err != nil {
			return nil, err
		}
		if rec != nil {
			out = append(out, *rec)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// ForgetOnce deletes the done-marker for key; ErrNotHeld when there was none.
func (r *Redis) ForgetOnce(ctx context.Context, key string) error {
	n, err := r.client.Del(ctx, r.onceKey(key)).Result()
	if err != nil {
		return backendErr(ctx, fmt.Sprintf("forget once %q", key), err)
	}
	if n == 0 {
		return fmt.Errorf("forget once %q: %w", key, ErrNotHeld)
	}
	return nil
}
