package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string // path of the CA certificate
}

func newTestCA(t *testing.T, dir, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{cert: cert, key: key, pem: filepath.Join(dir, name+".pem")}
	writePEM(t, ca.pem, "CERTIFICATE", der)
	return ca
}

// serverCert issues a certificate for 127.0.0.1 and writes it and its key.
func (ca *testCA) serverCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", kder)
	return certFile, keyFile
}

func writePEM(t *testing.T, path, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestSafety_tlsBackend: a TLS Redis is used for real through the backend
// block's tls { ca_file }, and a certificate the client cannot verify is a
// refusal (exit 5, the reason named), never "busy" and never a silent
// fallback.
func TestSafety_tlsBackend(t *testing.T) {
	dir := t.TempDir()
	ca, other := newTestCA(t, dir, "lockstep-test-ca"), newTestCA(t, dir, "someone-else-ca")
	certFile, keyFile := ca.serverCert(t, dir)
	tlsPort := strconv.Itoa(locktest.FreePort(t))
	locktest.StartServer(t, &locktest.ServerOptions{Args: []string{
		"--tls-port", tlsPort, "--tls-cert-file", certFile, "--tls-key-file", keyFile,
		"--tls-ca-cert-file", ca.pem, "--tls-auth-clients", "no",
	}})
	url := "rediss://127.0.0.1:" + tlsPort
	workflow := func(caFile string) string {
		return writeWorkflow(t, map[string]string{"main.hcl": fmt.Sprintf(`
lockstep {
  backend "redis" {
    url = %q
    tls {
      ca_file = %q
    }
  }
}
step "locked" {
  lock { key = "tls/job" }
  command = ["teststep", "print", "locked-step-ran"]
}
`, url, caFile)})
	}
	lockstepBin(t)

	good := workflow(ca.pem)
	code, p := runLockstep(t, good, nil, "run", ".")
	if code != 0 || !strings.Contains(p.stdout.String(), "locked-step-ran") {
		t.Fatalf("run over TLS with the right CA exited %d\nstderr:\n%s", code, p.stderr)
	}
	code, p = runLockstep(t, good, nil, "exec", "-config", ".", "tls/exec", "--", "teststep", "print", "exec-ran")
	if code != 0 {
		t.Fatalf("exec -config over TLS exited %d\nstderr:\n%s", code, p.stderr)
	}

	for name, args := range map[string][]string{
		"unknown CA (system roots)": {"exec", "-backend", url, "tls/refused", "--", "teststep", "print", "ran"},
		"the wrong ca_file":         {"exec", "-config", workflow(other.pem), "tls/refused", "--", "teststep", "print", "ran"},
	} {
		start := time.Now()
		code, p := runLockstep(t, "", nil, args...)
		stderr := p.stderr.String()
		t.Logf("tls refused (%s): exit %d in %s: %s", name, code, time.Since(start).Round(time.Millisecond), strings.TrimSpace(stderr))
		if code != exitUnavailable {
			t.Errorf("%s: exit %d, want %d", name, code, exitUnavailable)
		}
		if strings.Contains(p.stdout.String(), "ran") {
			t.Errorf("%s: the command ran without the lock", name)
		}
		if !strings.Contains(stderr, "certificate") {
			t.Errorf("%s: stderr does not name the certificate problem", name)
		}
	}
	t.Logf("tls backend: run and exec -config over TLS with tls { ca_file } succeeded")
}
