package lock

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

//go:embed scripts/*.lua
var scriptFS embed.FS

// luaScript is a script run by SHA (EVALSHA, falling back to EVAL once when
// the server does not know it, e.g. after a restart). It is assembled and
// hashed on first use, so that a process that never talks to Redis pays
// nothing for it at start-up.
type luaScript struct {
	name string
	idx  int  // index into Redis.loaded
	lock bool // a lock script: header and prelude around the body
	once sync.Once
	s    *redis.Script
}

func (l *luaScript) get() *redis.Script {
	l.once.Do(func() {
		if l.lock {
			l.s = redis.NewScript(lockSource(l.name))
		} else {
			l.s = redis.NewScript(readScript(l.name))
		}
	})
	return l.s
}

// The lock scripts (KEYS: holders, queue), the once-marker scripts and the
// wait record's (KEYS: a run's wait records).
var (
	scriptAcquire = &luaScript{name: "acquire", idx: 0, lock: true}
	scriptPoke    = &luaScript{name: "poke", idx: 1, lock: true}
	scriptLeave   = &luaScript{name: "leave", idx: 2, lock: true}
	scriptRelease = &luaScript{name: "release", idx: 3, lock: true}
	scriptServe   = &luaScript{name: "serve", idx: 4, lock: true}
	scriptRenew   = &luaScript{name: "renew", idx: 5, lock: true}
	scriptCheck   = &luaScript{name: "check", idx: 6, lock: true}
	scriptShow    = &luaScript{name: "show", idx: 7, lock: true}
	scriptForce   = &luaScript{name: "force", idx: 8, lock: true}
	scriptOnce    = &luaScript{name: "once", idx: 9}
	scriptOnceGet = &luaScript{name: "onceget", idx: 10}
	scriptWait    = &luaScript{name: "wait", idx: 11}
)

const numScripts = 12

// runScript runs s: the first time on this backend by EVAL (one round trip,
// which also caches the script on the server), afterwards by EVALSHA
// (falling back to EVAL after a server restart). A short-lived process never
// pays NOSCRIPT's extra round trip, which on a slow link would eat into a
// lease's first renewal.
func (r *Redis) runScript(ctx context.Context, s *luaScript, keys []string, args ...any) (any, error) {
	sc := s.get()
	if r.loaded[s.idx].Load() {
		return sc.Run(ctx, r.client, keys, args...).Result()
	}
	res, err := sc.Eval(ctx, r.client, keys, args...).Result()
	var re redis.Error
	if err == nil || errors.As(err, &re) && !strings.HasPrefix(err.Error(), "NOSCRIPT") {
		r.loaded[s.idx].Store(true) // the server ran (and cached) it
	}
	return res, err
}

func readScript(name string) string {
	b, err := scriptFS.ReadFile("scripts/" + name + ".lua")
	if err != nil {
		panic(err) // embedded at build time
	}
	return string(b)
}

// lockSource assembles a lock script: the shared key names, then the script
// with the shared helpers inserted at its "--@prelude" line (after its fast
// path) or at its top.
func lockSource(name string) string {
	body, prelude := readScript(name), readScript("prelude")
	if before, after, ok := strings.Cut(body, "--@prelude\n"); ok {
		body = before + prelude + after
	} else {
		body = prelude + body
	}
	return readScript("header") + body
}

// Errors the server gives that deserve a sentence of their own.
var (
	// errOldServer: the scripts found no redis.REDIS_VERSION_NUM (Redis
	// before 7.0), or the server does not know SSUBSCRIBE.
	errOldServer = errors.New("the redis server is older than 7.0: lockstep needs sharded pub/sub (SSUBSCRIBE, SPUBLISH) and script effects replication; upgrade the server to Redis 7.0 or later")
	// errAuthRequired: the server wants a password we did not give.
	errAuthRequired = errors.New("authentication required: the redis server needs a password (give it in the backend URL, redis://:PASSWORD@host:port, or the backend block)")
)

// backendErr maps a client error: ctx's own end stays a context error (also
// when the network deadline that ctx set fired a moment before ctx itself
// reported it), a missing reply stays redis.Nil, everything else (network,
// auth, ACL, TLS, LOADING, READONLY, OOM, script errors) wraps
// ErrUnavailable, with a clearer reason for an old server or a missing
// password.
func backendErr(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctxEnded(ctx); cerr != nil {
		return fmt.Errorf("%s: %w", op, cerr)
	}
	if err == redis.Nil {
		return err
	}
	if why := explain(err); why != nil {
		return fmt.Errorf("%s: %w: %w (%v)", op, ErrUnavailable, why, err)
	}
	return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
}

// ctxEnded returns ctx's error, or context.DeadlineExceeded when ctx's
// deadline has passed even though ctx has not said so yet.
func ctxEnded(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// explain recognises server replies that need a better sentence.
func explain(err error) error {
	msg := err.Error()
	low := strings.ToLower(msg)
	switch {
	case strings.Contains(msg, "LOCKSTEP_OLD_SERVER"),
		strings.Contains(low, "unknown command") && (strings.Contains(low, "ssubscribe") || strings.Contains(low, "spublish")),
		strings.Contains(low, "unknown redis command called from script"):
		return errOldServer
	case strings.Contains(msg, "NOAUTH"), strings.Contains(msg, "Protocol error: unauthenticated"):
		return errAuthRequired
	}
	return nil
}
