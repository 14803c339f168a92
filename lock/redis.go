package lock

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"
)

// DefaultKeyPrefix starts every Redis key lockstep writes.
const DefaultKeyPrefix = "lockstep:"

// DefaultRecheck is a waiter's default safety re-check period.
const DefaultRecheck = time.Minute

// RedisOptions tunes NewRedis. Nil options and zero fields mean defaults.
type RedisOptions struct {
	// KeyPrefix starts every key written; default DefaultKeyPrefix. It must
	// not contain '{' or '}' (lockstep owns the hash tag).
	KeyPrefix string
	// Logger receives debug messages (never tokens); default hclog.NewNullLogger().
	Logger hclog.Logger
	// Recheck is the period of a waiter's safety re-check (a grant whose
	// message was lost is found by it); default DefaultRecheck, jittered.
	// Each re-check of a waiter behind a held lock costs one script of
	// three commands. A reconnected subscription re-checks at once.
	Recheck time.Duration
}

// Redis is the Redis backend. It implements Locker on a go-redis client
// (single node, Sentinel or Cluster through redis.UniversalClient); it never
// closes the client.
type Redis struct {
	client  redis.UniversalClient
	prefix  string
	log     hclog.Logger
	recheck time.Duration
	sub     *subscriber

	loaded   [numScripts]atomic.Bool // scripts the server ran for this backend
	lastKeys atomic.Pointer[redisKeys]
	lastInfo atomic.Pointer[holderJSON]
	plain    plainTokens
}

var _ Locker = (*Redis)(nil)

// NewRedis returns a Redis backend using client. Build the client with
// ContextTimeoutEnabled: true, or go-redis bounds network waits by its
// Read/WriteTimeout instead of the caller's context (the lease keeper does
// not depend on it: it stops waiting for a renewal at its own deadline). A
// short-lived process should also set PipelinePoolSize: -1: Release sends a
// two-command pipeline, which go-redis otherwise runs on a pool of its own,
// dialling a second connection (the lockstep CLI does so). It panics if
// opts.KeyPrefix contains '{' or '}'; use ValidKeyPrefix to check user input
// first. It does not contact the server.
func NewRedis(client redis.UniversalClient, opts *RedisOptions) *Redis {
	if opts == nil {
		opts = &RedisOptions{}
	}
	r := &Redis{client: client, prefix: opts.KeyPrefix, log: opts.Logger, recheck: opts.Recheck}
	if r.prefix == "" {
		r.prefix = DefaultKeyPrefix
	}
	if err := ValidKeyPrefix(r.prefix); err != nil {
		panic(err)
	}
	if r.log == nil {
		r.log = hclog.NewNullLogger()
	}
	if r.recheck <= 0 {
		r.recheck = DefaultRecheck
	}
	r.sub = newSubscriber(client, r.log, r.releaseOrphan)
	return r
}

// ValidKeyPrefix reports whether prefix may be a RedisOptions.KeyPrefix.
func ValidKeyPrefix(prefix string) error {
	if strings.ContainsAny(prefix, "{}") {
		return fmt.Errorf("key prefix %q contains '{' or '}'", prefix)
	}
	return nil
}

// Ping checks that the server answers. The error wraps ErrUnavailable.
func (r *Redis) Ping(ctx context.Context) error {
	return backendErr(ctx, "ping redis", r.client.Ping(ctx).Err())
}

// EvictionWarning returns a warning when the server's maxmemory-policy may
// evict lock keys (anything but noeviction and volatile-* policies does; the
// volatile ones can evict leases, which carry a TTL), or "" when the policy
// is safe or cannot be read (CONFIG may be disabled by ACL or the provider).
func (r *Redis) EvictionWarning(ctx context.Context) string {
	m, err := r.client.ConfigGet(ctx, "maxmemory-policy").Result()
	if err != nil {
		return ""
	}
	p := m["maxmemory-policy"]
	if p == "" || p == "noeviction" {
		return ""
	}
	return fmt.Sprintf("redis maxmemory-policy is %q: the server may evict lock keys under memory pressure, which lets two holders overlap; use noeviction", p)
}

// Close stops the backend's subscriber connections (waiting Acquires return
// an error). It does not close the client and does not release any lock.
func (r *Redis) Close() error {
	return r.sub.close()
}

func (r *Redis) run(ctx context.Context, s *luaScript, k redisKeys, args ...any) (any, error) {
	return r.runScript(ctx, s, k.all, args...)
}

// runInt runs a script whose reply is one integer.
func (r *Redis) runInt(ctx context.Context, op string, s *luaScript, k redisKeys, args ...any) (int64, error) {
	res, err := r.run(ctx, s, k, args...)
	if err != nil {
		return 0, backendErr(ctx, op, err)
	}
	n, ok := replyInt(res)
	if !ok {
		return 0, badReply(op, res)
	}
	return n, nil
}

