package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// TestTwoNodesBehindNginx: two daemons behind nginx take load, ship to one
// bucket without colliding, and the monthly report over the bucket counts
// every acknowledged record of both.
func TestTwoNodesBehindNginx(t *testing.T) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		t.Skip("nginx not installed (apt-get install nginx-light); .ci/run installs it")
	}
	s3, c := startS3(t, "fleet")
	defer s3.stop()
	var nodes []*daemon
	for _, id := range []string{"node-a", "node-b"} {
		yaml := fmt.Sprintf("node_id: %s\nstorage:\n  endpoint: %s\n  bucket: fleet\n  access_key: %s\n  secret_key: %s\n  interval: 200ms\n  delete_after: -1s\n"+
			"segments:\n  block_age: 100ms\n  seal_grace: 0s\n  seal_idle: 500ms\nreport:\n  schedule: \"off\"\n  partials: false\n", id, s3.addr, s3Key, s3Secret)
		nodes = append(nodes, startDaemon(t, t.TempDir(), yaml))
	}
	// nginx in front, round robin, loopback only; config made here.
	ngDir := t.TempDir()
	lb := freeAddr(t)
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
`, ngDir, strings.TrimPrefix(nodes[0].url, "http://"), strings.TrimPrefix(nodes[1].url, "http://"), lb)
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

	// Load through nginx: 4 clients, 15 requests each, 400 records a request
	// over 3 past days.
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := 0
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for r := 0; r < 15; r++ {
				var b bytes.Buffer
				for i := 0; i < 400; i++ {
					fmt.Fprintf(&b, `{"ts":"2026-10-%02dT%02d:%02d:00Z","g":%d,"r":%d,"i":%d}`+"\n", 10+i%3, i%24, r, g, r, i)
				}
				resp, err := http.Post("http://"+lb+"/v1/ingest", "application/x-ndjson", &b)
				if err != nil {
					t.Errorf("through nginx: %v", err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode == 200 {
					mu.Lock()
					acked += 400
					mu.Unlock()
				} else {
					t.Errorf("through nginx: %d", resp.StatusCode)
				}
			}
		}(g)
	}
	wg.Wait()
	// Each node had records of each day: 6 compacted objects in the end.
	deadline := time.Now().Add(60 * time.Second)
	var keys []string
	for {
		keys = keys[:0]
		for o := range c.ListObjects(context.Background(), "fleet", minio.ListObjectsOptions{Recursive: true}) {
			keys = append(keys, o.Key)
		}
		if len(keys) == 6 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, d := range nodes {
		d.stop()
	}
	a, b := 0, 0
	for _, k := range keys {
		a += strings.Count(k, "/node-a-compact-")
		b += strings.Count(k, "/node-b-compact-")
	}
	if a != 3 || b != 3 {
		t.Fatalf("objects %v: want 3 compacted days from each node", keys)
	}
	cliCfg := s3CLIConfig(t, s3, "fleet")
	out := t.TempDir()
	text, code := runCLI(t, "report", "--config", cliCfg, "--month", "2026-10", "--source", "s3://fleet", "--out", out)
	if code != 0 || !strings.Contains(text, fmt.Sprintf("%d records over 3 days", acked)) {
		t.Fatalf("report over the bucket: exit %d, want %d records\n%s", code, acked, text)
	}
}
