package main

// The constructors of the lock engine's backends and its lease keeper, in one
// place so that the rest of the CLI codes against lock.Locker alone.

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"

	"github.com/lockstep-dev/lockstep/lock"
)

// ownedRedis is the Redis backend together with the client the CLI built for
// it: Close closes both.
type ownedRedis struct {
	*lock.Redis
	client redis.UniversalClient
}

func (o ownedRedis) Close() error {
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
	return ownedRedis{r, client}, nil
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
// may evict lock keys, else "". It costs one round trip, bounded to a second;
// a server that refuses CONFIG GET (ACL) yields no warning.
func evictionWarning(ctx context.Context, l lock.Locker) string {
	r, ok := l.(ownedRedis)
	if !ok {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return r.EvictionWarning(ctx)
}
