package explore

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/e2e"
)

const (
	writerTok = "explore-writer-0123456789"
	readerTok = "explore-reader-0123456789"
)

// Every read API path and the page need the role read: no token gets 401
// (with a Basic challenge, so a browser asks), a write token 403; a read
// token, as a bearer or as basic auth's password, is served.
func TestExploreRoles(t *testing.T) {
	t.Parallel()
	d := e2e.Start(t, t.TempDir(), "auth:\n  tokens: [{name: app, token: "+writerTok+"}, {name: analyst, token: "+readerTok+", role: read}]\nreport:\n  schedule: \"off\"\n")
	q := "?" + vals("from", "2026-10-01", "to", "2026-10-02").Encode()
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("me:"+readerTok))
	for _, p := range []string{"/api/v1/query" + q, "/api/v1/hits" + q, "/api/v1/fields" + q, "/api/v1/tail", "/ui/", "/ui/app.js", "/ui"} {
		if r := d.Get(t, p, ""); r.Code != 401 || !strings.Contains(r.Hdr.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("%s without a token: %d %v", p, r.Code, r.Hdr)
		}
		if r := d.Get(t, p, "Bearer "+writerTok); r.Code != 403 || !strings.Contains(r.Body, "role write") {
			t.Errorf("%s with a write token: %d %s", p, r.Code, r.Body)
		}
		if strings.HasSuffix(p, "/tail") {
			continue // answered with a stream: TestTail
		}
		for _, auth := range []string{"Bearer " + readerTok, basic} {
			if r := d.Get(t, p, auth); r.Code != 200 && r.Code != 302 {
				t.Errorf("%s with a read token: %d %s", p, r.Code, r.Body)
			}
		}
	}
	if r := d.Post(t, "/api/v1/query", []byte(`{"from":"2026-10-01","to":"2026-10-02","by":["level"]}`),
		map[string]string{"Authorization": "Bearer " + readerTok, "Content-Type": "application/json"}); r.Code != 200 || strings.TrimSpace(r.Body) != "[\n]" {
		t.Errorf("POST JSON: %d %q", r.Code, r.Body)
	}
	if r := d.Post(t, "/api/v1/query", []byte("from=2026-10-01&to=2026-10-02&by=level&format=csv"),
		map[string]string{"Authorization": "Bearer " + readerTok, "Content-Type": "application/x-www-form-urlencoded"}); r.Code != 200 || r.Body != "level,count\n" {
		t.Errorf("POST form: %d %q", r.Code, r.Body)
	}
}

// The tail streams the records matching its filter as they become durable,
// as server-sent events and as NDJSON.
func TestTail(t *testing.T) {
	t.Parallel()
	d := e2e.Start(t, t.TempDir(), "report:\n  schedule: \"off\"\n")
	for _, format := range []string{"sse", "ndjson"} {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", d.URL+"/api/v1/tail?"+vals("where", `level == "error"`, "format", format).Encode(), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("tail %s: %v %v", format, err, resp)
		}
		lines := make(chan string, 100)
		go func() {
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if l := strings.TrimPrefix(sc.Text(), "data: "); strings.HasPrefix(l, "{") {
					lines <- l
				}
			}
			close(lines)
		}()
		var body strings.Builder
		for i := 0; i < 20; i++ {
			fmt.Fprintf(&body, `{"level":"%s","n":%d,"f":"%s"}`+"\n", []string{"info", "error"}[i%2], i, format)
		}
		if r := d.Post(t, "/v1/ingest", []byte(body.String()), nil); r.Code != 200 {
			t.Fatalf("post: %d %s", r.Code, r.Body)
		}
		for i := 1; i < 20; i += 2 {
			select {
			case l := <-lines:
				if !strings.Contains(l, fmt.Sprintf(`"level":"error","n":%d,"f":"%s"`, i, format)) || !strings.Contains(l, `"timestamp":`) {
					t.Errorf("tail %s: %s, want record %d (with the timestamp intake added)", format, l, i)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("tail %s: record %d never came", format, i)
			}
		}
		cancel()
		resp.Body.Close()
	}
}
