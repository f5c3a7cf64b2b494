package storage

import (
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/e2e"
)

var writeGolden = flag.Bool("golden.write", false, "write testdata/golden/v1 (TestWriteGoldenV1) or v2 (TestWriteGoldenV2) anew from a running daemon (then commit it: it is frozen)")

// goldenDir is a data directory written by ingestd 0.1 with a file of every
// on-disk format (docs/FORMAT.md): a compacted segment file and its daily
// report partial, an open part, WAL entries (compressed) that no segment
// holds yet, an idempotency journal and a rejected-lines file. It is
// frozen: a change that cannot read it fails TestGoldenV1.
func goldenDir() string { return filepath.Join(e2e.RepoRoot(), "testdata", "golden", "v1") }

const goldenKey = "golden-key-1"

// goldenRecords are what the golden data directory holds, as sent.
func goldenRecords() (sealed, walOnly []string) {
	for i := 0; i < 40; i++ {
		sealed = append(sealed, fmt.Sprintf(`{"ts":"2026-10-01T%02d:%02d:00Z","level":"%s","service":"svc-%d","duration_ms":%d,"user":{"id":%d}}`,
			i%24, i, []string{"info", "warn", "error"}[i%3], i%4, 10+i*7, 1000+i))
	}
	for i := 0; i < 25; i++ {
		walOnly = append(walOnly, fmt.Sprintf(`{"ts":"2026-10-02T10:%02d:00.%03dZ","msg":"wal %d","n":%d}`, i, i*37, i, i*i))
	}
	return sealed, walOnly
}

// goldenConfig names the report fields that were the defaults when the
// golden partial was written (reports now choose them from the data when
// none are named), so that the partial stays fresh.
const goldenConfig = "node_id: golden\nidempotency:\n  window: 87600h\nreport:\n  schedule: \"off\"\n" +
	"  dimensions: [level, service, host, status]\n  metrics: [duration_ms, bytes]\n  distinct: [host, user.id]\n"

// TestWriteGoldenV1 writes the golden data directory, with -golden.write.
func TestWriteGoldenV1(t *testing.T) {
	if !*writeGolden {
		t.Skip("the golden v1 data directory is frozen; -golden.write rewrites it")
	}
	dir := goldenDir()
	os.RemoveAll(dir)
	sealed, walOnly := goldenRecords()
	// A finished day: sealed, compacted, with its partial.
	d := e2e.Start(t, dir, goldenConfig+"segments:\n  block_age: 100ms\n  seal_grace: 0s\n  seal_idle: 200ms\n")
	if r := d.Post(t, "/v1/ingest", []byte(strings.Join(sealed, "\n")), nil); r.Code != 200 {
		t.Fatal(r.Body)
	}
	e2e.WaitFor(t, "the day's partial", func() bool {
		_, err := os.Stat(filepath.Join(dir, "segments", "dt=2026-10-01", "golden.partial.json"))
		return err == nil
	})
	d.Stop()
	// A day in the WAL only, with a key, and rejected lines; then kill -9.
	d = e2e.Start(t, dir, goldenConfig+"segments:\n  block_age: 1h\n  seal_idle: 1h\n")
	if r := d.Post(t, "/v1/ingest?invalid=skip", []byte(strings.Join(walOnly[:20], "\n")+"\nnot json\n[1]\n"), map[string]string{"Idempotency-Key": goldenKey}); r.Code != 200 {
		t.Fatal(r.Body)
	}
	if r := d.Post(t, "/v1/ingest", []byte(strings.Join(walOnly[20:], "\n")), nil); r.Code != 200 {
		t.Fatal(r.Body)
	}
	time.Sleep(1500 * time.Millisecond) // the rejected lines' frame is closed
	d.Kill()
	os.Remove(filepath.Join(dir, ".lock"))
	t.Logf("wrote %s", dir)
}

