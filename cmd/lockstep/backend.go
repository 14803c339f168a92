package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/lockstep-dev/lockstep/config"
	"github.com/lockstep-dev/lockstep/lock"
)

// backendSpec is a resolved backend selection, not yet opened.
type backendSpec struct {
	source    string // where the choice came from, for messages
	desc      string // for display; passwords redacted
	local     bool
	dir       string // local: lock directory; "" means lock.DefaultLocalDir()
	keyPrefix string // redis: "" means the engine's default
	simple    *redis.Options
	universal *redis.UniversalOptions // Sentinel or Cluster
}

// openLocker resolves and opens the backend, first match wins: flagURL (the
// -backend flag), LOCKSTEP_BACKEND, the workflow's backend block b (may be
// nil), else the local backend in the per-user default directory. It returns
// the locker and a description of the backend for display with any password
// redacted. Errors wrap lock.ErrUnavailable when the backend cannot be reached,
// and are usage errors (exit 2) when the URL or block is malformed. Opening
// does not contact the server: the first operation reports an unreachable one.
func openLocker(ctx context.Context, flagURL string, b *config.Backend, logger hclog.Logger) (lock.Locker, string, error) {
	spec, err := resolveBackend(flagURL, os.Getenv("LOCKSTEP_BACKEND"), b)
	if err != nil {
		return nil, "", err
	}
	l, err := spec.open(logger)
	if err != nil {
		return nil, spec.desc, err
	}
	logger.Debug("backend opened", "backend", spec.desc, "from", spec.source)
	return l, spec.desc, nil
}

// resolveBackend applies the selection order to the given sources.
func resolveBackend(flagURL, envURL string, b *config.Backend) (*backendSpec, error) {
	switch {
	case flagURL != "":
		return parseBackendURL(flagURL, "-backend")
	case envURL != "":
		return parseBackendURL(envURL, "LOCKSTEP_BACKEND")
	case b != nil:
		return specFromBlock(b)
	}
	return &backendSpec{source: "default", desc: "local (default directory)", local: true}, nil
}

// parseBackendURL parses a -backend / LOCKSTEP_BACKEND value. Error messages
// name source and show the URL with its password redacted.
func parseBackendURL(raw, source string) (*backendSpec, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, usagef("%s: malformed backend URL: %v", source, urlReason(err))
	}
	shown := u.Redacted()
	spec := &backendSpec{source: source, desc: shown}
	switch u.Scheme {
	case "local":
		if u.Host != "" {
			return nil, usagef("%s: local backend URL %q has a host; use local:///absolute/dir", source, shown)
		}
		spec.local, spec.dir = true, u.Path
		if spec.dir == "" {
			spec.desc = "local (default directory)"
		}
		return spec, nil
	case "redis", "rediss", "unix":
		opts, err := redis.ParseURL(raw)
		if err != nil {
			return nil, usagef("%s: malformed backend URL %q: %v", source, shown, urlReason(err))
		}
		spec.simple = leanOptions(opts)
		return spec, nil
	case "":
		return nil, usagef("%s: backend URL %q has no scheme; want redis://, rediss://, unix:// or local://", source, shown)
	}
	return nil, usagef("%s: unknown backend scheme %q in %q; want redis://, rediss://, unix:// or local://", source, u.Scheme, shown)
}

