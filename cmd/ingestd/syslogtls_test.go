package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
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
func syslogTLSDaemon(t *testing.T, dir, certFile, keyFile string) (*daemon, string) {
	t.Helper()
	d := startDaemon(t, dir, fmt.Sprintf("tls:\n  cert_file: %s\n  key_file: %s\nsyslog:\n  listen_tls: 127.0.0.1:0\nreport:\n  schedule: \"off\"\n", certFile, keyFile))
	m := regexp.MustCompile(`msg="listening for syslog" transport=tls addr=(\S+)`).FindStringSubmatch(d.log.String())
	if m == nil {
		t.Fatalf("no syslog TLS listener in the log:\n%s", d.log)
	}
	return d, m[1]
}

// Syslog over TLS (RFC 5425): a client that checks the daemon's
// certificate sends octet-counted RFC 5424 messages; each is stored once,
// counted under transport "tls". A plain-text client gets nothing stored.
func TestSyslogTLS(t *testing.T) {
	dir, certDir := t.TempDir(), t.TempDir()
	_, pool, certFile, keyFile := testCA(t, certDir)
	d, addr := syslogTLSDaemon(t, dir, certFile, keyFile)
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	for i := 0; i < n; i++ {
		msg := fmt.Sprintf("<165>1 2026-11-03T10:00:%02dZ host.example tlsapp 42 ID%d - tls message %d", i, i, i)
		fmt.Fprintf(c, "%d %s", len(msg), msg)
	}
	c.Close()
	// Plain text to the TLS port is a failed handshake, not a message.
	if p, err := net.Dial("tcp", addr); err == nil {
		fmt.Fprintf(p, "<13>1 2026-11-03T10:00:00Z h a - - - plain\n")
		p.Close()
	}
	waitFor(t, "the TLS messages in the metrics", func() bool {
		return scrape(t, d)[`ingestd_syslog_messages_total{transport="tls"}`] == n
	})
	d.stop()
	seen := map[string]bool{}
	for _, l := range allStored(t, dir) {
		var s syslogStored
		if err := json.Unmarshal([]byte(l), &s); err != nil {
			t.Fatal(err)
		}
		if seen[s.Message] || !strings.HasPrefix(s.Message, "tls message ") || s.AppName != "tlsapp" || s.Hostname != "host.example" || *s.Facility != 20 || *s.Severity != 5 {
			t.Fatalf("stored %s", l)
		}
		seen[s.Message] = true
	}
	if len(seen) != n {
		t.Fatalf("stored %d messages, want %d", len(seen), n)
	}
	// listen_tls without a certificate stops the start with a message.
	out, code := runCLI(t, "serve", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--config", writeConfig(t, "syslog:\n  listen_tls: 127.0.0.1:0\n"))
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
	rsyslogd, err := exec.LookPath("rsyslogd")
	if err != nil {
		t.Skip("rsyslogd not installed (apt-get install rsyslog rsyslog-gnutls); .ci/run installs it")
	}
	if !globExists("/usr/lib/*/rsyslog/lmnsd_gtls.so") {
		t.Skip("rsyslog's TLS driver not installed (apt-get install rsyslog-gnutls); .ci/run installs it")
	}
	dir, work := t.TempDir(), t.TempDir()
	caFile, _, certFile, keyFile := testCA(t, work)
	d, addr := syslogTLSDaemon(t, dir, certFile, keyFile)
	_, port, _ := net.SplitHostPort(addr)
	logFile := filepath.Join(work, "app.log")
	var lines strings.Builder
	const n = 200
	for i := 0; i < n; i++ {
		fmt.Fprintf(&lines, "rsyslog tls line %d with \"quotes\" and é\n", i)
	}
	if err := os.WriteFile(logFile, []byte(lines.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(work, "rsyslog.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`global(workDirectory=%q DefaultNetstreamDriverCAFile=%q)
module(load="imfile" mode="polling" PollingInterval="1")
input(type="imfile" File=%q Tag="tls-app" Facility="local4" Severity="notice")
action(type="omfwd" target="localhost" port=%q protocol="tcp" template="RSYSLOG_SyslogProtocol23Format" TCP_Framing="octet-counted"
       StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/name" StreamDriverPermittedPeers="localhost")
`, work, caFile, logFile, port)), 0o600)
	cmd := exec.Command(rsyslogd, "-n", "-f", conf, "-i", filepath.Join(work, "rsyslogd.pid"))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	for deadline := time.Now().Add(30 * time.Second); scrape(t, d)[`ingestd_syslog_messages_total{transport="tls"}`] != n; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("rsyslog's messages did not arrive over TLS; rsyslogd said: %s", out.String())
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	d.stop()
	seen := map[string]bool{}
	for _, l := range allStored(t, dir) {
		var s syslogStored
		if err := json.Unmarshal([]byte(l), &s); err != nil {
			t.Fatal(err)
		}
		if seen[s.Message] || !strings.HasPrefix(s.Message, "rsyslog tls line ") || s.AppName != "tls-app" {
			t.Fatalf("stored %s", l)
		}
		seen[s.Message] = true
	}
	if len(seen) != n {
		t.Fatalf("stored %d lines, want %d", len(seen), n)
	}
}

func globExists(pattern string) bool { m, _ := filepath.Glob(pattern); return len(m) > 0 }
