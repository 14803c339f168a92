package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"

	"github.com/lockstep-dev/lockstep/config"
	"github.com/lockstep-dev/lockstep/lock"
)

// probe asks a Redis backend, in one round trip, whether it answers and
// accepts us, and whether it may evict lock keys: CONFIG GET
// maxmemory-policy (kept for evictionWarning). An ACL that refuses CONFIG
// (NOPERM, as managed services do) still means the server knows us: the
// operations lockstep needs report their own refusals. A failure wraps
// lock.ErrUnavailable with a sentence naming the problem (backendProblem).
// The local backend needs no probe: opening it checked its directory. (A
// pipelined PING would link go-redis's whole Pipeliner into the binary and
// cost every start-up.)
func probe(ctx context.Context, l lock.Locker, desc string) error {
	r, ok := l.(*ownedRedis)
	if !ok {
		return nil
	}
	m, err := r.client.ConfigGet(ctx, "maxmemory-policy").Result()
	r.probed = true
	if err == nil {
		r.warning = evictionText(m["maxmemory-policy"])
		return nil
	}
	if strings.Contains(err.Error(), "NOPERM") {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("backend %s: %w: %w", desc, lock.ErrUnavailable, ctx.Err())
	}
	if p := backendProblem(err); p != "" {
		return fmt.Errorf("backend %s: %s: %w: %w", desc, p, lock.ErrUnavailable, err)
	}
	return fmt.Errorf("backend %s: %w: %w", desc, lock.ErrUnavailable, err)
}

// evictionText is the warning for a maxmemory-policy that may evict lock
// keys, or "" for a safe one.
func evictionText(policy string) string {
	if policy == "" || policy == "noeviction" {
		return ""
	}
	return fmt.Sprintf("redis maxmemory-policy is %q: the server may evict lock keys under memory pressure, which lets two holders overlap; use noeviction", policy)
}

// backendProblem names what a backend error means in one clause, or "" when
// it is not one lockstep knows.
func backendProblem(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "NOAUTH"), strings.Contains(msg, "unauthenticated"), strings.Contains(msg, "Authentication required"):
		return "authentication required: the redis server needs a password (give it in LOCKSTEP_BACKEND as redis://:PASSWORD@host:port, or in the backend block with password = env(\"REDIS_PASSWORD\"))"
	case strings.Contains(msg, "WRONGPASS"), strings.Contains(msg, "invalid password"), strings.Contains(msg, "invalid username-password"):
		return "authentication failed: the redis server refused the user name or password"
	case strings.Contains(msg, "NOPERM"):
		return "permission denied: the redis user may not run a command lockstep needs"
	case strings.Contains(msg, "connection refused"):
		return "connection refused: no redis server answers at that address"
	case strings.Contains(msg, "no such host"):
		return "unknown host: the backend's host name does not resolve"
	case strings.Contains(msg, "i/o timeout"), errors.Is(err, context.DeadlineExceeded):
		return "no answer: the redis server did not answer in time (network, firewall or address)"
	case strings.Contains(msg, "LOADING"):
		return "the redis server is loading its data set; try again shortly"
	case strings.Contains(msg, "unknown command"):
		return "the server is not a Redis 7.0 or newer (lockstep needs sharded pub/sub)"
	}
	return ""
}

// diagError is a configuration problem with a source range: printed as a
// diagnostic with its snippet, exit 2.
type diagError struct {
	files map[string]*hcl.File
	diags hcl.Diagnostics
}

func (e *diagError) Error() string { return e.diags.Error() }
func (e *diagError) Unwrap() error { return &usageError{errors.New(e.diags.Error())} }

// envCall finds `env("NAME")` in a url expression's source. Compiled on
// first use: every lockstep process would pay for it at start-up otherwise.
var envCall = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^\s*env\(\s*"([^"]+)"\s*\)\s*$`)
})

// emptyURL explains a redis backend block without a usable url: when the url
// attribute is there but empty (url = env("REDIS_URL") with REDIS_URL unset),
// a diagnostic on it that names the variable and shows the snippet.
func emptyURL(b *config.Backend, where string) error {
	if b.URLRange == nil {
		return usagef("%s: a redis backend needs url, sentinel or cluster", where)
	}
	rng := *b.URLRange
	detail := "The redis backend's url is empty, so lockstep cannot tell which Redis to use. Give it a redis:// URL, or set LOCKSTEP_BACKEND, which wins over the block."
	src, err := os.ReadFile(rng.Filename)
	files := map[string]*hcl.File{}
	if err == nil && rng.End.Byte <= len(src) {
		files[rng.Filename] = &hcl.File{Bytes: src}
		if m := envCall().FindSubmatch(src[rng.Start.Byte:rng.End.Byte]); m != nil {
			detail = fmt.Sprintf("The redis backend's url comes from the environment variable %s, which is not set (or empty). Set it, e.g. export %s=redis://redis.internal:6379/0, or set LOCKSTEP_BACKEND, which wins over the block.", m[1], m[1])
		}
	}
	return &diagError{files: files, diags: hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Empty backend url",
		Detail: detail, Subject: &rng}}}
}
