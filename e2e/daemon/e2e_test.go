package daemon

import (
	"context"

	"github.com/ingestd/ingestd/internal/e2e"

	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ingestd/ingestd/bench"
	"github.com/ingestd/ingestd/internal/testenv"

	"github.com/klauspost/compress/zstd"

	"github.com/ingestd/ingestd/segment"
)

func compress(t *testing.T, enc string, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch enc {
	case "", "identity":
		return b
	case "gzip":
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
	case "deflate":
		w := zlib.NewWriter(&buf)
		w.Write(b)
		w.Close()
	case "deflate-raw":
		w, _ := flate.NewWriter(&buf, 5)
		w.Write(b)
		w.Close()
	case "zstd":
		w, _ := zstd.NewWriter(&buf)
		w.Write(b)
		w.Close()
	}
	return buf.Bytes()
}

func TestBodyFormsAndEncodings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := e2e.Start(t, dir, "")
	forms := map[string]func(recs []string) string{
		"ndjson":      func(r []string) string { return strings.Join(r, "\n") + "\n" },
		"ndjson-crlf": func(r []string) string { return "\r\n" + strings.Join(r, "\r\n\r\n") },
		"array":       func(r []string) string { return "[\n " + strings.Join(r, " ,\n ") + "\n]" },
		"single":      func(r []string) string { return r[0] },
		"pretty": func(r []string) string {
			var b bytes.Buffer
			json.Indent(&b, []byte(r[0]), "", "  ")
			return b.String()
		},
	}
	var want []string
	n := 0
	for form, mk := range forms {
		for _, enc := range []string{"identity", "gzip", "zstd", "deflate", "deflate-raw"} {
			var recs []string
			for i := 0; i < 3; i++ {
				n++
				recs = append(recs, fmt.Sprintf(`{"ts": "2026-11-03T10:00:%02d.5Z", "id": "%s-%s-%d", "v": 1.50, "big": 12345678901234567890123, "s": "\u00e9\t"}`, n%60, form, enc, i))
			}
			if form == "single" || form == "pretty" {
				recs = recs[:1]
			}
			hdr := map[string]string{"Content-Type": "application/x-whatever"}
			if enc != "identity" {
				hdr["Content-Encoding"] = strings.TrimSuffix(enc, "-raw")
			}
			r := d.Post(t, "/v1/ingest", compress(t, enc, []byte(mk(recs))), hdr)
			if r.Code != 200 || r.Body != fmt.Sprintf(`{"accepted":%d}`, len(recs)) {
				t.Fatalf("%s/%s: %d %s", form, enc, r.Code, r.Body)
			}
			for _, rec := range recs {
				var c bytes.Buffer
				json.Compact(&c, []byte(rec))
				want = append(want, c.String())
			}
		}
	}
	d.Stop()
	got := e2e.AllStored(t, dir)
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("stored records differ:\n got %d %q\nwant %d %q", len(got), got, len(want), want)
	}
	for _, f := range e2e.Files(t, dir) {
		if strings.HasSuffix(f, ".open") {
			t.Fatalf("open part after graceful stop: %s", f)
		}
	}
	if out, code := e2e.CLI(t, "verify", "--data-dir", dir); code != 0 {
		t.Fatalf("verify: %d\n%s", code, out)
	}
	catOut, code := e2e.CLI(t, "cat", "--data-dir", dir)
	if code != 0 {
		t.Fatal(catOut)
	}
	if zstdcat := testenv.Find(t, "zstdcat", "apt-get install zstd"); zstdcat != "" {
		sealed, _ := filepath.Glob(filepath.Join(dir, "segments", "dt=*", "*.ndjson.zst"))
		out, err := exec.Command(zstdcat, sealed...).Output()
		if err != nil || string(out) != catOut {
			t.Fatalf("zstdcat differs from ingestd cat: %v\n%s\n---\n%s", err, out, catOut)
		}
	} else {
		t.Log("zstdcat not installed; skipping the zstdcat comparison (.ci/run installs zstd)")
	}
}

func TestErrorsStoreNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := e2e.Start(t, dir, "http:\n  max_body: 64KiB\n  max_header: 4KiB\nauth:\n  tokens: [{name: prod, token: secret-token-0123456789}]\n")
	auth := map[string]string{"Authorization": "Bearer secret-token-0123456789"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{"Authorization": auth["Authorization"]}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	bomb := compress(t, "gzip", make([]byte, 10<<20))
	zbomb := compress(t, "zstd", make([]byte, 10<<20))
	big := bytes.Repeat([]byte(`{"ts":1,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`+"\n"), 1000)
	good := `{"ts":"2026-11-03T00:00:00Z"}` + "\n"
	cases := []struct {
		name string
		path string
		body []byte
		hdr  map[string]string
		code int
		line int
	}{
		{"invalid json", "/v1/ingest", []byte(good + `{"ts":1,}`), auth, 400, 2},
		{"not an object", "/v1/ingest", []byte(good + good + `[1,2]`), auth, 400, 3},
		{"array element not object", "/v1/ingest", []byte(`[{"ts":1}, "x"]`), auth, 400, 2},
		{"invalid utf8", "/v1/ingest", []byte(good + "{\"ts\":1,\"s\":\"\xc3\x28\"}"), auth, 400, 2},
		{"too deep", "/v1/ingest", []byte(`{"ts":1,"a":` + strings.Repeat(`{"a":`, 80) + "1" + strings.Repeat("}", 80) + "}"), auth, 400, 1},
		{"bad timestamp", "/v1/ingest", []byte(good + `{"ts":"last tuesday"}`), auth, 400, 2},
		{"future timestamp", "/v1/ingest", []byte(good + fmt.Sprintf(`{"ts":%d}`, time.Now().Add(48*time.Hour).Unix())), auth, 400, 2},
		{"corrupt gzip", "/v1/ingest", []byte("\x1f\x8b\x08\x00garbage"), with("Content-Encoding", "gzip"), 400, 0},
		{"corrupt zstd", "/v1/ingest", []byte("\x28\xb5\x2f\xfdgarbage"), with("Content-Encoding", "zstd"), 400, 0},
		{"no token", "/v1/ingest", []byte(good), nil, 401, 0},
		{"wrong token", "/v1/ingest", []byte(good), map[string]string{"Authorization": "Bearer secret-token-0123456780"}, 401, 0},
		{"unknown path", "/v2/ingest", []byte(good), auth, 404, 0},
		{"body over limit", "/v1/ingest", big, auth, 413, 0},
		{"gzip bomb", "/v1/ingest", bomb, with("Content-Encoding", "gzip"), 413, 0},
		{"zstd bomb", "/v1/ingest", zbomb, with("Content-Encoding", "zstd"), 413, 0},
		{"unsupported encoding", "/v1/ingest", []byte(good), with("Content-Encoding", "br"), 415, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := d.Post(t, c.path, c.body, c.hdr)
			if r.Code != c.code {
				t.Fatalf("status %d, want %d: %s", r.Code, c.code, r.Body)
			}
			var e struct {
				Error string `json:"error"`
				Line  int    `json:"line"`
			}
			if err := json.Unmarshal([]byte(r.Body), &e); err != nil || e.Error == "" || e.Line != c.line {
				t.Fatalf("body %s: want error with line %d", r.Body, c.line)
			}
			if c.code == 401 && r.Hdr.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
	t.Run("wrong method", func(t *testing.T) {
		req := fmt.Sprintf("GET /v1/ingest HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n\r\n", auth["Authorization"])
		if got := rawHTTP(t, d, req); !strings.HasPrefix(got, "HTTP/1.1 405") {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("header over limit", func(t *testing.T) {
		req := "POST /v1/ingest HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("a", 8000) + "\r\nContent-Length: 2\r\n\r\n{}"
		if got := rawHTTP(t, d, req); !strings.HasPrefix(got, "HTTP/1.1 431") {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("declared length over limit", func(t *testing.T) {
		// A client that declares 100 MB and is still sending gets its 413
		// after the daemon has discarded a bounded amount.
		req := fmt.Sprintf("POST /v1/ingest HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Length: 100000000\r\n\r\n%s", auth["Authorization"], strings.Repeat(" ", 20000))
		// Always the JSON error, as for a streamed body over the limit.
		if got := rawHTTP(t, d, req); !strings.HasPrefix(got, "HTTP/1.1 413") || !strings.Contains(got, `{"error":"request body over the limit of`) {
			t.Fatalf("got %q", got)
		}
	})
	d.Stop()
	if got := e2e.AllStored(t, dir); len(got) != 0 {
		t.Fatalf("rejected requests stored records: %q", got)
	}
}

func rawHTTP(t *testing.T, d *e2e.Daemon, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(d.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte(req))
	buf := make([]byte, 4096)
	n, _ := c.Read(buf)
	return string(buf[:n])
}

func TestSkipInvalidStoresValid(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := e2e.Start(t, dir, "")
	body := "{\"ts\":\"2026-11-03T01:00:00Z\",\"id\":1}\nnot json\n{\"ts\":\"2026-11-03T01:00:00Z\",\"id\":2}\n{\"ts\":true}\n"
	r := d.Post(t, "/v1/ingest?invalid=skip", []byte(body), nil)
	var a struct {
		Accepted, Rejected int
		Errors             []struct {
			Line  int
			Error string
		}
	}
	if err := json.Unmarshal([]byte(r.Body), &a); err != nil || r.Code != 200 || a.Accepted != 2 || a.Rejected != 2 ||
		len(a.Errors) != 2 || a.Errors[0].Line != 2 || a.Errors[1].Line != 4 {
		t.Fatalf("%d %s", r.Code, r.Body)
	}
	d.Stop()
	if got := e2e.AllStored(t, dir); len(got) != 2 {
		t.Fatalf("stored %q", got)
	}
}

func TestTimestampsLandInTheirDay(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := e2e.Start(t, dir, "")
	now := time.Now().UTC()
	cases := []struct{ rec, day string }{
		{`{"timestamp":"2026-11-03T23:59:59.999999999Z","k":1}`, "dt=2026-11-03"},
		{`{"ts":"2026-11-03T23:30:00-01:00","k":2}`, "dt=2026-11-04"},
		{`{"@timestamp":"2026-11-04T00:30:00+01:00","k":3}`, "dt=2026-11-03"},
		{`{"time":1762214399,"k":4}`, "dt=2025-11-03"},
		{`{"_time":1762214400000,"k":5}`, "dt=2025-11-04"},
		{`{"ts":1762214400000001,"k":6}`, "dt=2025-11-04"},
		{`{"ts":1762214399999999999,"k":7}`, "dt=2025-11-03"},
		{`{"ts":1762214399.9,"k":8}`, "dt=2025-11-03"},
		{`{"time":"2026-01-01T00:00:00Z","ts":"2026-02-01T00:00:00Z","k":9}`, "dt=2026-02-01"},
		{`{"k":10}`, "dt=" + now.Format("2006-01-02")},
	}
	var body []string
	for _, c := range cases {
		body = append(body, c.rec)
	}
	if r := d.Post(t, "/v1/ingest", []byte(strings.Join(body, "\n")), nil); r.Code != 200 {
		t.Fatalf("%d %s", r.Code, r.Body)
	}
	d.Stop()
	got := e2e.Stored(t, dir)
	for _, c := range cases {
		found := false
		for _, l := range got[c.day] {
			if strings.Contains(l, c.rec[strings.Index(c.rec, `"k":`):len(c.rec)-1]+"}") || strings.Contains(l, c.rec[strings.Index(c.rec, `"k":`):len(c.rec)-1]+",") {
				found = true
			}
		}
		if !found {
			t.Errorf("%s not in %s: %v", c.rec, c.day, got)
		}
	}
	// The record without a timestamp got one added, in RFC 3339 nano UTC.
	for _, l := range got["dt="+now.Format("2006-01-02")] {
		var v struct{ Timestamp string }
		json.Unmarshal([]byte(l), &v)
		if ts, err := time.Parse(time.RFC3339Nano, v.Timestamp); err != nil || ts.Sub(now).Abs() > time.Minute || !strings.HasPrefix(l, `{"k":10,"timestamp":"`) {
			t.Errorf("added timestamp: %s", l)
		}
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"unknown key":  "segments:\n  blok_size: 1MiB\n",
		"bad size":     "http:\n  max_body: lots\n",
		"bad fsync":    "wal:\n  fsync: sometimes\n",
		"bad level":    "segments:\n  level: ultra\n",
		"short token":  "auth:\n  tokens: [{name: a, token: short}]\n",
		"zero workers": "segments:\n  flush_workers: 0\n",
		"otlp mapping": "otlp:\n  resource: flattened\n",
		"bad role":     "auth:\n  tokens: [{name: a, token: 0123456789abcdefgh, role: admin}]\n",
		"bad period":   "report:\n  schedules: [{name: d, cron: \"0 1 * * *\", period: year}]\n",
	}
	want := map[string]string{"unknown key": "blok_size", "bad size": "lots", "bad fsync": "wal.fsync", "bad level": "segments.level",
		"short token": "auth.tokens[0]", "zero workers": "segments.flush_workers", "otlp mapping": "otlp.resource", "bad role": "role \"admin\"", "bad period": "report.schedules[0] (d): report: period \"year\""}
	for name, yaml := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "c.yaml")
			os.WriteFile(cfg, []byte(yaml), 0o644)
			out, code := e2e.CLI(t, "serve", "--config", cfg, "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0")
			if code != 2 || !strings.Contains(out, want[name]) {
				t.Fatalf("exit %d, output %q: want exit 2 naming %q", code, out, want[name])
			}
		})
	}
}

func TestCLIHelpAndVersion(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"serve", "verify", "cat", "repair"} {
		out, code := e2e.CLI(t, cmd, "--help")
		if code != 0 || !strings.Contains(out, "Usage: ingestd "+cmd) || !strings.Contains(out, "-data-dir") {
			t.Errorf("%s --help: %d %q", cmd, code, out)
		}
	}
	if out, code := e2e.CLI(t, "version"); code != 0 || !strings.HasPrefix(out, "ingestd ") {
		t.Errorf("version: %d %q", code, out)
	}
	if _, code := e2e.CLI(t, "bogus"); code != 2 {
		t.Errorf("unknown command exit %d", code)
	}
}

func TestMetricsAndHealth(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := e2e.Start(t, dir, "")
	d.Post(t, "/v1/ingest", []byte(`{"ts":1762164000,"a":1}`+"\n"+`{"ts":1762164001}`), nil)
	d.Post(t, "/v1/ingest", []byte(`{"ts":"x"}`), nil)
	d.Post(t, "/v1/ingest?invalid=skip", []byte("{\"ts\":1}\n[]\n{\"ts\":true}\nnope\n"), nil)
	resp, err := http.Get(d.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`ingestd_http_requests_total{code="200",path="/v1/ingest"} 2`, `ingestd_http_requests_total{code="400",path="/v1/ingest"} 1`, // labels in the library's (sorted) order
		"ingestd_records_in_total 3", `ingestd_requests_rejected_total{reason="timestamp"} 1`,
		`ingestd_records_rejected_total{reason="not_object"} 1`, `ingestd_records_rejected_total{reason="timestamp"} 1`,
		`ingestd_records_rejected_total{reason="invalid_json"} 1`, "ingestd_wal_fsync_duration_seconds_count",
		"ingestd_ack_latency_seconds_bucket", "ingestd_buffered_bytes", "ingestd_recovery_duration_seconds",
		"ingestd_compression_ratio",
		// Where a write's time goes: two stored writes and one refused at
		// parsing, and the runtime's scheduling latency, GC and process CPU.
		`ingestd_write_stage_seconds_count{stage="parse"} 3`, `ingestd_write_stage_seconds_count{stage="compress"} 2`,
		`ingestd_write_stage_seconds_count{stage="commit"} 2`, "go_sched_latencies_seconds_bucket",
		"go_gc_duration_seconds", "process_cpu_seconds_total",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	for path, code := range map[string]int{"/healthz": 200, "/readyz": 200} {
		r, err := http.Get(d.URL + path)
		if err != nil || r.StatusCode != code {
			t.Errorf("%s: %v %v", path, err, r)
		}
	}
	d.Stop()
	// After a clean stop the WAL holds nothing: one empty file naming the next sequence.
	wals, _ := filepath.Glob(filepath.Join(dir, "wal", "*.wal"))
	if len(wals) != 1 {
		t.Fatalf("wal files after stop: %v", wals)
	}
	if st, _ := os.Stat(wals[0]); st.Size() != 0 {
		t.Fatalf("wal not empty after clean stop: %d bytes", st.Size())
	}
}

func TestBudgetFullAnswers503(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// Blocks of 4 KiB never fill from 1.5 KiB per day, and are old only after
	// an hour, so admitted data stays in memory until the budget is full.
	d := e2e.Start(t, dir, "http:\n  max_body: 4KiB\nbuffers:\n  max_bytes: 8KiB\nsegments:\n  block_size: 4KiB\n  block_age: 1h\n")
	var ok, full int
	for i := 0; i < 12; i++ {
		var body bytes.Buffer
		for j := 0; j < 15; j++ {
			fmt.Fprintf(&body, `{"ts":"2026-10-%02dT00:00:00Z","req":%d,"pad":"%060d"}`+"\n", i+1, i, j)
		}
		r := d.Post(t, "/v1/ingest", body.Bytes(), nil)
		switch r.Code {
		case 200:
			ok++
		case 503:
			full++
			if r.Hdr.Get("Retry-After") == "" {
				t.Fatal("503 without Retry-After")
			}
		default:
			t.Fatalf("%d %s", r.Code, r.Body)
		}
	}
	if full == 0 || ok == 0 {
		t.Fatalf("ok %d full %d: the budget never filled", ok, full)
	}
	d.Stop()
	got := e2e.AllStored(t, dir)
	if len(got) != ok*15 {
		t.Fatalf("stored %d records, want %d (only the admitted requests)", len(got), ok*15)
	}
}

func TestCorruptionStopsStartUntilRepaired(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := "segments:\n  block_age: 50ms\n"
	d := e2e.Start(t, dir, cfg)
	var want int
	for i := 0; i < 3; i++ {
		var body bytes.Buffer
		for j := 0; j < 100; j++ {
			fmt.Fprintf(&body, `{"ts":"2026-11-03T10:00:00Z","i":%d,"j":%d}`+"\n", i, j)
			want++
		}
		if r := d.Post(t, "/v1/ingest", body.Bytes(), nil); r.Code != 200 {
			t.Fatal(r.Body)
		}
		time.Sleep(1200 * time.Millisecond) // one block per request
	}
	d.Kill()
	parts, _ := filepath.Glob(filepath.Join(dir, "segments", "dt=2026-11-03", "*.open"))
	if len(parts) != 1 {
		t.Fatalf("open parts: %v", parts)
	}
	f, _ := os.OpenFile(parts[0], os.O_WRONLY, 0)
	f.WriteAt([]byte{0xde, 0xad}, 100) // inside the first block's data frame
	f.Close()

	cfgFile := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfgFile, []byte(cfg), 0o644)
	out, code := e2e.CLI(t, "serve", "--config", cfgFile, "--data-dir", dir, "--listen", "127.0.0.1:0")
	if code != 1 || !strings.Contains(out, parts[0]) || !strings.Contains(out, "offset 0") || !strings.Contains(out, "ingestd repair --data-dir") {
		t.Fatalf("start on corruption: exit %d\n%s", code, out)
	}
	if out, code := e2e.CLI(t, "verify", "--data-dir", dir); code != 1 || !strings.Contains(out, "PROBLEM") {
		t.Fatalf("verify on corruption: exit %d\n%s", code, out)
	}
	if out, code := e2e.CLI(t, "repair", "--data-dir", dir); code != 0 || !strings.Contains(out, ".broken") {
		t.Fatalf("repair: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(parts[0] + ".broken"); err != nil {
		t.Fatal("no .broken copy")
	}
	// The WAL still holds what the cut removed: a start replays it.
	d = e2e.Start(t, dir, cfg)
	d.Stop()
	if got := e2e.AllStored(t, dir); len(got) != want {
		t.Fatalf("after repair and replay: %d records, want %d", len(got), want)
	}
	if out, code := e2e.CLI(t, "verify", "--data-dir", dir); code != 0 {
		t.Fatalf("verify after repair: %s", out)
	}
}

func TestReplayAfterKill(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := e2e.Start(t, dir, "segments:\n  block_age: 1h\n") // nothing reaches a segment before the kill
	r := d.Post(t, "/v1/ingest", []byte(`{"ts":"2026-11-03T10:00:00Z","n":1}`+"\n"+`{"ts":"2026-11-04T10:00:00Z","n":2}`), nil)
	if r.Code != 200 {
		t.Fatal(r.Body)
	}
	d.Kill()
	if got := e2e.AllStored(t, dir); len(got) != 0 {
		t.Fatalf("expected the records only in the WAL, found %q", got)
	}
	d = e2e.Start(t, dir, "")
	d.Stop()
	got := e2e.Stored(t, dir)
	if len(got["dt=2026-11-03"]) != 1 || len(got["dt=2026-11-04"]) != 1 {
		t.Fatalf("after replay: %v", got)
	}
}

func TestOverLimitIsAnsweredNotReset(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := e2e.Start(t, dir, "http:\n  max_body: 64KiB\nauth:\n  tokens: [{name: p, token: secret-token-0123456789}]\n")
	big := bytes.Repeat([]byte(`{"ts":1,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`+"\n"), 20000) // ≈1.4 MB
	// Many times, since a reset is a race: the answer must always arrive.
	for i := 0; i < 20; i++ {
		r := d.Post(t, "/v1/ingest", big, map[string]string{"Authorization": "Bearer secret-token-0123456789"})
		if r.Code != 413 || !strings.Contains(r.Body, "over the limit") {
			t.Fatalf("try %d: %d %s", i, r.Code, r.Body)
		}
	}
	// Chunked (no Content-Length): the limit holds while streaming.
	pr, pw := io.Pipe()
	go func() { pw.Write(big); pw.Close() }()
	req, _ := http.NewRequest("POST", d.URL+"/v1/ingest", pr)
	req.Header.Set("Authorization", "Bearer secret-token-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 413 {
		t.Fatalf("chunked over limit: %v %v", err, resp)
	}
	resp.Body.Close()
	// Expect: 100-continue is refused before the body is sent.
	for hdr, want := range map[string]string{
		"Authorization: Bearer secret-token-0123456789\r\nContent-Length: 1000000": "HTTP/1.1 413",
		"Content-Length: 10": "HTTP/1.1 401",
	} {
		got := rawHTTP(t, d, "POST /v1/ingest HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"+hdr+"\r\n\r\n")
		if !strings.HasPrefix(got, want) || !strings.Contains(got, "application/json") || !strings.Contains(got, `{"error":"`) {
			t.Fatalf("expect with %q: got %q", hdr, got)
		}
	}
	d.Stop()
	if got := e2e.AllStored(t, dir); len(got) != 0 {
		t.Fatalf("stored %d records", len(got))
	}
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := e2e.Start(t, dir, "")
	body := []byte("{\"ts\":\"2026-11-03T10:00:00Z\",\"n\":1}\n{\"ts\":\"2026-11-03T10:00:01Z\",\"n\":2}\nbad\n")
	post := func(key string) e2e.Reply {
		return d.Post(t, "/v1/ingest?invalid=skip", body, map[string]string{"Idempotency-Key": key})
	}
	first := post("key-1")
	if first.Code != 200 || !strings.Contains(first.Body, `"accepted":2`) {
		t.Fatalf("%d %s", first.Code, first.Body)
	}
	again := post("key-1")
	if again.Code != 200 || again.Body != first.Body || again.Hdr.Get("Idempotency-Replayed") != "true" {
		t.Fatalf("repeat: %d %s %v", again.Code, again.Body, again.Hdr)
	}
	// Concurrent duplicates of a new key: exactly one stores.
	done := make(chan e2e.Reply, 8)
	for i := 0; i < 8; i++ {
		go func() { done <- post("key-2") }()
	}
	replayed := 0
	for i := 0; i < 8; i++ {
		r := <-done
		if r.Code != 200 || r.Body != first.Body {
			t.Fatalf("concurrent: %d %s", r.Code, r.Body)
		}
		if r.Hdr.Get("Idempotency-Replayed") == "true" {
			replayed++
		}
	}
	if replayed != 7 {
		t.Fatalf("%d of 8 concurrent duplicates replayed, want 7", replayed)
	}
	if r := d.Post(t, "/v1/ingest", body, map[string]string{"Idempotency-Key": strings.Repeat("k", 300)}); r.Code != 400 {
		t.Fatalf("overlong key: %d", r.Code)
	}
	d.Stop()
	// After a clean restart.
	d = e2e.Start(t, dir, "")
	if r := post("key-1"); r.Body != first.Body || r.Hdr.Get("Idempotency-Replayed") != "true" {
		t.Fatalf("after restart: %s %v", r.Body, r.Hdr)
	}
	if r := post("key-3"); r.Hdr.Get("Idempotency-Replayed") != "" {
		t.Fatal("new key replayed")
	}
	// After kill -9.
	d.Kill()
	d = e2e.Start(t, dir, "")
	for _, k := range []string{"key-1", "key-2", "key-3"} {
		if r := post(k); r.Body != first.Body || r.Hdr.Get("Idempotency-Replayed") != "true" {
			t.Fatalf("%s after kill: %s %v", k, r.Body, r.Hdr)
		}
	}
	d.Stop()
	if got := e2e.AllStored(t, dir); len(got) != 6 {
		t.Fatalf("stored %d records, want 6 (three keys × 2)", len(got))
	}
}

func TestDuckDBReadsSealedFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// Small blocks: many frames per file. Past days seal and compact while
	// the daemon runs, so compacted files (manifest frame first) are read too.
	d := e2e.Start(t, dir, "segments:\n  block_size: 8KiB\n  block_age: 100ms\n  seal_grace: 0s\n  seal_idle: 500ms\n")
	sum, n := 0, 0
	for day := 1; day <= 3; day++ {
		for req := 0; req < 3; req++ {
			var body bytes.Buffer
			for i := 0; i < 200; i++ {
				n++
				sum += n
				fmt.Fprintf(&body, `{"ts":"2026-10-%02dT%02d:00:00Z","n":%d,"s":"caf\u00e9 \"%d\"","v":1.50}`+"\n", day, i%24, n, i)
			}
			if r := d.Post(t, "/v1/ingest", body.Bytes(), nil); r.Code != 200 {
				t.Fatal(r.Body)
			}
			time.Sleep(150 * time.Millisecond)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(d.Log.String(), "compacted day") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	d.Stop()
	compacted, _ := filepath.Glob(filepath.Join(dir, "segments", "dt=*", "*compact-*.ndjson.zst"))
	if len(compacted) == 0 {
		t.Fatalf("no compacted file to read\n%s", d.Log)
	}
	got := e2e.DuckDB(t, fmt.Sprintf("select count(*), sum(n), count(distinct s) from read_json('%s/segments/dt=*/*.ndjson.zst', format='newline_delimited')", dir))
	if want := fmt.Sprintf(`[["%d","%d","200"]]`, n, sum); got != want {
		t.Fatalf("duckdb says %s, want %s", got, want)
	}
}

// TestBenchHarnessAgainstDaemon: the bench harness loads a real daemon with
// invalid records and gzip bodies, and its verifier proves the result.
func TestBenchHarnessAgainstDaemon(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := e2e.Start(t, dir, "")
	w := bench.Workload{Seed: 5, Shape: bench.ShapeMixed, Batch: 200, Form: "ndjson", Compression: "gzip", Days: 3, Invalid: 0.05}
	var acks bytes.Buffer
	res, err := bench.Run(context.Background(), w, bench.LoadConfig{URL: d.URL, Conns: 4, Requests: 60, AckLog: &acks,
		PID: d.Cmd.Process.Pid, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status["200"] != 60 || res.RecordsAcked < 60*200*9/10 || res.DaemonHWMMB <= 0 || res.ZstdMBPerS <= 0 {
		t.Fatalf("result: %+v", res)
	}
	d.Stop()
	v, err := bench.Verify(context.Background(), dir, bytes.NewReader(acks.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK || v.Acked != 60 || v.RecordsStored != res.RecordsAcked {
		t.Fatalf("verify: %+v", v)
	}
}

// A finished day whose parts were sealed by stops is compacted after the
// next start, even though it never gets an open part again.
func TestFinishedDayCompactedAfterRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := "segments:\n  seal_grace: 0s\n  seal_idle: 1h\n" // never sealed by idleness while running
	for i := 0; i < 2; i++ {
		d := e2e.Start(t, dir, cfg)
		if r := d.Post(t, "/v1/ingest", []byte(fmt.Sprintf(`{"ts":"2026-10-01T10:00:00Z","i":%d}`, i)), nil); r.Code != 200 {
			t.Fatal(r.Body)
		}
		d.Stop() // seals the part
	}
	before, _ := filepath.Glob(filepath.Join(dir, "segments", "dt=2026-10-01", "*.ndjson.zst"))
	if len(before) < 2 {
		t.Fatalf("files before: %v", before) // the second start may have compacted the first part already
	}
	d := e2e.Start(t, dir, cfg)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(d.Log.String(), "compacted day") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	d.Stop()
	files, _ := filepath.Glob(filepath.Join(dir, "segments", "dt=2026-10-01", "*.ndjson.zst"))
	if len(files) != 1 || !strings.Contains(files[0], "compact-") || len(e2e.Stored(t, dir)["dt=2026-10-01"]) != 2 {
		t.Fatalf("after restart: %v", files)
	}
}

// A start and a clean stop without any request, after data was stored and
// the log emptied, exits 0 and leaves the WAL empty.
func TestIdleRestartStopsCleanly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := e2e.Start(t, dir, "")
	d.Post(t, "/v1/ingest", []byte(`{"ts":"2026-11-03T10:00:00Z"}`), nil)
	d.Stop()
	for i := 0; i < 2; i++ {
		d = e2e.Start(t, dir, "")
		d.Stop() // fails the test on a non-zero exit
	}
	if got := e2e.AllStored(t, dir); len(got) != 1 {
		t.Fatalf("stored %d", len(got))
	}
}

// TestIdempotencyKeyReusedWithAnotherBody: a key sent again with a
// different body (or query) gets 422 and stores nothing, also after a
// kill -9; the same records gzip-compressed are the same request.
func TestIdempotencyKeyReusedWithAnotherBody(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := e2e.Start(t, dir, "")
	body := []byte("{\"ts\":\"2026-11-03T10:00:00Z\",\"n\":1}\n")
	other := []byte("{\"ts\":\"2026-11-03T10:00:00Z\",\"n\":2}\n")
	key := map[string]string{"Idempotency-Key": "reuse-1"}
	if r := d.Post(t, "/v1/ingest", body, key); r.Code != 200 {
		t.Fatalf("first: %d %s", r.Code, r.Body)
	}
	check := func(when string) {
		t.Helper()
		if r := d.Post(t, "/v1/ingest", other, key); r.Code != 422 || !strings.Contains(r.Body, "already used for a different request") {
			t.Fatalf("%s: another body: %d %s", when, r.Code, r.Body)
		}
		if r := d.Post(t, "/v1/ingest?invalid=skip", body, key); r.Code != 422 {
			t.Fatalf("%s: another query: %d %s", when, r.Code, r.Body)
		}
		var zb bytes.Buffer
		zw := gzip.NewWriter(&zb)
		zw.Write(body)
		zw.Close()
		if r := d.Post(t, "/v1/ingest", zb.Bytes(), map[string]string{"Idempotency-Key": "reuse-1", "Content-Encoding": "gzip"}); r.Code != 200 || r.Hdr.Get("Idempotency-Replayed") != "true" {
			t.Fatalf("%s: the same records gzipped: %d %s", when, r.Code, r.Body)
		}
	}
	check("running")
	d.Kill()
	d = e2e.Start(t, dir, "")
	check("after kill -9")
	d.Stop()
	if got := e2e.AllStored(t, dir); len(got) != 1 || !strings.Contains(got[0], `"n":1`) {
		t.Fatalf("stored %q, want only the first request's record", got)
	}
}

// TestIJSONRecords: lone surrogate escapes and duplicate member names (at
// any depth, compared decoded) are refused with a reason, kept in the
// rejected store under ?invalid=skip, and flagged by verify in files
// written before the rule; surrogate pairs and names repeated in
// different objects are fine.
func TestIJSONRecords(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := e2e.Start(t, dir, "segments:\n  block_age: 50ms\nreport:\n  schedule: \"off\"\n")
	ts := `"ts":"2026-11-03T10:00:00Z"`
	for _, c := range []struct{ rec, want string }{
		{`{` + ts + `,"s":"\ud800"}`, "lone surrogate"},
		{`{` + ts + `,"s":"x\udc00"}`, "lone surrogate"},
		{`{` + ts + `,"s":"\ud800\u0041"}`, "lone surrogate"},
		{`{"a":1,"a":2,` + ts + `}`, "duplicate member name"},
		{`{` + ts + `,"o":{"x":1,"y":[{"z":1,"z":2}]}}`, "duplicate member name"},
		{`{` + ts + `,"a":1,"\u0061":2}`, "duplicate member name"},
		{`{` + ts + `,` + ts + `}`, "duplicate member name"},
	} {
		if r := d.Post(t, "/v1/ingest", []byte(c.rec), nil); r.Code != 400 || !strings.Contains(r.Body, c.want) {
			t.Errorf("%s: %d %s, want 400 %q", c.rec, r.Code, r.Body, c.want)
		}
	}
	good := `{` + ts + `,"e":"\ud83d\ude00","o":{"a":1},"p":{"a":1},"a":3,"arr":[{"a":1},{"a":2}]}`
	if r := d.Post(t, "/v1/ingest", []byte(good), nil); r.Code != 200 {
		t.Fatalf("good record: %d %s", r.Code, r.Body)
	}
	r := d.Post(t, "/v1/ingest?invalid=skip", []byte(`{`+ts+`,"n":1}`+"\n"+`{"b":1,"b":2,`+ts+`}`+"\n"), nil)
	if r.Code != 200 || !strings.Contains(r.Body, `"accepted":1,"rejected":1`) || !strings.Contains(r.Body, "duplicate member name") {
		t.Fatalf("skip: %d %s", r.Code, r.Body)
	}
	d.Stop()
	got := e2e.AllStored(t, dir)
	if len(got) != 2 {
		t.Fatalf("stored %q", got)
	}
	if out, code := e2e.CLI(t, "replay-rejected", "--data-dir", dir, "--print"); code != 0 || !strings.Contains(out, `"b":1,"b":2`) {
		t.Fatalf("rejected store: exit %d\n%s", code, out)
	}
	// A file from before the rule: verify names the record.
	day := filepath.Join(dir, "segments", "dt=2026-11-04")
	os.MkdirAll(day, 0o700)
	enc, _ := segment.NewEncoder(segment.LevelFastest)
	w, err := segment.Create(filepath.Join(day, segment.PartName("old", 1)))
	if err != nil {
		t.Fatal(err)
	}
	tsn := time.Date(2026, 11, 4, 1, 0, 0, 0, time.UTC).UnixNano()
	blk, _ := enc.AppendBlock(nil, segment.BlockMeta{FirstSeq: 1, LastSeq: 1, Records: 1, MinTS: tsn, MaxTS: tsn}, []byte(`{"ts":"2026-11-04T01:00:00Z","a":1,"a":2}`+"\n"))
	w.Append(blk)
	if _, err := w.Seal(); err != nil {
		t.Fatal(err)
	}
	if out, code := e2e.CLI(t, "verify", "--data-dir", dir); code != 1 || !strings.Contains(out, "duplicate member name") || !strings.Contains(out, "dt=2026-11-04") {
		t.Fatalf("verify on an old duplicate: exit %d\n%s", code, out)
	}
}
