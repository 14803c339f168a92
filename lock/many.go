package lock

import (
	"context"
	"errors"
	"fmt"

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
// reply returns ends it. A script this backend has not run yet is loaded
// first (SCRIPT LOAD: on a Cluster, on every master). Calls answered
// NOSCRIPT (a restarted server, SCRIPT FLUSH, a new Cluster node) load it
// once more and go again in one pipeline, not one round trip each.
func (r *Redis) pipeScript(ctx context.Context, s *luaScript, n int,
	args func(i int) ([]string, []any), reply func(i int, res any, err error) error) error {
	sc := s.get()
	if n > 0 && !r.loaded[s.idx].Load() {
		err := sc.Load(ctx, r.client).Err()
		var re redis.Error
		if errors.As(err, &re) {
			// The server refuses SCRIPT LOAD (an ACL) but may run
			// scripts: one call at a time, as Show and Once do.
			return r.scriptEach(ctx, s, n, args, reply)
		}
		if err != nil {
			return reply(0, nil, err)
		}
		r.loaded[s.idx].Store(true)
	}
	for i := 0; i < n; i += manyBatch {
		calls := make([]int, 0, manyBatch)
		for j := i; j < min(i+manyBatch, n); j++ {
			calls = append(calls, j)
		}
		res, errs := r.pipeline(ctx, sc, calls, args)
		var again []int
		for k, err := range errs {
			if redis.HasErrorPrefix(err, "NOSCRIPT") {
				again = append(again, k)
			}
		}
		if len(again) > 0 && sc.Load(ctx, r.client).Err() == nil {
			idx := make([]int, len(again))
			for k, a := range again {
				idx[k] = calls[a]
			}
			res2, errs2 := r.pipeline(ctx, sc, idx, args)
			for k, a := range again {
				res[a], errs[a] = res2[k], errs2[k]
			}
		}
		for k, j := range calls {
			if err := reply(j, res[k], errs[k]); err != nil {
				return err
			}
		}
	}
	return nil
}

// pipeline sends the calls of s numbered calls in one pipeline (go-redis
// splits it by node on a Cluster) and returns their replies in order.
func (r *Redis) pipeline(ctx context.Context, sc *redis.Script, calls []int,
	args func(i int) ([]string, []any)) ([]any, []error) {
	cmds := make([]*redis.Cmd, len(calls))
	_, _ = r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for k, j := range calls {
			keys, argv := args(j)
			cmds[k] = sc.EvalSha(ctx, p, keys, argv...)
		}
		return nil
	})
	res, errs := make([]any, len(calls)), make([]error, len(calls))
	for k, c := range cmds {
		res[k], errs[k] = c.Result()
	}
	return res, errs
}

// scriptEach runs s n times, one round trip each, by runScript.
func (r *Redis) scriptEach(ctx context.Context, s *luaScript, n int,
	args func(i int) ([]string, []any), reply func(i int, res any, err error) error) error {
	for i := range n {
		keys, argv := args(i)
		res, err := r.runScript(ctx, s, keys, argv...)
		if err := reply(i, res, err); err != nil {
			return err
		}
	}
	return nil
}