// urlReason strips the URL (which may hold a password) from a parse error.
func urlReason(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// leanOptions turns off connection-time extras lockstep does not use, so that
// a short-lived command pays one dial and nothing more before its first
// command.
func leanOptions(o *redis.Options) *redis.Options {
	// One retry of a failed dial: the keeper retries renewals itself, and a
	// refused or misconfigured backend should be reported at once.
	o.DialerRetries = 2
	o.DisableIdentity = true
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return o
}

// specFromBlock turns a workflow's backend block into a spec. A bad URL or
// unreadable TLS file is a configuration error (exit 2).
func specFromBlock(b *config.Backend) (*backendSpec, error) {
	where := "backend block"
	if b.DeclRange.Filename != "" {
		where = fmt.Sprintf("backend block at %s", b.DeclRange.String())
	}
	if b.Type == "local" {
		desc := "local " + b.Path
		if b.Path == "" {
			desc = "local (default directory)"
		}
		return &backendSpec{source: where, desc: desc, local: true, dir: b.Path}, nil
	}
	if b.Type != "redis" {
		return nil, usagef("%s: unknown backend type %q; want \"redis\" or \"local\"", where, b.Type)
	}
	tlsConf, err := blockTLS(b.TLS)
	if err != nil {
		return nil, usagef("%s: %v", where, err)
	}
	spec := &backendSpec{source: where, keyPrefix: b.KeyPrefix}
	if b.Sentinel != nil || b.Cluster != nil {
		spec.universal, spec.desc = universalOptions(b, tlsConf)
		return spec, nil
	}
	if b.URL == "" {
		return nil, usagef("%s: a redis backend needs url, sentinel or cluster", where)
	}
	url, err := parseBackendURL(b.URL, where+" url")
	if err != nil {
		return nil, err
	}
	if url.simple == nil {
		return nil, usagef("%s: url %q is not a redis URL", where, url.desc)
	}
	o := url.simple
	if b.Username != "" {
		o.Username = b.Username
	}
	if b.Password != "" {
		o.Password = b.Password
	}
	if b.DB != 0 {
		o.DB = b.DB
	}
	if tlsConf != nil {
		o.TLSConfig = tlsConf
	}
	spec.simple, spec.desc = o, url.desc
	return spec, nil
}

// universalOptions builds Sentinel or Cluster options from a block.
func universalOptions(b *config.Backend, tlsConf *tls.Config) (*redis.UniversalOptions, string) {
	o := &redis.UniversalOptions{
		Username:                 b.Username,
		Password:                 b.Password,
		DB:                       b.DB,
		TLSConfig:                tlsConf,
		DialerRetries:            2,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
	if s := b.Sentinel; s != nil {
		o.MasterName, o.Addrs = s.MasterName, s.Addresses
		o.SentinelUsername, o.SentinelPassword = s.Username, s.Password
		return o, fmt.Sprintf("redis sentinel master %q via %s", s.MasterName, strings.Join(s.Addresses, ","))
	}
	o.Addrs, o.IsClusterMode = b.Cluster.Addresses, true
	return o, "redis cluster " + strings.Join(b.Cluster.Addresses, ",")
}

// blockTLS builds the TLS configuration of a tls block (nil when absent).
func blockTLS(t *config.TLS) (*tls.Config, error) {
	if t == nil {
		return nil, nil
	}
	c := &tls.Config{ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls ca_file: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls ca_file %s: no PEM certificates", t.CAFile)
		}
	}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls cert_file/key_file: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// redisLog sends go-redis's internal messages (dial retries and the like) to
// the debug log instead of stderr. They carry addresses, never passwords.
type redisLog struct{ logger hclog.Logger }

func (l redisLog) Printf(_ context.Context, format string, v ...any) {
	l.logger.Debug("go-redis: " + fmt.Sprintf(format, v...))
}

// open builds the client and the locker.
func (s *backendSpec) open(logger hclog.Logger) (lock.Locker, error) {
	redis.SetLogger(redisLog{logger})
	if s.local {
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
}

func (f *backendFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.url, "backend", "", "backend `URL`: redis://[user:pass@]host:port[/db], rediss://…, unix:///path.sock[?db=N], local:///dir (default: $LOCKSTEP_BACKEND, then the -config workflow's backend block, then the local backend)")
	fs.StringVar(&f.config, "config", "", "use the backend block of the workflow at `PATH` (a directory or file)")
}

// open loads the -config workflow if given (only then) and opens the locker.
func (f *backendFlags) open(ctx context.Context, logger hclog.Logger) (lock.Locker, string, error) {
	var block *config.Backend
	if f.config != "" && f.url == "" && os.Getenv("LOCKSTEP_BACKEND") == "" {
		w, diags := config.Load(f.config, nil)
		if diags.HasErrors() {
			var files map[string]*hcl.File
			if w != nil {
				files = w.Files
			}
			writeDiagnostics(os.Stderr, files, diags)
			return nil, "", usagef("-config %s: the workflow has errors", f.config)
		}
		if w.Settings != nil && w.Settings.Backend != nil {
			b := *w.Settings.Backend
			// A relative local path is relative to the workflow, as every
			// other path in it.
			if b.Type == "local" && b.Path != "" && !filepath.IsAbs(b.Path) {
				b.Path = filepath.Join(w.Dir, b.Path)
			}
			block = &b
		}
	}
	spec, err := resolveBackend(f.url, os.Getenv("LOCKSTEP_BACKEND"), block)
	if err != nil {
		return nil, "", err
	}
	f.local = spec.local
	l, err := spec.open(logger)
	return l, spec.desc, err
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
