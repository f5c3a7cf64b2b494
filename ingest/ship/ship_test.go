package ship

import (
	"log/slog"
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
	if _, err := New(dir, Config{Endpoint: "127.0.0.1:1", Bucket: "b", Node: "a/b"}, nil, nil); err == nil {
		t.Fatal("a node id with a slash was accepted")
	}
	if _, err := New(dir, Config{Endpoint: "127.0.0.1:1", Node: "n"}, nil, nil); err == nil {
		t.Fatal("no bucket was accepted")
	}
}

// TestPartialMarkersAndWaiting: which partials ship, when a rewritten one
// ships again, and that a shipped file waits for a shipped partial listing it.
func TestPartialMarkersAndWaiting(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"n1.partial.json", "report.partial.json", ".n1.partial.json.tmp", "n1-compact-0000000000000001.ndjson.zst"} {
		os.WriteFile(filepath.Join(dir, n), []byte(`{"inputs":[{"name":"n1-compact-0000000000000001.ndjson.zst","size":1}]}`), 0o600)
	}
	ps := partialFiles(dir)
	if len(ps) != 1 || filepath.Base(ps[0]) != "n1.partial.json" {
		t.Fatalf("partials to ship: %v; want only the node's", ps)
	}
	p := ps[0]
	state, ok := partialState(p)
	if !ok || shippedPartial(p, state) {
		t.Fatal("an unshipped partial counts as shipped")
	}
	seg := filepath.Join(dir, "n1-compact-0000000000000001.ndjson.zst")
	os.WriteFile(seg+MarkerSuffix, []byte("k etag\n"), 0o600)
	s := &Shipper{cfg: Config{DeleteAfter: 0, WaitPartials: true}, log: slog.New(slog.DiscardHandler)}
	now := time.Now()
	if s.maybeDelete(seg, now, func() map[string]bool { return shippedPartialInputs(dir) }) {
		t.Fatal("a file went before a shipped partial listed it")
	}
	os.WriteFile(p+MarkerSuffix, []byte(state+" key\n"), 0o600)
	if !shippedPartial(p, state) {
		t.Fatal("the marker of the same partial is not recognised")
	}
	// Rewritten: ships again.
	time.Sleep(10 * time.Millisecond)
	os.WriteFile(p, []byte(`{"inputs":[{"name":"n1-compact-0000000000000001.ndjson.zst","size":1}],"x":1}`), 0o600)
	if st2, _ := partialState(p); shippedPartial(p, st2) {
		t.Fatal("a rewritten partial counts as shipped")
	}
	os.WriteFile(p+MarkerSuffix, []byte(mustState(t, p)+" key\n"), 0o600)
	if !s.maybeDelete(seg, now, func() map[string]bool { return shippedPartialInputs(dir) }) {
		t.Fatal("a file listed by a shipped partial was kept")
	}
	// Without a partial, the file goes PartialWait after DeleteAfter anyway.
	os.WriteFile(seg, []byte("x"), 0o600)
	os.Remove(p)
	if s.maybeDelete(seg, now, func() map[string]bool { return shippedPartialInputs(dir) }) || !s.maybeDelete(seg, now.Add(PartialWait+time.Second), nil) {
		t.Fatal("waiting for a partial is not bounded by PartialWait")
	}
}

func mustState(t *testing.T, p string) string {
	st, ok := partialState(p)
	if !ok {
		t.Fatal("no partial")
	}
	return st
}
