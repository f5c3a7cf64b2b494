package daemon

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/e2e"

	"github.com/ingestd/ingestd/bench"
)

func TestOpenListenNeedsTokensOrFlag(t *testing.T) {
	t.Parallel()
	out, code := e2e.CLI(t, "serve", "--data-dir", t.TempDir(), "--listen", "0.0.0.0:0")
	if code != 2 || !strings.Contains(out, "--open") {
		t.Fatalf("non-loopback listen without tokens: exit %d\n%s", code, out)
	}
	// With --open it starts.
	cmd := exec.Command(e2e.Bin, "serve", "--data-dir", t.TempDir(), "--listen", "0.0.0.0:0", "--open")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "listening") {
			return
		}
	}
	t.Fatal("serve --open did not start")
}

func TestTokenFileProducersRateLimitAndReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tf := filepath.Join(t.TempDir(), "tokens")
	os.WriteFile(tf, []byte("# producers\nshipper-a aaaaaaaaaaaaaaaaaaaa\nshipper-b bbbbbbbbbbbbbbbbbbbb 500\n"), 0o600)
	d := e2e.Start(t, dir, "auth:\n  token_file: "+tf+"\n")
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	rec := func(n int) []byte {
		return []byte(strings.Repeat(`{"ts":"2026-11-20T10:00:00Z","m":"x"}`+"\n", n))
	}
	if r := d.Post(t, "/v1/ingest", rec(3), bearer("aaaaaaaaaaaaaaaaaaaa")); r.Code != 200 {
		t.Fatalf("shipper-a: %d %s", r.Code, r.Body)
	}
	r := d.Post(t, "/v1/ingest", rec(1), bearer("not-a-known-token-at-all"))
	if r.Code != 401 || r.Hdr.Get("WWW-Authenticate") == "" {
		t.Fatalf("unknown token: %d %v", r.Code, r.Hdr)
	}
	if r := d.Post(t, "/v1/ingest", rec(1), nil); r.Code != 401 {
		t.Fatalf("no token: %d", r.Code)
	}
	// shipper-b may store 500 records/s: a burst of 500 passes, the next is 429.
	if r := d.Post(t, "/v1/ingest", rec(500), bearer("bbbbbbbbbbbbbbbbbbbb")); r.Code != 200 {
		t.Fatalf("shipper-b first: %d %s", r.Code, r.Body)
	}
	r = d.Post(t, "/v1/ingest", rec(500), bearer("bbbbbbbbbbbbbbbbbbbb"))
	if r.Code != 429 || r.Hdr.Get("Retry-After") == "" {
		t.Fatalf("shipper-b over its rate: %d %s %v", r.Code, r.Body, r.Hdr)
	}
	time.Sleep(1100 * time.Millisecond)
	if r := d.Post(t, "/v1/ingest", rec(500), bearer("bbbbbbbbbbbbbbbbbbbb")); r.Code != 200 {
		t.Fatalf("shipper-b after a second: %d %s", r.Code, r.Body)
	}
	resp, err := d.Client.Get(d.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`ingestd_producer_records_total{producer="shipper-a"} 3`, `ingestd_producer_records_total{producer="shipper-b"} 1000`,
		`ingestd_producer_rate_limited_total{producer="shipper-b"} 1`} {
		if !strings.Contains(string(m), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(string(m), "aaaaaaaaaa") || strings.Contains(d.Log.String(), "aaaaaaaaaa") {
		t.Fatal("a token appears in the metrics or the log")
	}
	// SIGHUP re-reads the file: a's token is revoked, c's works; a bad file
	// keeps the current tokens.
	os.WriteFile(tf, []byte("shipper-c cccccccccccccccccccc\n"), 0o600)
	d.Cmd.Process.Signal(syscall.SIGHUP)
	e2e.WaitLog(t, d, "tokens reloaded")
	if r := d.Post(t, "/v1/ingest", rec(1), bearer("aaaaaaaaaaaaaaaaaaaa")); r.Code != 401 {
		t.Fatalf("revoked token: %d", r.Code)
	}
	if r := d.Post(t, "/v1/ingest", rec(1), bearer("cccccccccccccccccccc")); r.Code != 200 {
		t.Fatalf("new token: %d", r.Code)
	}
	os.WriteFile(tf, []byte("shipper-d short\n"), 0o600)
	d.Cmd.Process.Signal(syscall.SIGHUP)
	e2e.WaitLog(t, d, "tokens not reloaded")
	if r := d.Post(t, "/v1/ingest", rec(1), bearer("cccccccccccccccccccc")); r.Code != 200 {
		t.Fatalf("after a bad token file: %d", r.Code)
	}
	d.Stop()
}

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T, dir, name string) (certFile, keyFile string, der []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile, der
}

