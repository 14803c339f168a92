package locktest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// TB is the part of testing.TB that StartServer needs, so that testscript
// commands can start servers too.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Skip(args ...any)
	Cleanup(func())
}

// Server is a private redis-server started for one test: on a free loopback
// port (or a unix socket), without persistence, stopped when the test ends.
type Server struct {
	tb   TB
	Addr string // host:port, or "" when listening on a socket only
	Sock string // unix socket path, or ""
	Dir  string // working directory (logs, sentinel config)
	args []string
	cmd  *exec.Cmd
}

// ServerOptions tunes StartServer. The zero value (or nil) is a plain server
// on a free loopback port.
type ServerOptions struct {
	Unix bool     // listen on a unix socket in a temp dir instead of TCP
	Args []string // extra redis-server arguments, e.g. "--requirepass", "s3cret"
}

// StartServer starts a private redis-server and stops it in tb.Cleanup. It
// fails the test with install instructions when redis-server is missing, and
// skips it when LOCKSTEP_SKIP_REDIS=1.
func StartServer(tb TB, opts *ServerOptions) *Server {
	tb.Helper()
	if os.Getenv("LOCKSTEP_SKIP_REDIS") == "1" {
		tb.Skip("LOCKSTEP_SKIP_REDIS=1: skipping a test that needs redis-server")
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		tb.Fatalf("redis-server not found in PATH: install it (apt-get install redis-server) or set LOCKSTEP_SKIP_REDIS=1 to skip these tests")
	}
	if opts == nil {
		opts = &ServerOptions{}
	}
	dir, err := os.MkdirTemp("", "lockstep-redis-") // short path: unix socket paths are limited to 108 bytes
	if err != nil {
		tb.Fatalf("%v", err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	s := &Server{tb: tb, Dir: dir}
	base := []string{"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, "redis.log")}
	if opts.Unix {
		s.Sock = filepath.Join(dir, "redis.sock")
		base = append(base, "--port", "0", "--unixsocket", s.Sock, "--unixsocketperm", "700")
	} else {
		s.Addr = "127.0.0.1:" + strconv.Itoa(FreePort(tb))
		_, port, _ := net.SplitHostPort(s.Addr)
		base = append(base, "--bind", "127.0.0.1", "--port", port)
	}
	s.args = append(base, opts.Args...)
	tb.Cleanup(s.Stop) // before start: a server that never answers is killed too
	s.start()
	return s
}

// URL is the lockstep backend URL of the server (redis:// or unix://).
func (s *Server) URL() string {
	if s.Sock != "" {
		return "unix://" + s.Sock
	}
	return "redis://" + s.Addr
}

func (s *Server) start() {
	s.tb.Helper()
	s.cmd = exec.Command("redis-server", s.args...)
	s.cmd.Dir = s.Dir
	s.cmd.SysProcAttr = serverProcAttr()
	if err := s.cmd.Start(); err != nil {
		s.tb.Fatalf("start redis-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := s.ping(); err == nil {
			return
		} else if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
			s.tb.Fatalf("redis-server did not answer PING within 10s: %v\n%s", err, log)
		}
		time.Sleep(5 * time.Millisecond) // waiting for an external process to listen
	}
}

func (s *Server) dial() (net.Conn, error) {
	if s.Sock != "" {
		return net.DialTimeout("unix", s.Sock, time.Second)
	}
	return net.DialTimeout("tcp", s.Addr, time.Second)
}

func (s *Server) ping() error {
	out, err := s.Do("PING")
	if err != nil {
		return err
	}
	if out != "PONG" {
		return fmt.Errorf("PING answered %q", out)
	}
	return nil
}

// Do sends one command on a fresh connection and returns the first line of the
// reply without its type byte (simple strings, integers, errors, bulk
// lengths). It is for setup and inspection in tests, not for load.
func (s *Server) Do(args ...string) (string, error) {
	c, err := s.dial()
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("empty reply")
	}
	switch line[0] {
	case '-':
		return "", fmt.Errorf("redis: %s", line[1:])
	case '$':
		if line == "$-1" {
			return "", nil
		}
		v, err := r.ReadString('\n')
		return strings.TrimRight(v, "\r\n"), err
	}
	return line[1:], nil
}

// Stop kills the server (it keeps nothing on disk). Safe to call twice.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// Restart stops the server and starts it again on the same address, empty.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Stop()
	if s.Sock != "" {
		os.Remove(s.Sock)
	}
	s.start()
}

// FreePort returns a loopback TCP port that was free a moment ago (bind :0,
// close). It never returns 6379.
func FreePort(tb TB) int {
	tb.Helper()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("find a free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if port != 6379 {
			return port
		}
	}
}

// Refusing users of a server after Restrict: the default user needs
// RestrictedPassword; ReaderUser (password ReaderPassword) may connect and
// read but not run scripts; NoSubUser (NoSubPassword) may do everything a
// lock holder does but SSUBSCRIBE, so it can hold locks but not wait for
// one; NoChanUser (NoChanPassword) may run SSUBSCRIBE but has no channel
// permission (it may publish from scripts only to channels it may access:
// none), so it too cannot wait.
const (
	RestrictedPassword = "s3cret-pass"
	ReaderUser         = "reader"
	ReaderPassword     = "reader-pass"
	NoSubUser          = "nosub"
	NoSubPassword      = "nosub-pass"
	NoChanUser         = "nochan"
	NoChanPassword     = "nochan-pass"
)

// Restrict makes the server refuse anonymous clients and adds the refusing
// users above, for tests of refusals (authentication, ACL). It is set after
// start because the server's own PING check has no password; Do keeps
// working only for commands sent before it.
func (s *Server) Restrict() {
	s.tb.Helper()
	for _, cmd := range [][]string{
		{"ACL", "SETUSER", ReaderUser, "on", ">" + ReaderPassword, "~*", "+@read", "+ping", "+hello", "+client"},
		{"ACL", "SETUSER", NoSubUser, "on", ">" + NoSubPassword, "~*", "&*", "+@all", "-ssubscribe"},
		{"ACL", "SETUSER", NoChanUser, "on", ">" + NoChanPassword, "~*", "resetchannels", "+@all"},
		{"CONFIG", "SET", "requirepass", RestrictedPassword},
	} {
		if _, err := s.Do(cmd...); err != nil {
			s.tb.Fatalf("%v: %v", cmd, err)
		}
	}
}
