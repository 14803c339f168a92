package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"

	"github.com/lockstep-dev/lockstep/config"
	"github.com/lockstep-dev/lockstep/lock"
)

// redisLog sends go-redis's internal messages (dial retries and the like) to
// the debug log instead of stderr. They carry addresses, never passwords,
// but also what servers said (a sentinel's master address, a TLS peer's
// error), escaped as every backend text is: hclog writes a message as is.
type redisLog struct{ logger hclog.Logger }

func (l redisLog) Printf(_ context.Context, format string, v ...any) {
	l.logger.Debug("go-redis: " + safeLines(fmt.Sprintf(format, v...)))
}

// open builds the client and the locker. A local directory given by URL
// must exist unless the URL says ?create=1.
func (s *backendSpec) open(logger hclog.Logger) (lock.Locker, error) {
	redis.SetLogger(redisLog{logger})
	if s.local {
		if s.dir != "" && !s.create {
			if fi, err := os.Stat(s.dir); err != nil || !fi.IsDir() {
				return nil, usagef("%s: the local backend directory %s does not exist (or is not a directory); create it, or ask lockstep to: local://%s?create=1",
					s.source, s.dir, s.dir)
			}
		}
		return newLocalLocker(s.dir, logger)
	}
	// Without ContextTimeoutEnabled go-redis ignores context deadlines on
	// the wire, so a renewal bounded to ttl/3 could hang on a dead network
	// until the read timeout.
	var client redis.UniversalClient
	if s.universal != nil {
		s.universal.ContextTimeoutEnabled = true
		client = redis.NewUniversalClient(s.universal)
	} else {
		s.simple.ContextTimeoutEnabled = true
		if s.simple.TLSConfig != nil && s.simple.Dialer == nil {
			s.simple.Dialer = tlsDialer(s.simple)
		}
		client = redis.NewClient(s.simple)
	}
	return newRedisLocker(client, s.keyPrefix, logger)
}

// backendFlags are the -backend and -config flags that every command talking
// to a backend takes.
type backendFlags struct {
	url    string
	config string
	local  bool // set by open: the selected backend is the local one
	// secretEnv, set by open, names the variables the -config workflow's
	// backend block reads credentials from (exec's command never gets them).
	secretEnv []string
}

func (f *backendFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.url, "backend", "", "backend `URL`: redis://[user:pass@]host:port[/db], rediss://…, unix:///path.sock[?db=N], local:///dir[?create=1] (default: $LOCKSTEP_BACKEND, then the -config workflow's backend block, then the local backend)")
	fs.StringVar(&f.config, "config", "", "use the backend block of the workflow at `PATH` (a directory or file)")
}

// open loads the -config workflow if given (only then, and only when no URL
// wins over its block) and opens the locker through openLocker.
func (f *backendFlags) open(e *env, logger hclog.Logger) (lock.Locker, error) {
	var block *config.Backend
	if f.config != "" && f.url == "" && e.getenv("LOCKSTEP_BACKEND") == "" {
		w, diags := config.Load(f.config, nil)
		if diags.HasErrors() {
			e.diagnostics(workflowFiles(w), diags)
			return nil, usagef("-config %s: the workflow has errors", f.config)
		}
		block = workflowBackend(w)
		if block != nil {
			f.secretEnv = block.SecretEnv
		}
	}
	l, spec, err := openLocker(e.ctx, e, f.url, block, logger)
	if spec != nil {
		f.local = spec.local
	}
	var de *diagError
	if errors.As(err, &de) {
		e.diagnostics(de.files, de.diags)
		return nil, reported(err)
	}
	return l, err
}

// workflowBackend returns w's backend block (nil without one), a relative
// local path made relative to the workflow, as every other path in it.
func workflowBackend(w *config.Workflow) *config.Backend {
	if w == nil || w.Settings == nil || w.Settings.Backend == nil {
		return nil
	}
	b := *w.Settings.Backend
	if b.Type == "local" && b.Path != "" && !filepath.IsAbs(b.Path) {
		b.Path = filepath.Join(w.Dir, b.Path)
	}
	return &b
}

// tlsHandshakeTimeout bounds the TLS handshake apart from the TCP dial: a
// plain-text Redis never answers a ClientHello, and without it every retry
// would wait out the whole dial timeout.
const tlsHandshakeTimeout = 2 * time.Second

// tlsDialer dials TCP, then does the TLS handshake with its own timeout and
// an error that says what probably went wrong. The error deliberately does not
// wrap the timeout, so that go-redis does not retry a handshake that will
// fail the same way.
func tlsDialer(o *redis.Options) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := &net.Dialer{Timeout: o.DialTimeout, KeepAlive: 5 * time.Minute}
		raw, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		conf := o.TLSConfig.Clone()
		if conf.ServerName == "" {
			if host, _, err := net.SplitHostPort(addr); err == nil {
				conf.ServerName = host
			}
		}
		hctx, cancel := context.WithTimeout(ctx, tlsHandshakeTimeout)
		defer cancel()
		conn := tls.Client(raw, conf)
		if err := conn.HandshakeContext(hctx); err != nil {
			raw.Close()
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("tls handshake with %s failed: %v (is the server speaking TLS?)", addr, err)
			}
			return nil, fmt.Errorf("tls handshake with %s failed: %v", addr, err)
		}
		return conn, nil
	}
}
