package ship

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/ingestd/ingestd/ingest/wal"
)

var update = flag.Bool("update", false, "rewrite testdata/golden-v1.walo")

// goldenEntries writes two WAL entries (uncompressed, so the bytes are
// fixed) and returns the log file's bytes.
func goldenEntries(t *testing.T) []byte {
	dir := t.TempDir()
	w, _, err := wal.Open(wal.Options[struct{}]{Dir: dir, NoCompress: true})
	if err != nil {
		t.Fatal(err)
	}
	w.SetNext(7)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{`{"msg":"one"}` + "\n", `{"msg":"two"}` + "\n"} {
		if _, err := w.Append([]byte(p), struct{}{}); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	b, err := os.ReadFile(filepath.Join(dir, "0000000000000007.wal"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWALObjectGolden pins the WAL object format (docs/FORMAT.md): the
// bytes AppendWALObject makes today are the golden file's, and the golden
// file parses back into its range, key records and entries.
func TestWALObjectGolden(t *testing.T) {
	entries := goldenEntries(t)
	keys := []byte("key journal records pass through as they are")
	got := AppendWALObject(nil, 7, 8, keys, entries)
	golden := filepath.Join("testdata", "golden-v1.walo")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the WAL object format changed: %d bytes, golden %d (a new format needs a new version and magic)", len(got), len(want))
	}
	first, last, k, e, err := ParseWALObject(want)
	if err != nil || first != 7 || last != 8 || !bytes.Equal(k, keys) || !bytes.Equal(e, entries) {
		t.Fatalf("parse: %d-%d, keys %q, %d entry bytes, %v", first, last, k, len(e), err)
	}
	var seqs []uint64
	if err := wal.Entries(e, func(seq uint64, _ []byte) error { seqs = append(seqs, seq); return nil }); err != nil || len(seqs) != 2 || seqs[0] != 7 {
		t.Fatalf("entries %v, %v", seqs, err)
	}
	// A flipped header byte or a short object is refused.
	bad := append([]byte(nil), want...)
	bad[9] ^= 1
	if _, _, _, _, err := ParseWALObject(bad); err == nil {
		t.Fatal("a damaged header was accepted")
	}
	if _, _, _, _, err := ParseWALObject(want[:20]); err == nil {
		t.Fatal("a short object was accepted")
	}
}

func TestWALKeys(t *testing.T) {
	k := WALKey("p/q/", "n-1", 1, 255)
	if k != "p/q/wal/n-1/0000000000000001-00000000000000ff.walo" {
		t.Fatal(k)
	}
	if f, l, ok := parseWALKey(k); !ok || f != 1 || l != 255 {
		t.Fatalf("parse %s: %d %d %v", k, f, l, ok)
	}
	for _, bad := range []string{"p/wal/n/keys", "p/wal/n/00ff-0100.walo", "p/wal/n/0000000000000002-0000000000000001.walo"} {
		if _, _, ok := parseWALKey(bad); ok {
			t.Errorf("%s parsed as a WAL object", bad)
		}
	}
	if HeartbeatKey("", "n1") != "nodes/n1.heartbeat" || KeysKey("x", "n1") != "x/wal/n1/keys" {
		t.Fatal(HeartbeatKey("", "n1"), KeysKey("x", "n1"))
	}
}
