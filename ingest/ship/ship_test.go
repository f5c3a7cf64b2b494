package ship

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestKeyLayout(t *testing.T) {
	for _, c := range []struct{ prefix, want string }{
		{"", "dt=2026-10-01/n1-compact-00ff.ndjson.zst"},
		{"prod", "prod/dt=2026-10-01/n1-compact-00ff.ndjson.zst"},
		{"/a/b/", "a/b/dt=2026-10-01/n1-compact-00ff.ndjson.zst"},
	} {
		if got := Key(c.prefix, "n1", "2026-10-01", "compact-00ff.ndjson.zst"); got != c.want {
			t.Errorf("Key(%q) = %s, want %s", c.prefix, got, c.want)
		}
	}
	// A file named by a node keeps its name, even after a rename of the host.
	for file, want := range map[string]string{
		"old-host-compact-00000000000000ff.ndjson.zst": "dt=2026-10-01/old-host-compact-00000000000000ff.ndjson.zst",
		"n1-part-0000000000000001.ndjson.zst":          "dt=2026-10-01/n1-part-0000000000000001.ndjson.zst",
		"part-0000000000000001.ndjson.zst":             "dt=2026-10-01/n1-part-0000000000000001.ndjson.zst",
	} {
		if got := Key("", "n1", "2026-10-01", file); got != want {
			t.Errorf("Key(%s) = %s, want %s", file, got, want)
		}
	}
}

func TestSettledAndConfig(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "part-1.ndjson.zst")
	os.WriteFile(p, []byte("x"), 0o600)
	now := time.Now()
	if settled([]string{p}, now) {
		t.Fatal("a file written just now is settled")
	}
	old := now.Add(-2 * time.Hour)
	os.Chtimes(p, old, old)
	if !settled([]string{p}, now) || settled(nil, now) {
		t.Fatal("settled: wrong for an hour-old file or for no files")
	}
	if _, err := New(dir, Config{Endpoint: "127.0.0.1:1", Bucket: "b", Node: "a/b"}, nil); err == nil {
		t.Fatal("a node id with a slash was accepted")
	}
	if _, err := New(dir, Config{Endpoint: "127.0.0.1:1", Node: "n"}, nil); err == nil {
		t.Fatal("no bucket was accepted")
	}
}
