package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/hashicorp/go-hclog"
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
	password  bool                    // the URL carries a password
	create    bool                    // local: create dir when missing (?create=1)
}

// openLocker resolves, opens and probes the backend, first match wins:
// flagURL (the -backend flag), LOCKSTEP_BACKEND, the workflow's backend
// block b (may be nil), else the local backend in the per-user default
// directory. It returns the locker and a description of the backend for
// display (spec.desc), with any password redacted; spec is set whenever the
// selection could be resolved. A malformed URL or block is a usage
// error (exit 2, a *diagError when the block's source says why); a backend
// that cannot be reached or refuses us (connection, authentication, TLS,
// permissions) an error wrapping lock.ErrUnavailable (exit 5) whose message
// names the problem (probe). It is the one place every command opens a
// backend.
func openLocker(ctx context.Context, e *env, flagURL string, b *config.Backend, logger hclog.Logger) (lock.Locker, *backendSpec, error) {
	spec, err := resolveBackend(flagURL, e.getenv("LOCKSTEP_BACKEND"), b)
	if err != nil {
		return nil, nil, err
	}
	if spec.password && spec.source == "-backend" {
		fmt.Fprintln(e.stderr, passwordWarning)
	}
	l, err := spec.open(logger)
	if err != nil {
		return nil, spec, err
	}
	if err := probe(ctx, l, spec.desc); err != nil {
		l.Close()
		return nil, spec, err
	}
	logger.Debug("backend opened", "backend", spec.desc, "from", spec.source)
	return l, spec, nil
}

// passwordWarning is printed when -backend carries a password: every user of
// the host can read a command line (ps, /proc/PID/cmdline).
const passwordWarning = `lockstep: warning: the -backend URL holds a password, and a command line is visible to every user of this host (ps, /proc/*/cmdline); give the URL in LOCKSTEP_BACKEND instead, or in the workflow's backend block with password = env("REDIS_PASSWORD") or password = file("/run/secrets/redis")`

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
	if cutUserinfo(u, raw) {
		return nil, usagef("%s: malformed backend URL: an @ comes after the host (percent-encode it: %%40), as when a password holding / ? or # is cut there%s",
			source, encodeHint)
	}
	shown := u.Redacted()
	spec := &backendSpec{source: source, desc: shown}
	switch u.Scheme {
	case "local":
		if u.Host != "" {
			return nil, usagef("%s: local backend URL %q has a host; use local:///absolute/dir", source, shown)
		}
		spec.local, spec.dir = true, u.Path
		spec.create, err = strconv.ParseBool(cmpOr(u.Query().Get("create"), "false"))
		if err != nil {
			return nil, usagef("%s: local backend URL %q: create=%q: want 1 or 0", source, shown, u.Query().Get("create"))
		}
		if spec.dir == "" {
			spec.desc, spec.create = "local (default directory)", true
		}
		return spec, nil
	case "redis", "rediss", "unix":
		opts, err := redis.ParseURL(raw)
		if err != nil {
			return nil, usagef("%s: malformed backend URL %q: %v", source, shown, urlReason(err))
		}
		spec.simple = leanOptions(opts)
		_, spec.password = u.User.Password()
		return spec, nil
	case "":
		return nil, usagef("%s: backend URL %q has no scheme; want redis://, rediss://, unix:// or local://", source, shown)
	}
	return nil, usagef("%s: unknown backend scheme %q in %q; want redis://, rediss://, unix:// or local://", source, u.Scheme, shown)
}

// encodeHint ends the reasons a backend URL is refused for.
const encodeHint = " (a password or user name with / ? # @ : or % in it must be percent-encoded: %2F %3F %23 %40 %3A %25)"

// cutUserinfo reports whether a URL that parsed has an @ after its
// authority (after the first / ? or # that follows "://"): a password
// holding '/', '?' or '#' is cut there, and the rest of it parses as a
// port, path, query or fragment, which u.Redacted does not hide. (A unix://
// socket path may hold an @: it has no host.)
func cutUserinfo(u *url.URL, raw string) bool {
	if u.Scheme == "local" || u.Scheme == "unix" && u.Host == "" {
		return false
	}
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return false
	}
	end := strings.IndexAny(rest, "/?#")
	return end >= 0 && strings.Contains(rest[end:], "@")
}

// urlReason says why a backend URL does not parse without quoting any of
// it: net/url's messages quote pieces of the authority, and a password
// holding '/', '?' or '#' is cut there and shown as the "port" (":s3cr3t").
func urlReason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	const encode = encodeHint
	switch {
	case strings.Contains(msg, "invalid port"):
		return "the port after the host is not a number" + encode
	case strings.Contains(msg, "invalid userinfo"):
		return "the user name or password holds a character a URL does not allow there" + encode
	case strings.Contains(msg, "invalid URL escape"):
		return "a %-escape is not % followed by two hex digits" + encode
	case strings.Contains(msg, "in host name"):
		return "the host name holds a character a host name cannot" + encode
	case strings.HasPrefix(msg, "redis: "):
		return msg // go-redis's own checks (scheme, database number): no password in them
	}
	return "it does not parse as a URL" + encode
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
	// Pipelines (a release's HDEL+EXISTS) on the one connection lockstep
	// has, not on go-redis's dedicated pipeline pool, which would dial a
	// second connection with 128 KiB buffers for them.
	o.PipelinePoolSize = -1
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
		desc := "local " + safeText(b.Path)
		if b.Path == "" {
			desc = "local (default directory)"
		}
		return &backendSpec{source: where, desc: desc, local: true, dir: b.Path, create: true}, nil
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
		return nil, emptyURL(b, where)
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
		PipelinePoolSize:         -1, // as leanOptions
	}
	if s := b.Sentinel; s != nil {
		o.MasterName, o.Addrs = s.MasterName, s.Addresses
		o.SentinelUsername, o.SentinelPassword = s.Username, s.Password
		return o, fmt.Sprintf("redis sentinel master %q via %s", s.MasterName, safeText(strings.Join(s.Addresses, ",")))
	}
	o.Addrs, o.IsClusterMode = b.Cluster.Addresses, true
	return o, "redis cluster " + safeText(strings.Join(b.Cluster.Addresses, ","))
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

// cmpOr returns s, or def when s is empty.
func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
