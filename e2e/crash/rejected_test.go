package crash

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/e2e"

	"github.com/ingestd/ingestd/internal/testenv"
)

// TestRejectedLinesKeptAndReplayed: lines left out by ?invalid=skip are kept
// with their reason; after the operator changes what is accepted, replaying
// them stores them.
func TestRejectedLinesKeptAndReplayed(t *testing.T) {
	dir := t.TempDir()
	d := e2e.Start(t, dir, "records:\n  missing_timestamp: reject\nreport:\n  schedule: \"off\"\n")
	bad := []string{
		`{"msg":"no timestamp 1"}`,
		`{"msg":"no timestamp 2","n":2}`,
		`{"ts":"2026-11-20T10:00:00Z","broken":`,
		"{\"ts\":\"2026-11-20T10:00:00Z\",\"s\":\"\xff\xfe\"}",
		`[1,2,3]`,
	}
	body := `{"ts":"2026-11-20T10:00:00Z","ok":1}` + "\n" + strings.Join(bad, "\n") + "\n"
	r := d.Post(t, "/v1/ingest?invalid=skip", []byte(body), nil)
	if r.Code != 200 || !strings.Contains(r.Body, `"accepted":1`) || !strings.Contains(r.Body, `"rejected":5`) {
		t.Fatalf("%d %s", r.Code, r.Body)
	}
	time.Sleep(1500 * time.Millisecond) // the store closes its frame every second: readable while running
	files, _ := filepath.Glob(filepath.Join(dir, "rejected", "rejected-*.ndjson.zst"))
	if len(files) != 1 {
		t.Fatalf("rejected files: %v", files)
	}
	if zstd := testenv.Find(t, "zstd", "apt-get install zstd"); zstd != "" {
		out, err := exec.Command(zstd, "-dc", files[0]).Output()
		if err != nil || strings.Count(string(out), "\n") != 5 || !strings.Contains(string(out), `"reason":"timestamp"`) ||
			!strings.Contains(string(out), `"line_base64"`) || !strings.Contains(string(out), `"reason":"not_object"`) {
			t.Fatalf("zstd -dc of the live file: %v\n%s", err, out)
		}
	}
	d.Stop()

	out, code := e2e.CLI(t, "replay-rejected", "--data-dir", dir, "--print")
	lines := strings.Split(strings.TrimSpace(out[:strings.LastIndex(strings.TrimSpace(out), "\n")+1]), "\n")
	if code != 0 || len(lines) != 5 {
		t.Fatalf("--print: exit %d\n%s", code, out)
	}
	for i, l := range lines {
		if l != bad[i] {
			t.Errorf("line %d printed as %q, sent as %q", i, l, bad[i])
		}
	}
	out, code = e2e.CLI(t, "replay-rejected", "--data-dir", dir, "--list")
	if code != 0 || strings.Count(out, `"reason":`) != 5 {
		t.Fatalf("--list: %s", out)
	}

	// Timestamps are now added when missing: the two lines replay; the
	// three broken ones are rejected (and kept) again.
	d = e2e.Start(t, dir, "report:\n  schedule: \"off\"\n")
	out, code = e2e.CLI(t, "replay-rejected", "--data-dir", dir, "--url", d.URL)
	if code != 0 || !strings.Contains(out, "replayed: 2 accepted, 3 rejected again") {
		t.Fatalf("--url: exit %d\n%s", code, out)
	}
	d.Stop()
	all := strings.Join(e2e.AllStored(t, dir), "\n")
	for _, want := range []string{`"msg":"no timestamp 1"`, `"msg":"no timestamp 2"`, `"ok":1`} {
		if !strings.Contains(all, want) {
			t.Errorf("stored records lack %s", want)
		}
	}
	if n := strings.Count(all, "no timestamp"); n != 2 {
		t.Errorf("replayed lines stored %d times", n)
	}
	if out, code := e2e.CLI(t, "replay-rejected", "--data-dir", dir); code != 2 {
		t.Errorf("no mode: exit %d %s", code, out)
	}
}
