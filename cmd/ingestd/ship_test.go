package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/testenv"
	"github.com/klauspost/compress/zstd"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

const s3Key, s3Secret = "ingestdtestkey", "ingestdtestsecret0123456789"

// s3server is a versitygw started by the test on loopback.
type s3server struct {
	bin, dir, addr string
	cmd            *exec.Cmd
}

func findVersitygw(t *testing.T) string {
	if p := lookVersitygw(); p != "" {
		return p
	}
	testenv.Missing(t, "versitygw", "go install github.com/versity/versitygw/cmd/versitygw@v1.8.0")
	return ""
}

// lookVersitygw returns the versitygw binary, or "" when it is not installed.
func lookVersitygw() string {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	gp, _ := exec.Command("go", "env", "GOPATH").Output()
	if p := filepath.Join(strings.TrimSpace(string(gp)), "bin", "versitygw"); fileExists(p) {
		return p
	}
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func (s *s3server) start(t *testing.T) {
	t.Helper()
	s.cmd = exec.Command(s.bin, "--port", s.addr, "posix", s.dir)
	s.cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s3Key, "ROOT_SECRET_KEY="+s3Secret)
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", s.addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("versitygw did not listen")
}

func (s *s3server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		s.cmd = nil
	}
}

// startS3 starts versitygw (or skips) and makes a bucket.
func startS3(t *testing.T, bucket string) (*s3server, *minio.Client) {
	t.Helper()
	s3 := &s3server{bin: findVersitygw(t), dir: t.TempDir(), addr: freeAddr(t)}
	s3.start(t)
	c, err := minio.New(s3.addr, &minio.Options{Creds: credentials.NewStaticV4(s3Key, s3Secret, "")})
	if err == nil {
		err = c.MakeBucket(context.Background(), bucket, minio.MakeBucketOptions{})
	}
	if err != nil {
		s3.stop()
		t.Fatal(err)
	}
	return s3, c
}

// s3CLIConfig writes a config whose storage section reaches the test server.
func s3CLIConfig(t *testing.T, s3 *s3server, bucket string) string {
	p := filepath.Join(t.TempDir(), "cli.yaml")
	os.WriteFile(p, []byte(fmt.Sprintf("storage:\n  endpoint: %s\n  bucket: %s\n  access_key: %s\n  secret_key: %s\n", s3.addr, bucket, s3Key, s3Secret)), 0o600)
	return p
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// bucketRecords reads every segment object in the bucket and returns its record
// lines, failing on a key outside the layout.
func bucketRecords(t *testing.T, c *minio.Client, bucket string) (map[string]int, []string) {
	t.Helper()
	ctx := context.Background()
	dec, _ := zstd.NewReader(nil)
	defer dec.Close()
	recs := map[string]int{}
	var keys []string
	for o := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		if !strings.HasSuffix(o.Key, ".ndjson.zst") {
			continue // report partials
		}
		keys = append(keys, o.Key)
		obj, err := c.GetObject(ctx, bucket, o.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(obj)
		obj.Close()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := dec.DecodeAll(b, nil)
		if err != nil {
			t.Fatalf("%s: %v", o.Key, err)
		}
		for _, l := range strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n") {
			if l != "" {
				recs[l]++
			}
		}
	}
	return recs, keys
}

