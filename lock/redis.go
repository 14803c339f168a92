package lock

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"
)

// DefaultKeyPrefix starts every Redis key lockstep writes.
const DefaultKeyPrefix = "lockstep:"

// RedisOptions tunes NewRedis. Nil options and zero fields mean defaults.
type RedisOptions struct {
	// KeyPrefix starts every key written; default DefaultKeyPrefix. It must
	// not contain '{' or '}' (lockstep owns the hash tag).
	KeyPrefix string
	// Logger receives debug messages (never tokens); default hclog.NewNullLogger().
	Logger hclog.Logger
	// Recheck is the safety re-check period of a waiter (pub/sub is
	// at-most-once); default 10s, jittered. Each re-check costs one script.
	Recheck time.Duration
}

// Redis is the Redis backend. It implements Locker on a go-redis client
// (single node, Sentinel or Cluster through redis.UniversalClient); it does
// not own the client unless Close is told to (it never closes it).
type Redis struct {
	client  redis.UniversalClient
	prefix  string
	log     hclog.Logger
	recheck time.Duration
	sub     *subscriber
}

var _ Locker = (*Redis)(nil)

// NewRedis returns a Redis backend using client. Build the client with
// ContextTimeoutEnabled: true, or go-redis bounds network waits by its
// Read/WriteTimeout instead of the caller's context (the lease keeper does
// not depend on it: it stops waiting for a renewal at its own deadline). It panics if
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
		r.recheck = 10 * time.Second
	}
	r.sub = newSubscriber(client, r.log)
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

// Close stops the backend's subscriber connection. It does not close the
// client (the caller built it) and does not release any lock.
func (r *Redis) Close() error {
	return r.sub.close()
}

func (r *Redis) run(ctx context.Context, s *redis.Script, k redisKeys, args ...any) (any, error) {
	return s.Run(ctx, r.client, k.all, args...).Result()
}

// Check reports whether token holds key.
func (r *Redis) Check(ctx context.Context, key, token string) error {
	k := r.lockKeys(key)
	n, err := r.run(ctx, scriptCheck, k, token)
	if err != nil {
		return backendErr(ctx, fmt.Sprintf("check %q", key), err)
	}
	if n.(int64) != 1 {
		return fmt.Errorf("check %q: %w", key, ErrNotHeld)
	}
	return nil
}

// Renew extends token's lease on key to ttl from now (server time). It never
// re-creates a lease that expired or was released: ErrNotHeld.
func (r *Redis) Renew(ctx context.Context, key, token string, ttl time.Duration) error {
	if ttl < time.Millisecond {
		return fmt.Errorf("renew %q: ttl %s is too short", key, ttl)
	}
	k := r.lockKeys(key)
	n, err := r.run(ctx, scriptRenew, k, token, ttl.Milliseconds())
	if err != nil {
		return backendErr(ctx, fmt.Sprintf("renew %q", key), err)
	}
	if n.(int64) != 1 {
		return fmt.Errorf("renew %q: %w", key, ErrNotHeld)
	}
	return nil
}

// Release gives up token's lease and hands the freed slot to the next
// waiter. It returns ErrNotHeld, deleting nothing, if token does not hold key.
func (r *Redis) Release(ctx context.Context, key, token string) error {
	k := r.lockKeys(key)
	n, err := r.run(ctx, scriptRelease, k, token, k.chan_)
	if err != nil {
		return backendErr(ctx, fmt.Sprintf("release %q", key), err)
	}
	if n.(int64) != 1 {
		return fmt.Errorf("release %q: %w", key, ErrNotHeld)
	}
	return nil
}

// Holders returns the live holders of key, empty when it is free.
func (r *Redis) Holders(ctx context.Context, key string) ([]Holder, error) {
	li, err := r.lockInfo(ctx, key)
	return li.Holders, err
}

// Show returns key's live holders and the number of its waiters.
// TODO(phase 1): list the queue in order.
func (r *Redis) Show(ctx context.Context, key string) (LockInfo, error) {
	li, err := r.lockInfo(ctx, key)
	li.Key = key
	return li, err
}

// ForceRelease removes every holder of key and serves its waiters. It
// returns ErrNotHeld when key was not held.
func (r *Redis) ForceRelease(ctx context.Context, key string) error {
	k := r.lockKeys(key)
	n, err := r.run(ctx, scriptForce, k, k.chan_)
	if err != nil {
		return backendErr(ctx, fmt.Sprintf("force-release %q", key), err)
	}
	if n.(int64) == 0 {
		return fmt.Errorf("force-release %q: %w", key, ErrNotHeld)
	}
	return nil
}

// parseHolders decodes "ttl|fence|since|limit|json" entries.
func parseHolders(vals []any) []Holder {
	hs := make([]Holder, 0, len(vals))
	for _, v := range vals {
		s, _ := v.(string)
		if h, _, ok := parseHolder(s); ok {
			hs = append(hs, h)
		}
	}
	return hs
}

func parseHolder(s string) (Holder, int, bool) {
	f := strings.SplitN(s, "|", 5)
	if len(f) != 5 {
		return Holder{}, 0, false
	}
	var h Holder
	if err := jsonUnmarshal(f[4], &h); err != nil {
		return Holder{}, 0, false
	}
	ttl, _ := strconv.ParseInt(f[0], 10, 64)
	h.TTL = time.Duration(ttl) * time.Millisecond
	h.Fence, _ = strconv.ParseInt(f[1], 10, 64)
	since, _ := strconv.ParseInt(f[2], 10, 64)
	h.Since = time.UnixMilli(since)
	limit, _ := strconv.Atoi(f[3])
	return h, limit, true
}

// toInt64 reads an integer reply element.
func toInt64(v any) int64 {
	n, _ := v.(int64)
	return n
}

var errBadReply = errors.New("unexpected reply from lock script")
