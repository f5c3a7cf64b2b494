package clients

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/e2e"

	"github.com/ingestd/ingestd/internal/testenv"
)

// testCA writes a CA certificate and a server certificate it signed, for
// localhost and 127.0.0.1 (what a syslog client checks), and returns the
// CA's file and pool and the server's files.
func testCA(t *testing.T, dir string) (caFile string, pool *x509.CertPool, certFile, keyFile string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ingestd test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	caFile, certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600)
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	return caFile, pool, certFile, keyFile
}

// syslogTLSDaemon starts a daemon with syslog.listen_tls and returns it
// with the TLS listener's address.
func syslogTLSDaemon(t *testing.T, dir, certFile, keyFile string) (*e2e.Daemon, string) {
	t.Helper()
	d := e2e.Start(t, dir, fmt.Sprintf("tls:\n  cert_file: %s\n  key_file: %s\nsyslog:\n  listen_tls: 127.0.0.1:0\nreport:\n  schedule: \"off\"\n", certFile, keyFile))
	return d, listenerAddr(t, d, `msg="listening for syslog" transport=tls addr=(\S+)`)
}

// Syslog over TLS (RFC 5425): a client that checks the daemon's
// certificate sends octet-counted RFC 5424 messages; each is stored once,
// counted under transport "tls". A plain-text client gets nothing stored.
func TestSyslogTLS(t *testing.T) {
	t.Parallel()
	dir, certDir := t.TempDir(), t.TempDir()
	_, pool, certFile, keyFile := testCA(t, certDir)
	d, addr := syslogTLSDaemon(t, dir, certFile, keyFile)
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	const n = rsyslogN
	for i := 0; i < n; i++ {
		msg := fmt.Sprintf("<165>1 2026-11-03T10:%02d:%02dZ host.example tlsapp 42 ID%d - tls message %d", i/60, i%60, i, i)
		fmt.Fprintf(c, "%d %s", len(msg), msg)
	}
	c.Close()
	// Plain text to the TLS port is a failed handshake, not a message.
	if p, err := net.Dial("tcp", addr); err == nil {
		fmt.Fprintf(p, "<13>1 2026-11-03T10:00:00Z h a - - - plain\n")
		p.Close()
	}
	e2e.WaitFor(t, "the TLS messages in the metrics", func() bool {
		return e2e.Scrape(t, d)[`ingestd_syslog_messages_total{transport="tls"}`] == n
	})
	d.Stop()
	checkRsyslogStored(t, dir, "tls message", func(s syslogStored) bool {
		return s.AppName == "tlsapp" && s.Hostname == "host.example" && *s.Facility == 20 && *s.Severity == 5
	})
	// listen_tls without a certificate stops the start with a message.
	out, code := e2e.CLI(t, "serve", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--config", writeConfig(t, "syslog:\n  listen_tls: 127.0.0.1:0\n"))
	if code != 2 || !strings.Contains(out, "syslog.listen_tls needs a certificate") {
		t.Fatalf("listen_tls without a certificate: exit %d, %s", code, out)
	}
}

func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ingestd.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// rsyslog, unmodified, forwards a tailed file over TLS (omfwd with the
// gtls stream driver, checking the daemon's certificate against the CA and
// its name): every line is stored once.
func TestSyslogTLSFromRsyslog(t *testing.T) {
	t.Parallel()
	rsyslogd, err := exec.LookPath("rsyslogd")
	if err != nil {
		testenv.Missing(t, "rsyslogd", "apt-get install rsyslog rsyslog-gnutls")
	}
	if !globExists("/usr/lib/*/rsyslog/lmnsd_gtls.so") {
		testenv.Missing(t, "rsyslog's TLS driver", "apt-get install rsyslog-gnutls")
	}
	dir := t.TempDir()
	caFile, _, certFile, keyFile := testCA(t, t.TempDir())
	d, addr := syslogTLSDaemon(t, dir, certFile, keyFile)
	_, port, _ := net.SplitHostPort(addr)
	rsyslogForward(t, d, rsyslogd, "rsyslog tls line", "tls",
		fmt.Sprintf(`target="localhost" port=%q StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/name" StreamDriverPermittedPeers="localhost"`, port),
		fmt.Sprintf("DefaultNetstreamDriverCAFile=%q", caFile))
	d.Stop()
	checkRsyslogStored(t, dir, "rsyslog tls line", func(s syslogStored) bool { return s.AppName == "tailed-app" })
}

func globExists(pattern string) bool { m, _ := filepath.Glob(pattern); return len(m) > 0 }
