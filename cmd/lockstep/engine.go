package main

// The constructors of the lock engine's backends, in one place so that the
// rest of the CLI codes against lock.Locker alone.

import (
	"context"
	"errors"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"

	"github.com/lockstep-dev/lockstep/lock"
)

// ownedRedis is the Redis backend together with the client the CLI built for
// it: Close closes both. probe fills probed and warning.
type ownedRedis struct {
	*lock.Redis
	client  redis.UniversalClient
	probed  bool
	warning string // the eviction warning, "" when the policy is safe
}

func (o *ownedRedis) Close() error {
	return errors.Join(o.Redis.Close(), o.client.Close())
}

// newRedisLocker wraps client in the Redis backend. The locker owns client and
// closes it on Close. A key prefix with '{' or '}' is a usage error.
func newRedisLocker(client redis.UniversalClient, keyPrefix string, logger hclog.Logger) (lock.Locker, error) {
	if keyPrefix != "" {
		if err := lock.ValidKeyPrefix(keyPrefix); err != nil {
			client.Close()
			return nil, usagef("key_prefix: %v", err)
		}
	}
	r := lock.NewRedis(client, &lock.RedisOptions{KeyPrefix: keyPrefix, Logger: logger})
	return &ownedRedis{Redis: r, client: client}, nil
}

// newLocalLocker opens the local backend in dir ("" means the per-user
// default directory).
func newLocalLocker(dir string, logger hclog.Logger) (lock.Locker, error) {
	if dir == "" {
		dir = lock.DefaultLocalDir()
	}
	return lock.NewLocal(dir, &lock.LocalOptions{Logger: logger})
}

// evictionWarning returns a warning when l is a Redis whose maxmemory-policy
// may evict lock keys, else "". The probe read the policy already; a server
// that refuses CONFIG GET (ACL) yields no warning.
func evictionWarning(_ context.Context, l lock.Locker) string {
	if r, ok := l.(*ownedRedis); ok {
		return r.warning
	}
	return ""
}
