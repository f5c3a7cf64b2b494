package storage

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/e2e"

	"github.com/ingestd/ingestd/internal/testenv"
	"github.com/klauspost/compress/zstd"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

func findVersitygw(t *testing.T) string {
	if p := e2e.LookVersitygw(); p != "" {
		return p
	}
	testenv.Missing(t, "versitygw", "go install github.com/versity/versitygw/cmd/versitygw@v1.8.0")
	return ""
}

// startS3 starts versitygw (or skips) and makes a bucket.
func startS3(t *testing.T, bucket string) (*e2e.S3Server, *minio.Client) {
	t.Helper()
	s3 := &e2e.S3Server{Bin: findVersitygw(t), Dir: t.TempDir(), Addr: e2e.FreeAddr(t)}
	s3.Start(t)
	c, err := minio.New(s3.Addr, &minio.Options{Creds: credentials.NewStaticV4(e2e.S3Key, e2e.S3Secret, "")})
	if err == nil {
		err = c.MakeBucket(context.Background(), bucket, minio.MakeBucketOptions{})
	}
	if err != nil {
		s3.Stop()
		t.Fatal(err)
	}
	return s3, c
}

// s3CLIConfig writes a config whose storage section reaches the test server.
func s3CLIConfig(t *testing.T, s3 *e2e.S3Server, bucket string) string {
	p := filepath.Join(t.TempDir(), "cli.yaml")
	os.WriteFile(p, []byte(fmt.Sprintf("storage:\n  endpoint: %s\n  bucket: %s\n  access_key: %s\n  secret_key: %s\n", s3.Addr, bucket, e2e.S3Key, e2e.S3Secret)), 0o600)
	return p
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
		raw, err := dec.DecodeAll(e2e.GetObject(t, c, bucket, o.Key), nil)
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
	t.Parallel()
	s3, c := startS3(t, "logs")
	defer s3.Stop()
	dir := t.TempDir()
	yaml := fmt.Sprintf("node_id: node-a\nstorage:\n  endpoint: %s\n  bucket: logs\n  prefix: prod\n  access_key: %s\n  secret_key: %s\n  interval: 200ms\n  delete_after: 0s\n"+
		"segments:\n  block_age: 100ms\n  seal_grace: 0s\n  seal_idle: 300ms\nreport:\n  schedule: \"off\"\n", s3.Addr, e2e.S3Key, e2e.S3Secret)
	d := e2e.Start(t, dir, yaml)
	sent := map[string]bool{}
	post := func(day, n int) {
		var b bytes.Buffer
		for i := 0; i < n; i++ {
			l := fmt.Sprintf(`{"ts":"2026-10-%02dT10:00:%02dZ","day":%d,"i":%d}`, day, i%60, day, i)
			sent[l] = true
			b.WriteString(l + "\n")
		}
		if r := d.Post(t, "/v1/ingest", b.Bytes(), nil); r.Code != 200 {
			t.Fatalf("post: %d %s", r.Code, r.Body)
		}
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s\n%s", what, d.Log)
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
	waitFor("local copies removed", func() bool { return strings.Count(d.Log.String(), "local copy removed") >= 3 })
	if i, j := strings.Index(d.Log.String(), "shipped partial"), strings.Index(d.Log.String(), "local copy removed"); i < 0 || j < i {
		t.Fatalf("a local copy was removed before its day's partial was shipped\n%s", d.Log)
	}

	// The store goes down: intake goes on, the new day waits in the backlog.
	s3.Stop()
	post(4, 300)
	waitFor("an upload error", func() bool { return strings.Contains(d.Log.String(), "shipping failed") })
	resp, err := d.Client.Get(d.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(m), "ingestd_ship_backlog_files 1") {
		t.Fatalf("backlog while the store is down:\n%s", grepLines(string(m), "ingestd_ship"))
	}
	if r := d.Post(t, "/v1/ingest", []byte(`{"ts":"2026-10-05T10:00:00Z","day":5,"i":0}`), nil); r.Code != 200 {
		t.Fatalf("intake while the store is down: %d", r.Code)
	}
	sent[`{"ts":"2026-10-05T10:00:00Z","day":5,"i":0}`] = true
	// Back up: the backlog drains.
	s3.Start(t)
	waitFor("the backlog shipped", func() bool { return compactedDays() == 5 && count(".partial.json") == 5 })
	d.Stop()

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
	if text, code := e2e.CLI(t, "report", "--config", cliCfg, "--month", "2026-10", "--source", "s3://logs/prod", "--out", out); code != 0 ||
		!strings.Contains(text, fmt.Sprintf("%d records over 5 days (5 from daily partials, 0 scanned)", len(sent))) {
		t.Fatalf("report --source: exit %d\n%s", code, text)
	}
	if text, code := e2e.CLI(t, "verify", "--config", cliCfg, "--source", "s3://logs/prod"); code != 0 {
		t.Fatalf("verify --source: exit %d\n%s", code, text)
	}
	if text, code := e2e.CLI(t, "cat", "--config", cliCfg, "--source", "s3://logs/prod"); code != 0 || strings.Count(text, "\n") != len(sent) {
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
	if text, code := e2e.CLI(t, "verify", "--config", cliCfg, "--source", "s3://logs/prod"); code != 1 || !strings.Contains(text, "PROBLEM s3://logs/"+badKey) {
		t.Fatalf("verify --source with a damaged object: exit %d\n%s", code, text)
	}
	if text, code := e2e.CLI(t, "cat", "--config", cliCfg, "--source", "s3://logs/prod"); code != 1 || !strings.Contains(text, badKey) {
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
	t.Parallel()
	s3, c := startS3(t, "logs")
	defer s3.Stop()
	dir := t.TempDir()
	// First, 20 past days of data with shipping off; a stop seals them.
	d := e2e.Start(t, dir, "report:\n  schedule: \"off\"\n  partials: false\n")
	sent := map[string]bool{}
	for day := 1; day <= 20; day++ {
		var b bytes.Buffer
		for i := 0; i < 300; i++ {
			l := fmt.Sprintf(`{"ts":"2026-09-%02dT%02d:00:00Z","d":%d,"i":%d}`, day, i%24, day, i)
			sent[l] = true
			b.WriteString(l + "\n")
		}
		if r := d.Post(t, "/v1/ingest", b.Bytes(), nil); r.Code != 200 {
			t.Fatal(r.Body)
		}
	}
	d.Stop()
	yaml := fmt.Sprintf("node_id: n1\nstorage:\n  endpoint: %s\n  bucket: logs\n  access_key: %s\n  secret_key: %s\n  interval: 100ms\n  delete_after: -1s\n"+
		"report:\n  schedule: \"off\"\n  partials: false\n", s3.Addr, e2e.S3Key, e2e.S3Secret)
	// Start with shipping on: it compacts and ships; kill -9 once a few went out.
	d = e2e.Start(t, dir, yaml)
	deadline := time.Now().Add(60 * time.Second)
	for strings.Count(d.Log.String(), "msg=shipped") < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	d.Kill()
	shippedBefore := strings.Count(d.Log.String(), "msg=shipped")
	if shippedBefore < 3 || shippedBefore >= 20 { // else the kill proved nothing about shipping
		t.Fatalf("the kill landed after %d of 20 uploads, not while shipping\n%s", shippedBefore, d.Log)
	}
	// Restart: the rest ships, nothing twice.
	d = e2e.Start(t, dir, yaml)
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
			t.Fatalf("%d of 20 days in the bucket\n%s", n, d.Log)
		}
		time.Sleep(200 * time.Millisecond)
	}
	d.Stop()
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
