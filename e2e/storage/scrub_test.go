package storage

import (
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/e2e"
)

var scrubCorruptRe = regexp.MustCompile(`(?m)^ingestd_scrub_corrupt_files (\S+)$`)

// TestScrubFindsAFlippedByte: serve with scrub.interval verifies sealed
// files in the background; after one byte of a compacted day is flipped,
// the next pass exports ingestd_scrub_corrupt_files 1 and logs the file.
func TestScrubFindsAFlippedByte(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := e2e.Start(t, dir, "segments:\n  seal_grace: 0s\n  seal_idle: 100ms\n  block_age: 50ms\nscrub:\n  interval: 300ms\n  rate: 8MiB\n")
	day := time.Now().UTC().AddDate(0, 0, -2)
	var body strings.Builder
	for i := 0; i < 2000; i++ {
		body.WriteString(`{"ts":"` + day.Format(time.RFC3339Nano) + `","i":` + itoa(i) + `,"msg":"scrub me"}` + "\n")
	}
	if r := d.Post(t, "/v1/ingest", []byte(body.String()), nil); r.Code != 200 {
		t.Fatalf("post: %d %s", r.Code, r.Body)
	}
	scrape := func() string {
		resp, err := d.Client.Get(d.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		m := scrubCorruptRe.FindStringSubmatch(string(b))
		if m == nil {
			t.Fatalf("no ingestd_scrub_corrupt_files in /metrics")
		}
		return m[1]
	}
	var sealed string
	deadline := time.Now().Add(30 * time.Second)
	for sealed == "" && time.Now().Before(deadline) {
		for _, f := range e2e.Files(t, dir) {
			if strings.Contains(f, "-compact-") && strings.HasSuffix(f, ".ndjson.zst") {
				sealed = dir + "/" + f
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if sealed == "" {
		t.Fatalf("the day was not compacted: %v", e2e.Files(t, dir))
	}
	time.Sleep(700 * time.Millisecond) // a clean pass over the compacted file
	if got := scrape(); got != "0" {
		t.Fatalf("before the flip: ingestd_scrub_corrupt_files %s\n%s", got, d.Log)
	}
	b, err := os.ReadFile(sealed)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/3] ^= 0x01
	if err := os.WriteFile(sealed, b, 0o600); err != nil {
		t.Fatal(err)
	}
	got := ""
	for deadline = time.Now().Add(30 * time.Second); got != "1" && time.Now().Before(deadline); got = scrape() {
		time.Sleep(100 * time.Millisecond)
	}
	if got != "1" {
		t.Fatalf("after flipping a byte: ingestd_scrub_corrupt_files %s\n%s", got, d.Log)
	}
	if !strings.Contains(d.Log.String(), "scrub: corrupt file") || !strings.Contains(d.Log.String(), sealed) {
		t.Errorf("the log does not name %s:\n%s", sealed, d.Log)
	}
	d.Stop()
}

func itoa(i int) string { return strconv.Itoa(i) }
