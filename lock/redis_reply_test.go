package lock_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// oddHook replaces the reply of every script call with a value of the wrong
// shape, as a server running something else under the script's SHA would.
type oddHook struct{ reply *atomic.Pointer[any] }

func (h oddHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h oddHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h oddHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		v := h.reply.Load()
		if c, ok := cmd.(*redis.Cmd); ok && v != nil && strings.HasPrefix(cmd.Name(), "eval") {
			c.SetVal(*v)
			c.SetErr(nil)
			return nil
		}
		return err
	}
}

// TestRedis_oddReplies: every operation turns a reply of the wrong shape
// into an error wrapping ErrUnavailable, never a panic and never a lease.
func TestRedis_oddReplies(t *testing.T) {
	srv := locktest.StartServer(t, nil)
	c := redisClient(t, srv)
	var reply atomic.Pointer[any]
	c.AddHook(oddHook{&reply})
	l := lock.NewRedis(c, nil)
	t.Cleanup(func() { l.Close() })
	ctx := context.Background()
	held, err := l.Acquire(ctx, lock.Request{Key: "odd", TTL: time.Minute, Limit: 2}) // released by script
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]func() error{
		"acquire": func() error { _, err := l.Acquire(ctx, lock.Request{Key: "odd2"}); return err },
		"check":   func() error { return l.Check(ctx, "odd", held.Token) },
		"renew":   func() error { return l.Renew(ctx, "odd", held.Token, time.Minute) },
		"release": func() error { return l.Release(ctx, "odd", held.Token) },
		"force":   func() error { return l.ForceRelease(ctx, "odd") },
		"show":    func() error { _, err := l.Show(ctx, "odd"); return err },
		"once":    func() error { _, err := l.Once(ctx, "odd"); return err },
	}
	for _, odd := range []any{"surprise", int64(-7), []any{}, []any{"x", "y"}, []any{int64(0), int64(1), "z"}, []any{int64(0), int64(1), int64(5)},
		[]any{int64(0), int64(1), int64(1), int64(-1), int64(5)}, []any{int64(2), int64(1), int64(1), int64(-1), "||"}} {
		reply.Store(&odd)
		for name, op := range ops {
			err := op()
			if odd == int64(-7) && integerReply(name, err) {
				continue
			}
			if name == "show" && fmt.Sprint(odd) == "[0 1 z]" {
				// Well shaped, one holder record that does not decode:
				// shown as unreadable, not an error (TestRedis_foreignRecord).
				if li, err := l.Show(ctx, "odd"); err != nil || len(li.Holders) != 1 || li.Holders[0].Owner != lock.UnreadableRecord {
					t.Errorf("show with reply %#v: %+v, %v; want one unreadable holder", odd, li, err)
				}
				continue
			}
			if !errors.Is(err, lock.ErrUnavailable) {
				t.Errorf("%s with reply %#v: %v, want an error wrapping ErrUnavailable", name, odd, err)
			}
		}
	}
}

// integerReply: an integer is the shape of check, renew, release (anything
// but 1 means "not held") and force-release (a count) replies.
func integerReply(op string, err error) bool {
	switch op {
	case "check", "renew", "release":
		return errors.Is(err, lock.ErrNotHeld)
	case "force":
		return err == nil
	}
	return false
}

// TestRedis_oldServer: the scripts and the subscriber recognise a server
// older than 7.0 (no redis.REDIS_VERSION_NUM in Lua, no SSUBSCRIBE) and say
// so, with what to do, at the first acquire (no extra round trip).
func TestRedis_oldServer(t *testing.T) {
	srv := locktest.StartServer(t, nil)
	c := redisClient(t, srv)
	ctx := context.Background()
	src := strings.ReplaceAll(lock.LockSource("acquire"), "redis.REDIS_VERSION_NUM", "nil")
	_, err := c.Eval(ctx, src, []string{"p{k}:h", "p{k}:q"}, "t", "1000", "1|x", "", "{}").Result()
	for _, err := range []error{err, errors.New("ERR unknown command `SSUBSCRIBE`, with args beginning with: `p{k}:w:1`")} {
		mapped := lock.BackendErr(ctx, "acquire \"k\"", err)
		t.Logf("old server: %v", mapped)
		if !errors.Is(mapped, lock.ErrUnavailable) || !strings.Contains(mapped.Error(), "Redis 7.0 or later") {
			t.Errorf("%v, want ErrUnavailable saying Redis 7.0 or later is needed", mapped)
		}
	}
}

// pastDeadline is a context whose deadline has passed but which has not
// said so yet: what a caller sees when the network deadline go-redis set
// from it fires a moment before its timer.
type pastDeadline struct{ context.Context }

func (pastDeadline) Deadline() (time.Time, bool) { return time.Now().Add(-time.Millisecond), true }
func (pastDeadline) Err() error                  { return nil }

// TestBackendErr_deadline: an error at a passed deadline is the context's
// (it used to be "backend unavailable: i/o timeout").
func TestBackendErr_deadline(t *testing.T) {
	timeout := errors.New("read tcp 127.0.0.1:1->127.0.0.1:2: i/o timeout")
	err := lock.BackendErr(pastDeadline{context.Background()}, "renew \"k\"", timeout)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, lock.ErrUnavailable) {
		t.Fatalf("%v, want context.DeadlineExceeded and not ErrUnavailable", err)
	}
	if err := lock.BackendErr(context.Background(), "renew \"k\"", timeout); !errors.Is(err, lock.ErrUnavailable) {
		t.Fatalf("%v without a deadline, want ErrUnavailable", err)
	}
}
