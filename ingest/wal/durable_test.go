package wal

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"testing"
)

// TestDurableRangesCoverTheLog checks OnDurable in every sync mode: the runs
// it reports are contiguous in sequence, each within one file, and their
// bytes, read back and walked by Entries, are the log's entries; Ranges
// after a restart finds the same runs above a given sequence.
func TestDurableRangesCoverTheLog(t *testing.T) {
	for _, mode := range []SyncMode{SyncAlways, SyncInterval, SyncNever} {
		t.Run(string(mode), func(t *testing.T) {
			dir := t.TempDir()
			var mu sync.Mutex
			var runs []Range
			w := openT(t, dir, Options[string]{Sync: mode, FileSize: 4096, OnDurable: func(r Range) {
				mu.Lock()
				runs = append(runs, r)
				mu.Unlock()
			}})
			if err := w.Start(); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for g := 0; g < 4; g++ {
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					for i := 0; i < 60; i++ {
						p := fmt.Sprintf("g%d-%d-%s", g, i, bytes.Repeat([]byte("y"), i))
						if _, err := w.Append([]byte(p), ""); err != nil {
							t.Error(err)
						}
					}
				}(g)
			}
			wg.Wait()
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			next := uint64(1)
			for _, r := range runs {
				if r.First != next || r.Last < r.First {
					t.Fatalf("run %+v does not continue at %d", r, next)
				}
				b, err := os.ReadFile(r.Path)
				if err != nil {
					t.Fatal(err)
				}
				seen := r.First
				if err := Entries(b[r.Off:r.End], func(seq uint64, e []byte) error {
					if seq != seen {
						return fmt.Errorf("entry %d, want %d", seq, seen)
					}
					seen++
					return nil
				}); err != nil {
					t.Fatalf("run %+v: %v", r, err)
				}
				if seen != r.Last+1 {
					t.Fatalf("run %+v holds up to %d", r, seen-1)
				}
				next = r.Last + 1
			}
			if next != 241 {
				t.Fatalf("runs end at %d, want 240 entries", next-1)
			}
			if w.Files() < 2 {
				t.Fatalf("want rotation within the test, %d files", w.Files())
			}
			got, err := Ranges(dir, 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 || got[0].First != 101 || got[len(got)-1].Last != 240 {
				t.Fatalf("Ranges after 100: %+v", got)
			}
			for i := 1; i < len(got); i++ {
				if got[i].First != got[i-1].Last+1 || got[i].Off != 0 {
					t.Fatalf("Ranges not contiguous: %+v", got)
				}
			}
		})
	}
}

// TestEntriesRefusesDamage checks that a flipped byte or a cut entry is an
// error, not a shorter walk.
func TestEntriesRefusesDamage(t *testing.T) {
	dir := t.TempDir()
	w := openT(t, dir, Options[string]{})
	w.Start()
	for i := 0; i < 3; i++ {
		w.Append([]byte("payload"), "")
	}
	w.Close()
	b, _ := os.ReadFile(fileName(dir, 1))
	n := 0
	if err := Entries(b, func(uint64, []byte) error { n++; return nil }); err != nil || n != 3 {
		t.Fatalf("clean log: %d entries, %v", n, err)
	}
	if err := Entries(b[:len(b)-1], func(uint64, []byte) error { return nil }); err == nil {
		t.Fatal("a cut entry was accepted")
	}
	bad := append([]byte(nil), b...)
	bad[len(bad)-2] ^= 1
	if err := Entries(bad, func(uint64, []byte) error { return nil }); err == nil {
		t.Fatal("a flipped byte was accepted")
	}
}
