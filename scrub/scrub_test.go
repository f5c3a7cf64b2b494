package scrub

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ingestd/ingestd/segment"
)

// writeDay writes one sealed part of n records for day into dataDir.
func writeDay(t *testing.T, dataDir string, day time.Time, seq uint64, n int) string {
	t.Helper()
	dir := segment.DayDir(dataDir, day)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	enc, err := segment.NewEncoder(segment.LevelFastest)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	w, err := segment.Create(filepath.Join(dir, segment.PartName("n1", seq)))
	if err != nil {
		t.Fatal(err)
	}
	for b := 0; b < 3; b++ { // three blocks
		var raw []byte
		ts := day.Add(time.Hour).UnixNano()
		for i := 0; i < n; i++ {
			raw = fmt.Appendf(raw, `{"ts":%d,"i":%d,"pad":"%x"}`+"\n", ts, i, i*7919)
		}
		blk, err := enc.AppendBlock(nil, segment.BlockMeta{FirstSeq: seq + uint64(b), LastSeq: seq + uint64(b), Records: uint32(n), MinTS: ts, MaxTS: ts}, raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Append(blk); err != nil {
			t.Fatal(err)
		}
	}
	p, err := w.Seal()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPassFindsTheCorruptFile: one flipped byte in one of three sealed
// files is found, and only that file is named.
func TestPassFindsTheCorruptFile(t *testing.T) {
	dir := t.TempDir()
	day := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
	var files []string
	for i := 0; i < 3; i++ {
		files = append(files, writeDay(t, dir, day.AddDate(0, 0, i), uint64(1+10*i), 500))
	}
	s, err := New(Config{Interval: time.Hour}, nil, LocalFiles{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.Pass(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Files != 3 || len(rep.Problems) != 0 || s.CorruptFiles() != 0 || s.LastPass().IsZero() {
		t.Fatalf("clean pass: %+v, corrupt %d", rep, s.CorruptFiles())
	}
	b, _ := os.ReadFile(files[1])
	b[len(b)/2] ^= 0x10
	if err := os.WriteFile(files[1], b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := s.Corrupt(); s.CorruptFiles() != 1 || len(got) != 1 || got[0] != files[1] {
		t.Fatalf("corrupt files %d %v, want only %s", s.CorruptFiles(), got, files[1])
	}
	if s.Checked() != 6 {
		t.Errorf("checked %d files in two passes, want 6", s.Checked())
	}
}

// TestThrottleBoundsTheReadRate: the sleeps asked for add up to what the
// bytes read take at the configured rate.
func TestThrottleBoundsTheReadRate(t *testing.T) {
	dir := t.TempDir()
	p := writeDay(t, dir, time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC), 1, 20000)
	st, _ := os.Stat(p)
	var slept time.Duration
	s, err := New(Config{Interval: time.Hour, Rate: 64 << 10, sleep: func(d time.Duration) { slept += d }}, nil, LocalFiles{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if _, err := s.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := time.Duration(float64(st.Size()) / float64(64<<10) * float64(time.Second))
	// What the pass spent itself counts towards the budget too.
	if got := slept + time.Since(t0); got < want*9/10 {
		t.Errorf("a pass over %d bytes at 64 KiB/s slept %v (+%v working), want about %v", st.Size(), slept, time.Since(t0), want)
	}
}

func TestConfigIsChecked(t *testing.T) {
	if _, err := New(Config{}, nil); err == nil {
		t.Error("a zero interval was accepted")
	}
	if _, err := New(Config{Interval: time.Second, Rate: -1}, nil); err == nil {
		t.Error("a negative rate was accepted")
	}
}
