package wal

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// walFile returns the bytes of a real WAL file holding n entries.
func walFile(f *testing.F, n int, compress bool) []byte {
	dir := f.TempDir()
	w, _, err := Open(Options[string]{Dir: dir, NoCompress: !compress, Sync: SyncNever})
	if err != nil {
		f.Fatal(err)
	}
	if err := w.Start(); err != nil {
		f.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if _, err := w.Append([]byte(`{"ts":1,"n":`+string(rune('0'+i%10))+`}`), ""); err != nil {
			f.Fatal(err)
		}
	}
	w.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, p := range files {
		if b, _ := os.ReadFile(p); len(b) > 0 {
			return b
		}
	}
	f.Fatal("no WAL file")
	return nil
}

// FuzzScanFile: the WAL reader never panics on any file content; it delivers
// entries in sequence from the first; the offset it returns is within the
// file; and cutting the file there (what recovery does with a torn tail)
// leaves a file that reads the same entries with no tail.
func FuzzScanFile(f *testing.F) {
	good := walFile(f, 5, true)
	f.Add(good)
	f.Add(walFile(f, 3, false))
	f.Add(good[:len(good)-3])                // torn last entry
	f.Add(append(good, make([]byte, 40)...)) // zero-filled tail
	bad := append([]byte(nil), good...)
	bad[20] ^= 0xff // damage in the first entry
	f.Add(bad)
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "wal")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		var seqs []uint64
		off, reason, err := scanFile(p, 1, func(seq uint64, _ byte, payload []byte) error {
			seqs = append(seqs, seq)
			return nil
		})
		if off < 0 || off > int64(len(data)) {
			t.Fatalf("offset %d outside the file of %d bytes", off, len(data))
		}
		for i, s := range seqs {
			if s != uint64(i+1) {
				t.Fatalf("entries out of sequence: %v", seqs)
			}
		}
		var ce *CorruptionError
		if err != nil && !errors.As(err, &ce) {
			t.Fatalf("error is not a CorruptionError: %v", err)
		}
		if err != nil || reason == "" {
			return
		}
		// A torn tail: cut it, and the file reads cleanly to its end.
		if err := os.Truncate(p, off); err != nil {
			t.Fatal(err)
		}
		var again []uint64
		off2, reason2, err := scanFile(p, 1, func(seq uint64, _ byte, _ []byte) error {
			again = append(again, seq)
			return nil
		})
		if err != nil || reason2 != "" || off2 != off || len(again) != len(seqs) {
			t.Fatalf("after cutting at %d: %d entries (was %d), tail %q, err %v", off, len(again), len(seqs), reason2, err)
		}
	})
}
