package lock

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// manyBatch bounds the commands of one pipeline in ShowMany and OnceMany:
// a round trip of this many reads costs the server about a millisecond.
const manyBatch = 256

// manyReader is a backend that answers many Show and Once calls at the cost
// of few round trips (Redis: one pipeline per manyBatch keys).
type manyReader interface {
	showMany(ctx context.Context, keys []string) ([]LockInfo, error)
	onceMany(ctx context.Context, keys []string) ([]*OnceRecord, error)
}

// ShowMany returns in.Show(ctx, key) for each of keys, in order, in as few
// round trips as the backend allows: plan looks at thousands of keys. On
// the first error it returns nil and that error (as Show would).
func ShowMany(ctx context.Context, in Inspector, keys []string) ([]LockInfo, error) {
	if m, ok := in.(manyReader); ok {
		return m.showMany(ctx, keys)
	}
	out := make([]LockInfo, len(keys))
	for i, k := range keys {
		li, err := in.Show(ctx, k)
		if err != nil {
			return nil, err
		}
		out[i] = li
	}
	return out, nil
}

// OnceMany returns store.Once(ctx, key) for each of keys, in order (nil for
// an unset marker), in as few round trips as the backend allows. On the
// first error it returns nil and that error.
func OnceMany(ctx context.Context, store OnceStore, keys []string) ([]*OnceRecord, error) {
	if m, ok := store.(manyReader); ok {
		return m.onceMany(ctx, keys)
	}
	out := make([]*OnceRecord, len(keys))
	for i, k := range keys {
		rec, err := store.Once(ctx, k)
		if err != nil {
			return nil, err
		}
		out[i] = rec
	}
	return out, nil
}

func (r *Redis) showMany(ctx context.Context, keys []string) ([]LockInfo, error) {
	out := make([]LockInfo, len(keys))
	err := r.pipeScript(ctx, scriptShow, len(keys),
		func(i int) ([]string, []any) { return r.lockKeys(keys[i]).all, []any{"q"} },
		func(i int, res any, err error) error {
			op := fmt.Sprintf("show %q", keys[i])
			if err != nil {
				return backendErr(ctx, op, err)
			}
			out[i], err = parseShow(op, keys[i], res)
			return err
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (r *Redis) onceMany(ctx context.Context, keys []string) ([]*OnceRecord, error) {
	out := make([]*OnceRecord, len(keys))
	err := r.pipeScript(ctx, scriptOnceGet, len(keys),
		func(i int) ([]string, []any) { return []string{r.onceKey(keys[i])}, nil },
		func(i int, res any, err error) error {
			op := fmt.Sprintf("once %q", keys[i])
			switch {
			case err == redis.Nil:
				return nil
			case err != nil:
				return backendErr(ctx, op, err)
			}
			out[i], err = parseOnce(op, keys[i], res)
			return err
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// pipeScript runs s n times, call i with args(i), sending manyBatch calls
// per round trip, and hands each reply to reply in order; the first error
// reply returns ends it. The first call of a script this backend has not run
// yet goes alone (EVAL caches it on the server); a node that answers
// NOSCRIPT (a Cluster node that never saw it, a restarted server) gets that
// call again on its own, by runScript's fallback.
func (r *Redis) pipeScript(ctx context.Context, s *luaScript, n int,
	args func(i int) ([]string, []any), reply func(i int, res any, err error) error) error {
	i := 0
	if n > 0 && !r.loaded[s.idx].Load() {
		keys, argv := args(0)
		res, err := r.runScript(ctx, s, keys, argv...)
		if err := reply(0, res, err); err != nil {
			return err
		}
		i = 1
	}
	sc := s.get()
	for i < n {
		end := min(i+manyBatch, n)
		cmds := make([]*redis.Cmd, 0, end-i)
		_, _ = r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for j := i; j < end; j++ {
				keys, argv := args(j)
				cmds = append(cmds, sc.EvalSha(ctx, p, keys, argv...))
			}
			return nil
		})
		for j, c := range cmds {
			res, err := c.Result()
			if err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
				keys, argv := args(i + j)
				res, err = sc.Run(ctx, r.client, keys, argv...).Result()
			}
			if err := reply(i+j, res, err); err != nil {
				return err
			}
		}
		i = end
	}
	return nil
}