// Check reports whether token holds key.
func (r *Redis) Check(ctx context.Context, key, token string) error {
	op := fmt.Sprintf("check %q", key)
	n, err := r.runInt(ctx, op, scriptCheck, r.lockKeys(key), token)
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("%s: %w", op, ErrNotHeld)
	}
	return nil
}

// Renew extends token's lease on key to ttl from now (server time). It never
// re-creates a lease that expired or was released: ErrNotHeld, saying
// whether another holder holds the lock now.
func (r *Redis) Renew(ctx context.Context, key, token string, ttl time.Duration) error {
	op := fmt.Sprintf("renew %q", key)
	if ttl < time.Millisecond {
		return fmt.Errorf("%s: ttl %s is too short", op, ttl)
	}
	n, err := r.runInt(ctx, op, scriptRenew, r.lockKeys(key), token, ttl.Milliseconds())
	switch {
	case err != nil:
		return err
	case n == 1:
		return nil
	case n == -1:
		return fmt.Errorf("%s: taken by another holder: %w", op, ErrNotHeld)
	}
	return fmt.Errorf("%s: expired or released: %w", op, ErrNotHeld)
}

// Release gives up token's lease and hands the freed capacity to the next
// waiter. It returns ErrNotHeld, deleting nothing, if token does not hold
// key. A lone exclusive lease this backend acquired directly is released by
// plain commands (HDEL of its record, EXISTS of the queue), and the queue
// served by a script only when someone waits.
func (r *Redis) Release(ctx context.Context, key, token string) error {
	k := r.lockKeys(key)
	op := fmt.Sprintf("release %q", key)
	if r.plain.take(token) {
		return r.releasePlain(ctx, op, k, token)
	}
	n, err := r.runInt(ctx, op, scriptRelease, k, token)
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("%s: %w", op, ErrNotHeld)
	}
	return nil
}

// releasePlain releases a lease whose record is the only one of its lock
// and is stored under its token: its presence proves it live (the holders
// key expires when the lease ends), so HDEL is a compare-and-delete.
func (r *Redis) releasePlain(ctx context.Context, op string, k redisKeys, token string) error {
	var del, waiting *redis.IntCmd
	_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		del = p.HDel(ctx, k.all[0], token)
		waiting = p.Exists(ctx, k.all[1])
		return nil
	})
	if err != nil {
		return backendErr(ctx, op, err)
	}
	if del.Val() != 1 {
		return fmt.Errorf("%s: %w", op, ErrNotHeld)
	}
	if waiting.Val() > 0 {
		if _, err := r.runInt(ctx, op+": serve the queue", scriptServe, k); err != nil {
			// Released; the first waiter wakes at the lease's old end.
			r.log.Debug("serving the queue after a release failed", "key", k.user, "error", err)
		}
	}
	return nil
}

// ForceRelease removes every holder of key and serves its waiters. It
// returns ErrNotHeld when key was not held.
func (r *Redis) ForceRelease(ctx context.Context, key string) error {
	op := fmt.Sprintf("force-release %q", key)
	n, err := r.runInt(ctx, op, scriptForce, r.lockKeys(key))
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", op, ErrNotHeld)
	}
	return nil
}

// releaseOrphan releases a lease granted to a wait that had already ended
// without leaving the queue (its leave failed): nobody else would.
func (r *Redis) releaseOrphan(k redisKeys, token string) {
	ctx, cancel := context.WithTimeout(context.Background(), CleanupTimeout)
	defer cancel()
	if _, err := r.runInt(ctx, "release an orphaned grant", scriptRelease, k, token); err != nil {
		r.log.Debug("releasing a grant to a gone waiter failed; it expires with its ttl", "key", k.user, "error", err)
	}
}

// holderJSON caches the last holder metadata marshalled: a process acquires
// with the same Holder again and again.
type holderJSON struct {
	h Holder
	s string
}

func (r *Redis) holderInfo(h Holder) (string, error) {
	if c := r.lastInfo.Load(); c != nil && c.h == h {
		return c.s, nil
	}
	b, err := json.Marshal(h)
	if err != nil {
		return "", err
	}
	r.lastInfo.Store(&holderJSON{h, string(b)})
	return string(b), nil
}

// plainTokens are the tokens of lone exclusive leases this backend acquired
// directly (their record is stored under the token): Release may use plain
// commands for them. Bounded: past the limit, releases use the script.
type plainTokens struct {
	mu sync.Mutex
	m  map[string]struct{}
}

const plainLimit = 4096

func (p *plainTokens) add(token string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]struct{}{}
	}
	if len(p.m) < plainLimit {
		p.m[token] = struct{}{}
	}
}

func (p *plainTokens) take(token string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.m[token]
	delete(p.m, token)
	return ok
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