// TestShippingToS3 ships finished days to a real S3 server (versitygw),
// survives the store being down, and ends with every record in the bucket
// exactly once under <prefix>/dt=YYYY-MM-DD/<node>-<file>.
func TestShippingToS3(t *testing.T) {
	s3, c := startS3(t, "logs")
	defer s3.stop()
	dir := t.TempDir()
	yaml := fmt.Sprintf("node_id: node-a\nstorage:\n  endpoint: %s\n  bucket: logs\n  prefix: prod\n  access_key: %s\n  secret_key: %s\n  interval: 200ms\n  delete_after: 0s\n"+
		"segments:\n  block_age: 100ms\n  seal_grace: 0s\n  seal_idle: 300ms\nreport:\n  schedule: \"off\"\n", s3.addr, s3Key, s3Secret)
	d := startDaemon(t, dir, yaml)
	sent := map[string]bool{}
	post := func(day, n int) {
		var b bytes.Buffer
		for i := 0; i < n; i++ {
			l := fmt.Sprintf(`{"ts":"2026-10-%02dT10:00:%02dZ","day":%d,"i":%d}`, day, i%60, day, i)
			sent[l] = true
			b.WriteString(l + "\n")
		}
		if r := d.post(t, "/v1/ingest", b.Bytes(), nil); r.code != 200 {
			t.Fatalf("post: %d %s", r.code, r.body)
		}
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s\n%s", what, d.log)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	count := func(sub string) int {
		n := 0
		for o := range c.ListObjects(context.Background(), "logs", minio.ListObjectsOptions{Recursive: true}) {
			if strings.Contains(o.Key, sub) {
				n++
			}
		}
		return n
	}
	compactedDays := func() int { return count("/node-a-compact-") }
	for day := 1; day <= 3; day++ {
		post(day, 500)
	}
	waitFor("3 days shipped", func() bool { return compactedDays() == 3 })
	// Each day's report partial follows its file; the local copy goes only then.
	waitFor("3 partials shipped", func() bool { return count("/node-a.partial.json") == 3 })
	waitFor("local copies removed", func() bool { return strings.Count(d.log.String(), "local copy removed") >= 3 })
	if i, j := strings.Index(d.log.String(), "shipped partial"), strings.Index(d.log.String(), "local copy removed"); i < 0 || j < i {
		t.Fatalf("a local copy was removed before its day's partial was shipped\n%s", d.log)
	}

	// The store goes down: intake goes on, the new day waits in the backlog.
	s3.stop()
	post(4, 300)
	waitFor("an upload error", func() bool { return strings.Contains(d.log.String(), "shipping failed") })
	resp, err := d.client.Get(d.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(m), "ingestd_ship_backlog_files 1") {
		t.Fatalf("backlog while the store is down:\n%s", grepLines(string(m), "ingestd_ship"))
	}
	if r := d.post(t, "/v1/ingest", []byte(`{"ts":"2026-10-05T10:00:00Z","day":5,"i":0}`), nil); r.code != 200 {
		t.Fatalf("intake while the store is down: %d", r.code)
	}
	sent[`{"ts":"2026-10-05T10:00:00Z","day":5,"i":0}`] = true
	// Back up: the backlog drains.
	s3.start(t)
	waitFor("the backlog shipped", func() bool { return compactedDays() == 5 && count(".partial.json") == 5 })
	d.stop()

	recs, keys := bucketRecords(t, c, "logs")
	for _, k := range keys {
		if !strings.HasPrefix(k, "prod/dt=2026-10-0") || !strings.Contains(k, "/node-a-compact-") || !strings.HasSuffix(k, ".ndjson.zst") {
			t.Errorf("object key %s is not <prefix>/dt=YYYY-MM-DD/<node>-<file>", k)
		}
	}
	for l := range sent {
		if recs[l] != 1 {
			t.Fatalf("record %s is in the bucket %d times (%d objects)", l, recs[l], len(keys))
		}
	}
	if len(recs) != len(sent) {
		t.Fatalf("bucket holds %d records, sent %d", len(recs), len(sent))
	}
	// The report, cat and verify read the bucket.
	cliCfg := s3CLIConfig(t, s3, "logs")
	out := t.TempDir()
	if text, code := runCLI(t, "report", "--config", cliCfg, "--month", "2026-10", "--source", "s3://logs/prod", "--out", out); code != 0 ||
		!strings.Contains(text, fmt.Sprintf("%d records over 5 days (5 from daily partials, 0 scanned)", len(sent))) {
		t.Fatalf("report --source: exit %d\n%s", code, text)
	}
	if text, code := runCLI(t, "verify", "--config", cliCfg, "--source", "s3://logs/prod"); code != 0 {
		t.Fatalf("verify --source: exit %d\n%s", code, text)
	}
	if text, code := runCLI(t, "cat", "--config", cliCfg, "--source", "s3://logs/prod"); code != 0 || strings.Count(text, "\n") != len(sent) {
		t.Fatalf("cat --source: exit %d, %d lines, want %d", code, strings.Count(text, "\n"), len(sent))
	}
	// A damaged object (a byte flipped inside a block) is found by verify --source.
	ctx := context.Background()
	obj, err := c.GetObject(ctx, "logs", keys[0], minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	good, _ := io.ReadAll(obj)
	obj.Close()
	bad := append([]byte(nil), good...)
	bad[len(bad)/2] ^= 0x55
	badKey := "prod/dt=2026-10-09/node-z-compact-0000000000000001.ndjson.zst"
	if _, err := c.PutObject(ctx, "logs", badKey, bytes.NewReader(bad), int64(len(bad)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if text, code := runCLI(t, "verify", "--config", cliCfg, "--source", "s3://logs/prod"); code != 1 || !strings.Contains(text, "PROBLEM s3://logs/"+badKey) {
		t.Fatalf("verify --source with a damaged object: exit %d\n%s", code, text)
	}
	if text, code := runCLI(t, "cat", "--config", cliCfg, "--source", "s3://logs/prod"); code != 1 || !strings.Contains(text, badKey) {
		t.Fatalf("cat --source of a damaged object: exit %d\n%.2000s", code, text)
	}
	// Local copies were removed only after the store confirmed them.
	local, _ := filepath.Glob(filepath.Join(dir, "segments", "dt=2026-10-0[1-3]", "*.ndjson.zst"))
	if len(local) != 0 {
		t.Fatalf("local copies left: %v", local)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestShippingSurvivesKill9: the daemon is killed while it compacts and
// ships many days; after a restart every record is in the bucket exactly once.
func TestShippingSurvivesKill9(t *testing.T) {
	s3, c := startS3(t, "logs")
	defer s3.stop()
	dir := t.TempDir()
	// First, 20 past days of data with shipping off; a stop seals them.
	d := startDaemon(t, dir, "report:\n  schedule: \"off\"\n  partials: false\n")
	sent := map[string]bool{}
	for day := 1; day <= 20; day++ {
		var b bytes.Buffer
		for i := 0; i < 300; i++ {
			l := fmt.Sprintf(`{"ts":"2026-09-%02dT%02d:00:00Z","d":%d,"i":%d}`, day, i%24, day, i)
			sent[l] = true
			b.WriteString(l + "\n")
		}
		if r := d.post(t, "/v1/ingest", b.Bytes(), nil); r.code != 200 {
			t.Fatal(r.body)
		}
	}
	d.stop()
	yaml := fmt.Sprintf("node_id: n1\nstorage:\n  endpoint: %s\n  bucket: logs\n  access_key: %s\n  secret_key: %s\n  interval: 100ms\n  delete_after: -1s\n"+
		"report:\n  schedule: \"off\"\n  partials: false\n", s3.addr, s3Key, s3Secret)
	// Start with shipping on: it compacts and ships; kill -9 once a few went out.
	d = startDaemon(t, dir, yaml)
	deadline := time.Now().Add(60 * time.Second)
	for strings.Count(d.log.String(), "msg=shipped") < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	d.kill()
	shippedBefore := strings.Count(d.log.String(), "msg=shipped")
	if shippedBefore < 3 || shippedBefore >= 20 { // else the kill proved nothing about shipping
		t.Fatalf("the kill landed after %d of 20 uploads, not while shipping\n%s", shippedBefore, d.log)
	}
	// Restart: the rest ships, nothing twice.
	d = startDaemon(t, dir, yaml)
	deadline = time.Now().Add(90 * time.Second)
	for {
		n := 0
		for o := range c.ListObjects(context.Background(), "logs", minio.ListObjectsOptions{Recursive: true}) {
			if strings.Contains(o.Key, "/n1-compact-") {
				n++
			}
		}
		if n == 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 20 days in the bucket\n%s", n, d.log)
		}
		time.Sleep(200 * time.Millisecond)
	}
	d.stop()
	recs, keys := bucketRecords(t, c, "logs")
	for l := range sent {
		if recs[l] != 1 {
			t.Fatalf("record %s is in the bucket %d times (%d objects)", l, recs[l], len(keys))
		}
	}
	if len(recs) != len(sent) {
		t.Fatalf("bucket holds %d records, sent %d: %v", len(recs), len(sent), keys)
	}
	t.Logf("killed after %d uploads; after the restart %d objects hold all %d records once", shippedBefore, len(keys), len(sent))
}
