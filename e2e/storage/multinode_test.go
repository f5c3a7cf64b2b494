package storage

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/e2e"

	"github.com/minio/minio-go/v7"

	"github.com/ingestd/ingestd/bench"
	"github.com/ingestd/ingestd/internal/testenv"
)

// TestTwoNodesBehindNginx: two daemons behind nginx take the bench
// harness's load, ship their files and partials to one bucket without
// colliding (both number their WAL from 1), every acknowledged record is in
// the bucket once, and the monthly report over the bucket counts them all.
func TestTwoNodesBehindNginx(t *testing.T) {
	t.Parallel()
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		testenv.Missing(t, "nginx", "apt-get install nginx-light")
	}
	s3, c := startS3(t, "fleet")
	defer s3.Stop()
	var nodes []*e2e.Daemon
	for _, id := range []string{"node-a", "node-b"} {
		yaml := fmt.Sprintf("node_id: %s\nstorage:\n  endpoint: %s\n  bucket: fleet\n  access_key: %s\n  secret_key: %s\n  interval: 200ms\n  delete_after: 0s\n"+
			"segments:\n  block_age: 100ms\n  seal_grace: 0s\n  seal_idle: 500ms\nreport:\n  schedule: \"off\"\n", id, s3.Addr, e2e.S3Key, e2e.S3Secret)
		nodes = append(nodes, e2e.Start(t, t.TempDir(), yaml))
	}
	// nginx in front, round robin, loopback only; config made here.
	ngDir := t.TempDir()
	lb := e2e.FreeAddr(t)
	conf := fmt.Sprintf(`worker_processes 1;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_max_body_size 64m;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  upstream ingestd { server %[2]s; server %[3]s; keepalive 8; }
  server {
    listen %[4]s;
    location / {
      proxy_pass http://ingestd;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_request_buffering off;
    }
  }
}
`, ngDir, strings.TrimPrefix(nodes[0].URL, "http://"), strings.TrimPrefix(nodes[1].URL, "http://"), lb)
	os.WriteFile(filepath.Join(ngDir, "nginx.conf"), []byte(conf), 0o644)
	ng := exec.Command(nginx, "-p", ngDir, "-c", filepath.Join(ngDir, "nginx.conf"))
	if out, err := exec.Command(nginx, "-t", "-p", ngDir, "-c", filepath.Join(ngDir, "nginx.conf")).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	if err := ng.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { ng.Process.Kill(); ng.Wait() }()
	time.Sleep(300 * time.Millisecond)

	// Bench load through nginx: 8 connections, 240 requests of 500 records
	// over 3 past days (they seal, compact, get their partials and ship at once).
	w := bench.Workload{Seed: 8, Shape: bench.ShapeLogs, Batch: 500, Form: "ndjson", Compression: "gzip", Days: 3,
		Until: time.Date(2026, 10, 13, 0, 0, 0, 0, time.UTC)}
	var ackLog bytes.Buffer
	res, err := bench.Run(context.Background(), w, bench.LoadConfig{URL: "http://" + lb, Conns: 8, Requests: 240, AckLog: &ackLog})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status["200"] != 240 {
		t.Fatalf("through nginx: %v", res.Status)
	}
	// Each node had records of each day: 3 compacted files and 3 partials each.
	deadline := time.Now().Add(90 * time.Second)
	var keys []string
	for {
		keys = keys[:0]
		// The days' objects; beside them are the nodes' heartbeats and
		// WAL objects (continuous shipping).
		for o := range c.ListObjects(context.Background(), "fleet", minio.ListObjectsOptions{Prefix: "dt=", Recursive: true}) {
			keys = append(keys, o.Key)
		}
		if len(keys) == 12 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, d := range nodes {
		d.Stop()
	}
	count := func(sub string) (n int) {
		for _, k := range keys {
			n += strings.Count(k, sub)
		}
		return n
	}
	for _, node := range []string{"node-a", "node-b"} {
		if count("/"+node+"-compact-") != 3 || count("/"+node+".partial.json") != 3 {
			t.Fatalf("objects %v: want 3 compacted days and 3 partials from %s", keys, node)
		}
	}
	// Every acknowledged record is in the bucket exactly once, whichever node took it.
	v, err := bench.Verify(context.Background(), downloadBucket(t, c, "fleet"), bytes.NewReader(ackLog.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK || v.RecordsExpected != 120000 || v.RecordsStored != 120000 {
		t.Fatalf("bucket against the ack log: %+v", v)
	}
	// The monthly report over the bucket merges both nodes' partials.
	cliCfg := s3CLIConfig(t, s3, "fleet")
	text, code := e2e.CLI(t, "report", "--config", cliCfg, "--month", "2026-10", "--source", "s3://fleet", "--out", t.TempDir())
	if code != 0 || !strings.Contains(text, fmt.Sprintf("%d records over 3 days (3 from daily partials, 0 scanned)", v.RecordsExpected)) {
		t.Fatalf("report over the bucket: exit %d, want %d records from partials\n%s", code, v.RecordsExpected, text)
	}
	// And the same from a scan of every object by ranged reads.
	text, code = e2e.CLI(t, "report", "--config", cliCfg, "--month", "2026-10", "--source", "s3://fleet", "--out", t.TempDir(), "--rescan")
	if code != 0 || !strings.Contains(text, fmt.Sprintf("%d records over 3 days (0 from daily partials, 3 scanned)", v.RecordsExpected)) {
		t.Fatalf("rescan over the bucket: exit %d, want %d records\n%s", code, v.RecordsExpected, text)
	}
}

// downloadBucket copies the segment objects of a bucket into a new data
// directory's segments/dt=YYYY-MM-DD/ folders.
func downloadBucket(t *testing.T, c *minio.Client, bucket string) string {
	t.Helper()
	dir := t.TempDir()
	for o := range c.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		if !strings.HasSuffix(o.Key, ".ndjson.zst") {
			continue
		}
		dst := filepath.Join(dir, "segments", path.Base(path.Dir(o.Key)), path.Base(o.Key))
		if err := c.FGetObject(context.Background(), bucket, o.Key, dst, minio.GetObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