// TestGoldenV1 reads the frozen v1 data directory with today's code through
// the CLI and the daemon: verify, cat, the report from the stored partial,
// the rejected lines, WAL replay, and the idempotency journal.
func TestGoldenV1(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(goldenDir()); err != nil {
		t.Fatalf("golden data directory missing: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	copyTree(t, goldenDir(), dir)
	sealed, walOnly := goldenRecords()

	if out, code := e2e.CLI(t, "verify", "--data-dir", dir); code != 0 || !strings.Contains(out, "0 problems") {
		t.Fatalf("verify: exit %d\n%s", code, out)
	}
	out, code := e2e.CLI(t, "cat", "--data-dir", dir, "--from", "2026-10-01", "--to", "2026-10-02")
	if got := strings.Fields(out); code != 0 || strings.Join(got, "\n") != strings.Join(sealed, "\n") {
		t.Fatalf("cat of the sealed day: exit %d\n%s", code, out)
	}
	rep := t.TempDir()
	cfgFile := filepath.Join(rep, "ingestd.yaml")
	if err := os.WriteFile(cfgFile, []byte(goldenConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code = e2e.CLI(t, "report", "--config", cfgFile, "--month", "2026-10", "--data-dir", dir, "--out", rep, "--no-partials")
	if code != 0 || !strings.Contains(out, "40 records over 1 day (1 from daily partials, 0 scanned)") {
		t.Fatalf("report from the v1 partial: exit %d\n%s", code, out)
	}
	out, code = e2e.CLI(t, "replay-rejected", "--data-dir", dir, "--list")
	var reasons []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var e struct{ Reason, Producer string }
		if json.Unmarshal([]byte(l), &e) == nil && e.Reason != "" {
			reasons = append(reasons, e.Producer+"/"+e.Reason)
		}
	}
	sort.Strings(reasons)
	if code != 0 || strings.Join(reasons, " ") != "anonymous/invalid_json anonymous/not_object" {
		t.Fatalf("rejected lines: exit %d %v\n%s", code, reasons, out)
	}

	d := e2e.Start(t, dir, goldenConfig)
	// The journal holds the key's first answer: the same request replays it.
	r := d.Post(t, "/v1/ingest?invalid=skip", []byte(strings.Join(walOnly[:20], "\n")+"\nnot json\n[1]\n"), map[string]string{"Idempotency-Key": goldenKey})
	if r.Code != 200 || r.Hdr.Get("Idempotency-Replayed") != "true" || !strings.HasPrefix(r.Body, `{"accepted":20,"rejected":2,`) {
		t.Fatalf("replay of the journaled key: %d %v %s", r.Code, r.Hdr, r.Body)
	}
	d.Stop()
	// The WAL's entries were replayed into the segments, once.
	got := e2e.AllStored(t, dir)
	want := append(append([]string(nil), sealed...), walOnly...)
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("after recovery the segments hold %d records, want the %d sent:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
}

// copyTree copies a directory tree (files 0600, folders 0700).
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if e.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// goldenDirV2 is a data directory written in format 2 (docs/FORMAT.md): an
// open part whose block holds a frame a request compressed and a frame of
// a small request's raw records (a version 2 block header), and WAL entries
// of payload format 2 — one with a frame per day of a request that spans
// days, one with raw records only — that no segment holds yet. It is
// frozen: a change that cannot read it fails TestGoldenV2.
func goldenDirV2() string { return filepath.Join(e2e.RepoRoot(), "testdata", "golden", "v2") }

// goldenRecordsV2 are what the format 2 golden directory holds, as sent:
// big requests (over the 16 KiB frame threshold) and small ones.
func goldenRecordsV2() (openBig, openSmall, walBig, walSmall []string) {
	rec := func(day, i int, kind string) string {
		return fmt.Sprintf(`{"ts":"2026-10-%02dT%02d:%02d:%02d.%03dZ","kind":"%s","id":"%08x-%04x","n":%d,"msg":"golden format 2 record %d of day %d"}`,
			day, i%24, i%60, (i*7)%60, i%1000, kind, i*2654435761%(1<<32), i%65536, i*i, i, day)
	}
	for i := 0; i < 200; i++ {
		openBig = append(openBig, rec(3, i, "open-big"))
	}
	for i := 0; i < 400; i++ {
		walBig = append(walBig, rec(4+i%2, i, "wal-big")) // two days, ≥ 16 KiB each
	}
	for i := 0; i < 5; i++ {
		openSmall = append(openSmall, rec(3, 1000+i, "open-small"))
		walSmall = append(walSmall, rec(4, 1000+i, "wal-small"))
	}
	return
}

// TestWriteGoldenV2 writes the format 2 golden data directory, with
// -golden.write.
func TestWriteGoldenV2(t *testing.T) {
	if !*writeGolden {
		t.Skip("the golden v2 data directory is frozen; -golden.write rewrites it")
	}
	dir := goldenDirV2()
	os.RemoveAll(dir)
	openBig, openSmall, walBig, walSmall := goldenRecordsV2()
	cfg := "node_id: golden\nreport:\n  schedule: \"off\"\n"
	// An open part of 2026-10-03 with one block of two frames.
	d := e2e.Start(t, dir, cfg+"segments:\n  block_age: 1s\n  seal_idle: 1h\n")
	for _, recs := range [][]string{openBig, openSmall} {
		if r := d.Post(t, "/v1/ingest", []byte(strings.Join(recs, "\n")), nil); r.Code != 200 {
			t.Fatal(r.Body)
		}
	}
	e2e.WaitFor(t, "the open part's block", func() bool {
		m, _ := filepath.Glob(filepath.Join(dir, "segments", "dt=2026-10-03", "*.open"))
		if len(m) != 1 {
			return false
		}
		fi, err := os.Stat(m[0])
		return err == nil && fi.Size() > 0
	})
	d.Kill()
	os.Remove(filepath.Join(dir, ".lock"))
	// Format 2 WAL entries no segment holds: kill -9 before any flush.
	d = e2e.Start(t, dir, cfg+"segments:\n  block_age: 1h\n  seal_idle: 1h\n")
	for _, recs := range [][]string{walBig, walSmall} {
		if r := d.Post(t, "/v1/ingest", []byte(strings.Join(recs, "\n")), nil); r.Code != 200 {
			t.Fatal(r.Body)
		}
	}
	d.Kill()
	os.Remove(filepath.Join(dir, ".lock"))
	os.RemoveAll(filepath.Join(dir, "idempotency"))
	os.RemoveAll(filepath.Join(dir, "rejected"))
	t.Logf("wrote %s", dir)
}

// TestGoldenV2 reads the frozen format 2 data directory with today's code:
// verify and cat read the open part's version 2 block, and a daemon's
// recovery replays the format 2 WAL entries into the segments, once.
func TestGoldenV2(t *testing.T) {
	t.Parallel()
	src := goldenDirV2()
	parts, _ := filepath.Glob(filepath.Join(src, "segments", "dt=2026-10-03", "*.open"))
	if len(parts) != 1 {
		t.Fatalf("golden v2: want one open part, have %v", parts)
	}
	// The golden files hold what they are meant to: a version 2 block
	// header, and WAL entries with zstd frames in them.
	b, err := os.ReadFile(parts[0])
	if err != nil || len(b) < 9 || b[8] != 2 {
		t.Fatalf("golden v2 open part does not start with a version 2 block header (%v)", err)
	}
	wals, _ := filepath.Glob(filepath.Join(src, "wal", "*.wal"))
	frames := 0
	for _, p := range wals {
		w, _ := os.ReadFile(p)
		frames += strings.Count(string(w), "\x28\xb5\x2f\xfd")
	}
	if frames < 3 {
		t.Fatalf("golden v2 WAL holds %d zstd frames, want one of the open part's request and the two days' of another", frames)
	}
	dir := filepath.Join(t.TempDir(), "data")
	copyTree(t, src, dir)
	openBig, openSmall, walBig, walSmall := goldenRecordsV2()
	if out, code := e2e.CLI(t, "verify", "--data-dir", dir); code != 0 || !strings.Contains(out, "0 problems") {
		t.Fatalf("verify: exit %d\n%s", code, out)
	}
	out, code := e2e.CLI(t, "cat", "--data-dir", dir, "--from", "2026-10-03", "--to", "2026-10-04")
	if want := append(append([]string(nil), openBig...), openSmall...); code != 0 || strings.Join(strings.Split(strings.TrimSpace(out), "\n"), "\n") != strings.Join(want, "\n") {
		t.Fatalf("cat of the open part: exit %d, %d lines, want %d in order", code, strings.Count(out, "\n"), len(want))
	}
	d := e2e.Start(t, dir, "node_id: golden\nreport:\n  schedule: \"off\"\n")
	d.Stop()
	got := e2e.AllStored(t, dir)
	want := append(append(append(append([]string(nil), openBig...), openSmall...), walBig...), walSmall...)
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("after recovery the segments hold %d records, want the %d sent", len(got), len(want))
	}
}
