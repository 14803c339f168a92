package lock

import (
	"context"
	"embed"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

//go:embed scripts/*.lua
var scriptFS embed.FS

// Scripts run by SHA (EVALSHA, falling back to EVAL once when the server
// does not know them, e.g. after a restart).
var (
	scriptAcquire = lockScript("acquire")
	scriptLeave   = lockScript("leave")
	scriptPoke    = lockScript("poke")
	scriptRelease = lockScript("release")
	scriptRenew   = lockScript("renew")
	scriptCheck   = lockScript("check")
	scriptHolders = lockScript("holders")
	scriptForce   = lockScript("force")
	scriptOnce    = plainScript("once")
	scriptOnceGet = plainScript("onceget")
)

func readScript(name string) string {
	b, err := scriptFS.ReadFile("scripts/" + name + ".lua")
	if err != nil {
		panic(err) // embedded at build time
	}
	return string(b)
}

// lockScript assembles a lock script: the shared key names, then the
// script with the shared helpers inserted at its "--@prelude" line (after
// its fast path) or at its top.
func lockScript(name string) *redis.Script {
	body, prelude := readScript(name), readScript("prelude")
	if before, after, ok := strings.Cut(body, "--@prelude\n"); ok {
		body = before + prelude + after
	} else {
		body = prelude + body
	}
	return redis.NewScript(readScript("header") + body)
}

func plainScript(name string) *redis.Script { return redis.NewScript(readScript(name)) }

// backendErr maps a client error: ctx's own end stays a context error, a
// missing reply stays redis.Nil, everything else (network, auth, ACL, TLS,
// LOADING, READONLY, OOM, script errors) wraps ErrUnavailable.
func backendErr(ctx context.Context, op string, err error) error {
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %w", op, ctx.Err())
	}
	return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
}
