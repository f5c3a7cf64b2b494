package segment

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Scanning: blocks in parallel, in order, with prefetch.

func TestScanTimeRangeSkipsBlocks(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "segments", "dt=2026-11-03")
	w, _ := writePart(t, dir, newEnc(t, LevelFastest), 5)
	from := testDay.Add(150 * time.Second).UnixNano() // inside block 1 (records 100..199)
	to := testDay.Add(300 * time.Second).UnixNano()   // block 3 starts at 300: excluded
	var seqs []uint64
	err := ScanFiles(context.Background(), []string{w.Path()}, ScanOptions{From: from, To: to}, func(_ string, m BlockMeta, _ []byte) error {
		seqs = append(seqs, m.FirstSeq)
		return nil
	})
	if err != nil || fmt.Sprint(seqs) != "[2 3]" {
		t.Fatalf("blocks %v err %v, want [2 3]", seqs, err)
	}
}

func TestScanBlocksParallel(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "segments", "dt=2026-11-03")
	w, _ := writePart(t, dir, newEnc(t, LevelFastest), 9)
	var mu sync.Mutex
	var got []byte
	workers := map[int]bool{}
	err := ScanBlocks(context.Background(), []string{w.Path()}, ScanOptions{Workers: 3}, func(wk int, _ string, _ BlockMeta, raw []byte) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, raw...)
		workers[wk] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if sortedLines(got) != sortedLines(testRecords(0, 900)) {
		t.Fatalf("ScanBlocks read %d bytes, not the 900 records", len(got))
	}
	for wk := range workers {
		if wk < 0 || wk >= 3 {
			t.Fatalf("worker index %d out of range", wk)
		}
	}
	// The first error stops the scan and is returned.
	stop := errors.New("stop")
	n := 0
	err = ScanBlocks(context.Background(), []string{w.Path()}, ScanOptions{Workers: 2}, func(int, string, BlockMeta, []byte) error {
		mu.Lock()
		defer mu.Unlock()
		n++
		return stop
	})
	if !errors.Is(err, stop) || n > 3 {
		t.Fatalf("err %v after %d calls, want stop after at most 3", err, n)
	}
}

// slowReaderAt delays each read (a ranged GET) and records how many run at
// once; it fails reads at or past failAt when failAt > 0.
type slowReaderAt struct {
	f            *os.File
	failAt       int64
	mu           sync.Mutex
	inFlight, hi int
}

func (s *slowReaderAt) ReadAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	s.inFlight++
	s.hi = max(s.hi, s.inFlight)
	s.mu.Unlock()
	defer func() { s.mu.Lock(); s.inFlight--; s.mu.Unlock() }()
	time.Sleep(2 * time.Millisecond)
	if s.failAt > 0 && off >= s.failAt {
		return 0, errors.New("ranged read failed")
	}
	return s.f.ReadAt(p, off)
}

func TestPrefetchScanKeepsOrder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "segments", "dt=2026-11-03")
	w, ends := writePart(t, dir, newEnc(t, LevelFastest), 12)
	if _, err := w.Seal(); err != nil {
		t.Fatal(err)
	}
	sealed, _, _ := DayFiles(dir)
	want := readAll(t, sealed...)
	for _, c := range []struct {
		failAt   int64
		prefetch int
	}{{0, 8}, {0, 1}, {ends[4], 8}} {
		ra := &slowReaderAt{failAt: c.failAt}
		open := func(name string) (*FileReader, error) {
			f, err := os.Open(name)
			if err != nil {
				return nil, err
			}
			st, _ := f.Stat()
			ra.f = f
			return NewReader(name, ra, st.Size(), f), nil
		}
		if c.failAt > 0 { // the index is at the end: let it be read, fail the blocks
			open0 := open
			open = func(name string) (*FileReader, error) {
				r, err := open0(name)
				if err == nil {
					_, err = r.Index()
					ra.failAt = c.failAt
				}
				return r, err
			}
			ra.failAt = 0
		}
		var got []byte
		err := ScanFiles(context.Background(), sealed, ScanOptions{Workers: 2, Open: open, Prefetch: c.prefetch},
			func(_ string, _ BlockMeta, raw []byte) error {
				got = append(got, raw...)
				return nil
			})
		if c.failAt > 0 {
			if err == nil || !strings.Contains(err.Error(), "ranged read failed") {
				t.Fatalf("a failed read gave %v", err)
			}
			if !bytes.HasPrefix(want, got) {
				t.Fatal("blocks before the failed read came out of order")
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("prefetch %d: %d bytes differ from the plain scan's %d", c.prefetch, len(got), len(want))
		}
		if c.prefetch > 1 && ra.hi < 2 {
			t.Fatalf("prefetch %d: at most %d reads ran at once", c.prefetch, ra.hi)
		}
		if c.prefetch == 1 && ra.hi != 1 {
			t.Fatalf("no prefetch: %d reads ran at once", ra.hi)
		}
	}
}
