package reports

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/e2e"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/ingestd/ingestd/internal/browser"
	"github.com/ingestd/ingestd/internal/testenv"
)

const (
	writerTok = "writer-token-0123456789"
	readerTok = "reader-token-0123456789"
	bothTok   = "both-token-0123456789ab"
)

// monthWithReport writes October 2026 records through a daemon of dir, stops
// it, and runs `ingestd report` into dir's report folder.
func monthWithReport(t *testing.T, dir, cfg string, auth map[string]string) {
	t.Helper()
	d := e2e.Start(t, dir, cfg)
	var body bytes.Buffer
	for i := 0; i < 300; i++ {
		ts := time.Date(2026, 10, 3+i%3, i%24, i%60, 0, 0, time.UTC)
		body.WriteString(`{"timestamp":"` + ts.Format(time.RFC3339) + `","level":"info","service":"svc"}` + "\n")
	}
	if r := d.Post(t, "/v1/ingest", body.Bytes(), auth); r.Code != 200 {
		t.Fatalf("post: %d %s", r.Code, r.Body)
	}
	d.Stop()
	if out, code := e2e.CLI(t, "report", "--month", "2026-10", "--data-dir", dir); code != 0 {
		t.Fatalf("report: exit %d\n%s", code, out)
	}
}

// Tokens have roles: a write token sends records and gets 403 on
// /reports/; a read token reads reports and gets 403 on every intake
// protocol, storing nothing; a token with both does both. Reports are
// served from the report folder, and nothing outside it.
func TestRolesAndServedReports(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := "auth:\n  tokens: [{name: app, token: " + writerTok + "}, {name: analyst, token: " + readerTok + ", role: read}, {name: ops, token: " + bothTok + ", role: both}]\n" +
		"report:\n  schedule: \"off\"\n"
	monthWithReport(t, dir, cfg, map[string]string{"Authorization": "Bearer " + writerTok})
	d := e2e.Start(t, dir, cfg)
	before := len(e2e.AllStored(t, dir))

	// Reading.
	if r := d.Get(t, "/reports/", ""); r.Code != 401 || !strings.Contains(r.Hdr.Get("WWW-Authenticate"), "Basic") {
		t.Fatalf("reports without a token: %d %v", r.Code, r.Hdr)
	}
	if r := d.Get(t, "/reports/", "Bearer "+writerTok); r.Code != 403 || !strings.Contains(r.Body, "role write") {
		t.Fatalf("reports with a write token: %d %s", r.Code, r.Body)
	}
	for _, auth := range []string{"Bearer " + readerTok, "Bearer " + bothTok, "Basic " + basic("anyone", readerTok)} {
		r := d.Get(t, "/reports/", auth)
		if r.Code != 200 || !strings.Contains(r.Body, `<a href="2026-10/">2026-10</a>`) || !strings.Contains(r.Body, "300") {
			t.Fatalf("index with %s: %d %s", auth, r.Code, r.Body)
		}
	}
	r := d.Get(t, "/reports/?format=json", "Bearer "+readerTok)
	var idx struct {
		Reports []struct {
			Name    string
			Records int64
			Days    int
			Files   []string
		}
	}
	if r.Code != 200 || json.Unmarshal([]byte(r.Body), &idx) != nil || len(idx.Reports) != 1 || idx.Reports[0].Records != 300 || idx.Reports[0].Days != 3 {
		t.Fatalf("JSON index: %d %s", r.Code, r.Body)
	}
	if r := d.Get(t, "/reports/2026-10", "Bearer "+readerTok); r.Code != 302 || r.Hdr.Get("Location") != "/reports/2026-10/" && !strings.HasSuffix(r.Hdr.Get("Location"), "/reports/2026-10/") {
		t.Fatalf("no slash: %d %v", r.Code, r.Hdr)
	}
	if r := d.Get(t, "/reports/2026-10/", "Bearer "+readerTok); r.Code != 200 || !strings.HasPrefix(r.Hdr.Get("Content-Type"), "text/html") || !strings.Contains(r.Body, "<html") {
		t.Fatalf("report page: %d %q", r.Code, r.Hdr.Get("Content-Type"))
	}
	want, _ := os.ReadFile(filepath.Join(dir, "reports", "2026-10", "summary.json"))
	if r := d.Get(t, "/reports/2026-10/summary.json", "Bearer "+readerTok); r.Code != 200 || r.Body != string(want) || r.Hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("summary.json: %d, %d bytes of %d", r.Code, len(r.Body), len(want))
	}
	if r := d.Get(t, "/reports/2026-10/daily.parquet", "Bearer "+bothTok); r.Code != 200 || !strings.HasPrefix(r.Body, "PAR1") {
		t.Fatalf("daily.parquet: %d %.20q", r.Code, r.Body)
	}
	for _, p := range []string{"/reports/2026-11/", "/reports/2026-10/nope.csv", "/reports/2026-10/..%2f..%2fwal", "/reports/..%2fwal/", "/reports/.lock", "/reports/2026-10/a/b"} {
		if r := d.Get(t, p, "Bearer "+readerTok); r.Code != 404 {
			t.Errorf("%s: %d %s, want 404", p, r.Code, r.Body)
		}
	}

	// Writing with a read token: refused in each protocol's shape.
	reader := func(ct string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + readerTok, "Content-Type": ct}
	}
	logs := plog.NewLogs()
	logs.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("x")
	pb, _ := plogotlp.NewExportRequestFromLogs(logs).MarshalProto()
	for _, c := range []struct {
		path, ct, body, want string
	}{
		{"/v1/ingest", "application/x-ndjson", `{"a":1}`, `"error":`},
		{"/_bulk", "application/x-ndjson", "{\"create\":{}}\n{\"a\":1}\n", "security_exception"},
		{"/loki/api/v1/push", "application/json", `{"streams":[{"stream":{"a":"b"},"values":[["1793700000000000000","l"]]}]}`, "loki push:"},
		{"/v1/logs", "application/x-protobuf", string(pb), ""},
		{"/services/collector/event", "application/json", `{"event":"e"}`, `"code":1`},
	} {
		r := d.Post(t, c.path, []byte(c.body), reader(c.ct))
		if r.Code != 403 || !strings.Contains(r.Body, c.want) {
			t.Errorf("%s with a read token: %d %s", c.path, r.Code, r.Body)
		}
	}
	if r := d.Post(t, "/v1/ingest", []byte(`{"b":1}`), map[string]string{"Authorization": "Bearer " + bothTok}); r.Code != 200 {
		t.Fatalf("write with the both token: %d %s", r.Code, r.Body)
	}
	m := e2e.Scrape(t, d)
	if m[`ingestd_protocol_requests_total{outcome="forbidden",producer="analyst",protocol="elasticsearch"}`] != 1 {
		t.Errorf("the read token's refused bulk is not counted as forbidden")
	}
	d.Stop()
	if after := len(e2e.AllStored(t, dir)); after != before+1 {
		t.Fatalf("stored %d records, want %d (the read token's writes stored nothing)", after, before+1)
	}
}

func basic(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

// Without tokens (loopback only), the reports index and a report's page
// open in a real headless browser: the screenshot holds the index's link
// colour and the report's bar colour.
func TestServedReportsInChromium(t *testing.T) {
	t.Parallel()
	chrome := browser.Find()
	if chrome == "" {
		testenv.Missing(t, "chromium", "apt-get install chromium")
	}
	dir := t.TempDir()
	cfg := "report:\n  schedule: \"off\"\n"
	monthWithReport(t, dir, cfg, nil)
	d := e2e.Start(t, dir, cfg)
	defer d.Stop()
	shot := func(path string) image.Image {
		img, err := browser.Screenshot(chrome, d.URL+path, t.TempDir(), 1100, 900)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	if n := browser.Pixels(shot("/reports/"), 0x1a, 0x56, 0xb0); n < 50 {
		t.Fatalf("the index shows %d pixels of its link colour: no links rendered", n)
	}
	if n := browser.Pixels(shot("/reports/2026-10/"), 0x25, 0x63, 0xeb); n < 500 {
		t.Fatalf("the served report shows %d pixels of its bar colour: no chart rendered", n)
	}
}
