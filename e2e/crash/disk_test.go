package crash

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/e2e"

	"github.com/ingestd/ingestd/internal/testenv"
)

// mountTmpfs mounts a small tmpfs for a test, or skips when it cannot (not
// root, or no mount permission in this sandbox).
func mountTmpfs(t *testing.T, mib int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root (to mount a small tmpfs for a real full-disk test)", "run the tests as root, as CI does")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm", mib), "tmpfs", dir).CombinedOutput(); err != nil {
		testenv.Missing(t, "a tmpfs mount ("+err.Error()+": "+strings.TrimSpace(string(out))+")", "run the tests as root where mounts are allowed")
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

func TestMinFreeSpaceTurnsIntakeTo507AndBack(t *testing.T) {
	fs := mountTmpfs(t, 64)
	data := filepath.Join(fs, "data")
	d := e2e.Start(t, data, "disk:\n  min_free: 40MiB\nwal:\n  file_size: 1MiB\nreport:\n  schedule: \"off\"\n")
	body := []byte(`{"ts":"2026-11-20T10:00:00Z"}`)
	if r := d.Post(t, "/v1/ingest", body, nil); r.Code != 200 {
		t.Fatalf("before: %d %s", r.Code, r.Body)
	}
	filler := filepath.Join(fs, "filler")
	if err := os.WriteFile(filler, make([]byte, 30<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	var r e2e.Reply
	for r = d.Post(t, "/v1/ingest", body, nil); r.Code != 507 && time.Now().Before(deadline); r = d.Post(t, "/v1/ingest", body, nil) {
		time.Sleep(100 * time.Millisecond)
	}
	if r.Code != 507 || !strings.Contains(r.Body, "disk.min_free") {
		t.Fatalf("with 30 MiB filled: %d %s", r.Code, r.Body)
	}
	resp, err := d.Client.Get(d.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(rb), "disk_low") {
		t.Fatalf("readyz while low: %d %s", resp.StatusCode, rb)
	}
	os.Remove(filler)
	deadline = time.Now().Add(10 * time.Second)
	for r = d.Post(t, "/v1/ingest", body, nil); r.Code != 200 && time.Now().Before(deadline); r = d.Post(t, "/v1/ingest", body, nil) {
		time.Sleep(100 * time.Millisecond)
	}
	if r.Code != 200 {
		t.Fatalf("after freeing space: %d %s", r.Code, r.Body)
	}
	d.Stop()
	if !strings.Contains(d.Log.String(), "disk nearly full") || !strings.Contains(d.Log.String(), "intake open again") {
		t.Fatalf("transitions not logged\n%s", d.Log)
	}
}

// TestENOSPCLosesNothingAcknowledged fills a real file system with the
// threshold off, so the WAL and segment writes hit ENOSPC. Requests then get
// 507; afterwards, on a bigger disk, every acknowledged record is there
// exactly once and every request without a 200 is whole or absent.
func TestENOSPCLosesNothingAcknowledged(t *testing.T) {
	fs := mountTmpfs(t, 12)
	data := filepath.Join(fs, "data")
	d := e2e.Start(t, data, "disk:\n  min_free: 0\nwal:\n  file_size: 1MiB\n  compress: false\nsegments:\n  block_age: 100ms\nreport:\n  schedule: \"off\"\n")
	r := rand.New(rand.NewSource(1))
	acked := map[int]bool{}
	sent := map[int]bool{}
	var saw507 int
	for req := 0; req < 3000 && saw507 < 5; req++ {
		var b bytes.Buffer
		for i := 0; i < 1000; i++ {
			// random payload: compresses poorly, so segments fill the disk too
			fmt.Fprintf(&b, `{"ts":"2026-11-20T10:00:00Z","req":%d,"i":%d,"p":"%x"}`+"\n", req, i, r.Uint64()^r.Uint64()<<1)
		}
		sent[req] = true
		switch rep := d.Post(t, "/v1/ingest", b.Bytes(), nil); rep.Code {
		case 200:
			acked[req] = true
		case 507:
			saw507++
		default:
			t.Fatalf("request %d: %d %s", req, rep.Code, rep.Body)
		}
	}
	if saw507 == 0 || len(acked) == 0 {
		t.Fatalf("%d acknowledged, %d answered 507: the disk never filled", len(acked), saw507)
	}
	e2e.WaitLog(t, d, "STORAGE FAILED")
	resp, err := d.Client.Get(d.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(rb), `"failed"`) {
		t.Fatalf("readyz after ENOSPC: %d %s", resp.StatusCode, rb)
	}
	d.Kill() // as an operator would after the alert, or a crash
	// Move the data to a roomy disk and restart.
	big := filepath.Join(t.TempDir(), "data")
	if out, err := exec.Command("cp", "-a", data, big).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	d = e2e.Start(t, big, "report:\n  schedule: \"off\"\n")
	d.Stop()
	counts := map[[2]int]int{}
	perReq := map[int]int{}
	for _, line := range e2e.AllStored(t, big) {
		var req, i int
		if _, err := fmt.Sscanf(line[strings.Index(line, `"req":`):], `"req":%d,"i":%d`, &req, &i); err != nil {
			t.Fatalf("stored line %s: %v", line, err)
		}
		counts[[2]int{req, i}]++
		perReq[req]++
	}
	for k, n := range counts {
		if n != 1 {
			t.Fatalf("record %v stored %d times", k, n)
		}
	}
	for req := range acked {
		if perReq[req] != 1000 {
			t.Fatalf("acknowledged request %d: %d of 1000 records stored", req, perReq[req])
		}
	}
	for req, n := range perReq {
		if !sent[req] || (n != 1000 && n != 0) {
			t.Fatalf("request %d (unacknowledged: %v) stored %d records: not whole", req, !acked[req], n)
		}
	}
	t.Logf("%d requests acknowledged, %d answered 507; all acknowledged records recovered once", len(acked), saw507)
}

// A data dir that turns read-only under the daemon (a read-only bind mount
// over segments/, so that the next day's folder cannot be created: EROFS)
// is a storage failure only an operator can fix: writes answer 507 with
// "storage failed, operator action needed" and no Retry-After (a client
// told to retry every second would retry forever), the message names the
// path once, the log says STORAGE FAILED once, and the record acknowledged
// before the failure is stored after the operator's restart.
func TestReadOnlyDataDirNeedsOperator(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root (to bind-mount a folder read-only)", "run the tests as root, as CI does")
	}
	data := filepath.Join(t.TempDir(), "data")
	d := e2e.Start(t, data, "segments:\n  block_age: 100ms\nreport:\n  schedule: \"off\"\n")
	segs := filepath.Join(data, "segments")
	if err := os.MkdirAll(segs, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "--bind", segs, segs).CombinedOutput(); err != nil {
		testenv.Missing(t, "a bind mount ("+err.Error()+": "+strings.TrimSpace(string(out))+")", "run the tests as root where mounts are allowed")
	}
	t.Cleanup(func() { exec.Command("umount", "-l", segs).Run() })
	if out, err := exec.Command("mount", "-o", "remount,bind,ro", segs).CombinedOutput(); err != nil {
		t.Fatalf("remount read-only: %v %s", err, out)
	}
	if r := d.Post(t, "/v1/ingest", []byte(`{"ts":"2026-11-21T10:00:00Z","n":1}`), nil); r.Code != 200 {
		t.Fatalf("first record (into the WAL): %d %s", r.Code, r.Body)
	}
	e2e.WaitLog(t, d, "STORAGE FAILED") // the flush cannot create the day's folder
	var r e2e.Reply
	for i := 0; i < 20; i++ {
		r = d.Post(t, "/v1/ingest", []byte(`{"ts":"2026-11-21T10:00:01Z","n":2}`), nil)
	}
	if r.Code != 507 || !strings.Contains(r.Body, "storage failed, operator action needed") {
		t.Fatalf("after the failure: %d %s", r.Code, r.Body)
	}
	if ra := r.Hdr.Get("Retry-After"); ra != "" {
		t.Errorf("Retry-After: %s, want none (only an operator can fix it)", ra)
	}
	day := filepath.Join(segs, "dt=2026-11-21")
	if n := strings.Count(r.Body, day); n != 1 {
		t.Errorf("the answer names %s %d times: %s", day, n, r.Body)
	}
	if n := strings.Count(d.Log.String(), "STORAGE FAILED"); n != 1 {
		t.Errorf("STORAGE FAILED logged %d times, want once\n%s", n, d.Log)
	}
	d.Kill() // the operator: fix the disk, restart
	if out, err := exec.Command("umount", segs).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v %s", err, out)
	}
	d = e2e.Start(t, data, "report:\n  schedule: \"off\"\n")
	d.Stop()
	if got := e2e.Stored(t, data)["dt=2026-11-21"]; len(got) != 1 || got[0] != `{"ts":"2026-11-21T10:00:00Z","n":1}` {
		t.Fatalf("after the restart: %q, want the acknowledged record once", got)
	}
}
