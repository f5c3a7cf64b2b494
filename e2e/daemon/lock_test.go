package daemon

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/e2e"
)

// TestOneDaemonPerDataDir: a second serve on the same data dir is refused
// with the holder's PID and address; repair refuses while it runs; verify
// and cat say a live daemon owns the dir and still work; ingest-bench
// --verify refuses. After the daemon stops, all of them work again.
func TestOneDaemonPerDataDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := e2e.Start(t, dir, "segments:\n  block_age: 50ms\n")
	if r := d.Post(t, "/v1/ingest", []byte(`{"ts":"2026-11-20T10:00:00Z","n":1}`), nil); r.Code != 200 {
		t.Fatal(r.Body)
	}
	pid := strconv.Itoa(d.Cmd.Process.Pid)
	addr := strings.TrimPrefix(d.URL, "http://")
	out, code := e2e.CLI(t, "serve", "--data-dir", dir, "--listen", "127.0.0.1:0")
	if code != 1 || !strings.Contains(out, "in use by another ingestd") || !strings.Contains(out, "pid "+pid) || !strings.Contains(out, addr) {
		t.Fatalf("second serve: exit %d\n%s", code, out)
	}
	if out, code := e2e.CLI(t, "repair", "--data-dir", dir); code != 1 || !strings.Contains(out, "pid "+pid) {
		t.Fatalf("repair while running: exit %d\n%s", code, out)
	}
	if out, code := e2e.CLI(t, "verify", "--data-dir", dir); code != 0 || !strings.Contains(out, "a running ingestd owns") {
		t.Fatalf("verify while running: exit %d\n%s", code, out)
	}
	out, code = e2e.CLI(t, "cat", "--data-dir", dir)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out, `"n":1`) && time.Now().Before(deadline); out, code = e2e.CLI(t, "cat", "--data-dir", dir) {
		time.Sleep(100 * time.Millisecond) // until the block is flushed
	}
	if code != 0 || !strings.Contains(out, "a running ingestd owns") || !strings.Contains(out, `"n":1`) {
		t.Fatalf("cat while running: exit %d\n%s", code, out)
	}
	bench := filepath.Join(t.TempDir(), "ingest-bench")
	if b, err := exec.Command("go", "build", "-o", bench, "github.com/ingestd/ingestd/cmd/ingest-bench").CombinedOutput(); err != nil {
		t.Fatalf("build ingest-bench: %v\n%s", err, b)
	}
	ack := filepath.Join(t.TempDir(), "acks")
	os.WriteFile(ack, []byte("# ingest-bench ack log v1 {}\n"), 0o600)
	if b, err := exec.Command(bench, "--verify", dir, "--ack-log", ack).CombinedOutput(); err == nil || !strings.Contains(string(b), "a running ingestd owns") {
		t.Fatalf("ingest-bench --verify while running: %v\n%s", err, b)
	}
	d.Stop()
	if out, code := e2e.CLI(t, "repair", "--data-dir", dir); code != 0 {
		t.Fatalf("repair after the stop: exit %d\n%s", code, out)
	}
	if out, code := e2e.CLI(t, "verify", "--data-dir", dir); code != 0 || strings.Contains(out, "a running ingestd owns") {
		t.Fatalf("verify after the stop: exit %d\n%s", code, out)
	}
	d = e2e.Start(t, dir, "") // the lock went with the process
	d.Kill()
	d = e2e.Start(t, dir, "") // and with a killed one
	d.Stop()
}