func trusting(der []byte) *http.Client {
	pool := x509.NewCertPool()
	c, _ := x509.ParseCertificate(der)
	pool.AddCert(c)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

func TestTLSAndCertificateReload(t *testing.T) {
	t.Parallel()
	certDir := t.TempDir()
	certFile, keyFile, der1 := selfSigned(t, certDir, "first")
	d := e2e.Start(t, t.TempDir(), "tls:\n  cert_file: "+certFile+"\n  key_file: "+keyFile+"\n")
	body := []byte(`{"ts":"2026-11-20T10:00:00Z"}`)
	c1 := trusting(der1)
	post := func(c *http.Client) (*http.Response, error) {
		resp, err := c.Post(d.URL+"/v1/ingest", "application/x-ndjson", strings.NewReader(string(body)))
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return resp, err
	}
	if resp, err := post(c1); err != nil || resp.StatusCode != 200 {
		t.Fatalf("https with the first certificate: %v %v", resp, err)
	}
	if _, err := http.Post(strings.Replace(d.URL, "https", "http", 1)+"/v1/ingest", "", strings.NewReader(string(body))); err == nil {
		// fasthttp answers plain HTTP on a TLS port with a TLS alert / close
		t.Log("plain HTTP got an answer on the TLS port")
	}
	// A new certificate and SIGHUP: the open connection keeps working, new
	// connections get the new certificate.
	_, _, der2 := selfSigned(t, certDir, "second")
	d.Cmd.Process.Signal(syscall.SIGHUP)
	e2e.WaitLog(t, d, "certificate reloaded")
	if resp, err := post(c1); err != nil || resp.StatusCode != 200 {
		t.Fatalf("kept-alive connection after reload: %v %v", resp, err)
	}
	resp, err := post(trusting(der2))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("new connection after reload: %v %v", resp, err)
	}
	if got := resp.TLS.PeerCertificates[0].Subject.CommonName; got != "second" {
		t.Fatalf("new connection got certificate %q", got)
	}
	if _, err := post(&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: x509.NewCertPool()}}}); err == nil {
		t.Fatal("an untrusted client connected")
	}
	d.Stop()
}

// Everything the daemon and the report write under the data directory is
// private to its user: directories 0700, files 0600.
func TestDataFilesArePrivate(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	d := e2e.Start(t, data, "report:\n  schedule: \"off\"\n")
	if r := d.Post(t, "/v1/ingest", []byte(`{"ts":"2026-10-20T10:00:00Z"}`), map[string]string{"Idempotency-Key": "k1"}); r.Code != 200 {
		t.Fatal(r.Body)
	}
	d.Stop()
	if out, code := e2e.CLI(t, "report", "--month", "2026-10", "--data-dir", data); code != 0 {
		t.Fatal(out)
	}
	n := 0
	filepath.Walk(data, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		n++
		if info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is %v: readable by others", p, info.Mode().Perm())
		}
		return nil
	})
	if n < 8 {
		t.Fatalf("only %d paths under the data dir", n)
	}
}

// TestOverloadKeepsAnsweringLosesNothing: many more bytes offered than the
// buffer budget holds. Every request gets 200 or 503 with Retry-After, never
// a hang or another code, and every 200 is stored exactly once.
func TestOverloadKeepsAnsweringLosesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := e2e.Start(t, dir, "buffers:\n  max_bytes: 2MiB\n  memory_limit: 0\nsegments:\n  block_size: 256KiB\nhttp:\n  max_body: 1MiB\nreport:\n  schedule: \"off\"\n")
	w := bench.Workload{Seed: 9, Shape: bench.ShapeLogs, Batch: 1000, Form: "ndjson", Compression: "none", Days: 1}
	var acks bytes.Buffer
	res, err := bench.Run(context.Background(), w, bench.LoadConfig{URL: d.URL, Conns: 32, Duration: 4 * time.Second,
		Timeout: 30 * time.Second, AckLog: &acks, PID: d.Cmd.Process.Pid})
	if err != nil {
		t.Fatal(err)
	}
	for code, n := range res.Status {
		if code != "200" && code != "503" {
			t.Fatalf("%d answers %s under overload: %+v", n, code, res.Status)
		}
	}
	if res.Status["503"] == 0 || res.Status["200"] == 0 {
		t.Fatalf("want both 200 and 503 under a 2 MiB budget with 32 × 280 KB in flight: %+v", res.Status)
	}
	d.Stop()
	v, err := bench.Verify(context.Background(), dir, bytes.NewReader(acks.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK || v.RecordsStored != res.RecordsAcked {
		t.Fatalf("verify after overload: %+v", v)
	}
	t.Logf("answers %v, %d records acknowledged and stored once, daemon peak RSS %.0f MB", res.Status, res.RecordsAcked, res.DaemonHWMMB)
}

func TestConnectionLimits(t *testing.T) {
	t.Parallel()
	d := e2e.Start(t, t.TempDir(), "http:\n  max_connections: 4\n  max_conns_per_ip: 2\nreport:\n  schedule: \"off\"\n")
	addr := strings.TrimPrefix(d.URL, "http://")
	d.Client.CloseIdleConnections() // the readiness poll's keep-alive connection
	time.Sleep(100 * time.Millisecond)
	// answer reads what the server says on a fresh connection that sends
	// nothing: nothing (kept open) or a refusal.
	answer := func(c net.Conn) string {
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		b := make([]byte, 64)
		n, _ := c.Read(b)
		return string(b[:n])
	}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	time.Sleep(200 * time.Millisecond)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if got := answer(c); !strings.HasPrefix(got, "HTTP/1.1 429") {
		t.Fatalf("third connection from one IP: %q", got)
	}
	c.Close()
	// From other loopback addresses the per-IP limit does not bite, the total does.
	for i, ip := range []string{"127.0.0.2", "127.0.0.3"} {
		dl := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		c, err := dl.Dial("tcp", addr)
		if err != nil {
			t.Skipf("cannot dial from %s: %v", ip, err)
		}
		conns = append(conns, c)
		if got := answer(c); got != "" {
			t.Fatalf("connection %d from %s refused: %q", i+3, ip, got)
		}
	}
	dl := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.4")}}
	c, err = dl.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if got := answer(c); !strings.HasPrefix(got, "HTTP/1.1 503") {
		t.Fatalf("fifth connection in total: %q", got)
	}
	c.Close()
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	time.Sleep(200 * time.Millisecond)
	if r := d.Post(t, "/v1/ingest", []byte(`{"ts":"2026-11-20T10:00:00Z"}`), nil); r.Code != 200 {
		t.Fatalf("after the connections closed: %d", r.Code)
	}
	d.Stop()
}
