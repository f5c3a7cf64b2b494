package segment

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Damage and faults: torn tails, corruption in the middle, crashes during
// compaction, short writes and failed fsyncs through the file seam.

func TestTornTails(t *testing.T) {
	enc := newEnc(t, LevelFastest)
	// Each case damages a 4-block open part; want is how many blocks survive.
	cases := map[string]struct {
		damage func(t *testing.T, path string, ends []int64)
		want   int
	}{
		"cut in header":             {func(t *testing.T, p string, e []int64) { truncate(t, p, e[2]+20) }, 3},
		"cut in frame":              {func(t *testing.T, p string, e []int64) { truncate(t, p, e[2]+BlockHeaderLen+10) }, 3},
		"cut at header end":         {func(t *testing.T, p string, e []int64) { truncate(t, p, e[2]+BlockHeaderLen) }, 3},
		"partial magic after frame": {func(t *testing.T, p string, e []int64) { truncate(t, p, e[3]+3) }, 4},
		"whole":                     {func(t *testing.T, p string, e []int64) {}, 4},
		"zero tail":                 {func(t *testing.T, p string, e []int64) { appendBytes(t, p, make([]byte, 8192)) }, 4},
		"zeroed last frame":         {func(t *testing.T, p string, e []int64) { overwrite(t, p, e[2], make([]byte, e[3]-e[2])) }, 3},
		"zeroed half of last frame": {func(t *testing.T, p string, e []int64) {
			overwrite(t, p, e[2]+BlockHeaderLen+20, make([]byte, e[3]-e[2]-BlockHeaderLen-20))
		}, 3},
		"garbage in last frame": {func(t *testing.T, p string, e []int64) { overwrite(t, p, e[3]-5, []byte{1, 2, 3}) }, 3},
		"unfinished seal": {func(t *testing.T, p string, e []int64) {
			appendBytes(t, p, appendIndex(nil, []IndexEntry{{Offset: 0}}))
		}, 4},
		"torn index": {func(t *testing.T, p string, e []int64) {
			idx := appendIndex(nil, []IndexEntry{{Offset: 0}})
			appendBytes(t, p, idx[:len(idx)-7])
		}, 4},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "segments", "dt=2026-11-03")
			w, ends := writePart(t, dir, enc, 4)
			w.Close()
			c.damage(t, w.Path(), ends)
			w2, rec, err := OpenAppend(w.Path())
			if err != nil {
				t.Fatalf("OpenAppend: %v", err)
			}
			if rec.Blocks != c.want || rec.HighWater != uint64(c.want) || rec.Records != int64(c.want*100) {
				t.Fatalf("recovery %+v, want %d blocks", rec, c.want)
			}
			if st, _ := os.Stat(w.Path()); st.Size() != ends[c.want-1] {
				t.Fatalf("size after recovery %d, want %d", st.Size(), ends[c.want-1])
			}
			// Append more, seal, read everything back.
			if err := w2.Append(block(t, enc, c.want*100, 100, uint64(c.want+1))); err != nil {
				t.Fatal(err)
			}
			sealed, err := w2.Seal()
			if err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, sealed); !bytes.Equal(got, testRecords(0, (c.want+1)*100)) {
				t.Fatalf("records after repair differ")
			}
			var rep VerifyReport
			VerifyFile(&rep, sealed, testDay, checkLine)
			if len(rep.Problems) != 0 {
				t.Fatalf("verify after repair: %v", rep.Problems)
			}
		})
	}
}

func TestMidFileCorruptionIsReportedNotTruncated(t *testing.T) {
	enc := newEnc(t, LevelFastest)
	cases := map[string]func(ends []int64) (int64, []byte){
		"data byte flipped":   func(e []int64) (int64, []byte) { return e[0] + BlockHeaderLen + 30, []byte{0xff} },
		"header byte flipped": func(e []int64) (int64, []byte) { return e[0] + 20, []byte{0x7f} },
		"magic destroyed":     func(e []int64) (int64, []byte) { return e[0], []byte{1, 2, 3, 4} },
		"header zeroed":       func(e []int64) (int64, []byte) { return e[0], make([]byte, BlockHeaderLen) },
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "segments", "dt=2026-11-03")
			w, ends := writePart(t, dir, enc, 4)
			w.Close()
			off, b := c(ends)
			overwrite(t, w.Path(), off, b)
			before, _ := os.ReadFile(w.Path())
			_, _, err := OpenAppend(w.Path())
			var ce *CorruptionError
			if !errors.As(err, &ce) || ce.Offset != ends[0] || ce.Path != w.Path() {
				t.Fatalf("want corruption at %d, got %v", ends[0], err)
			}
			after, _ := os.ReadFile(w.Path())
			if !bytes.Equal(before, after) {
				t.Fatal("corrupt file was modified")
			}
			rep, err := VerifyDir(filepath.Dir(filepath.Dir(dir)), checkLine)
			if err != nil || len(rep.Problems) == 0 || rep.Problems[0].Offset != ends[0] {
				t.Fatalf("verify: %+v %v", rep, err)
			}
		})
	}
}

func TestCompactionCrashAtEachStep(t *testing.T) {
	enc := newEnc(t, LevelFastest)
	better := newEnc(t, LevelBetter)
	for _, step := range []string{stepWritten, stepRenamed, stepRemoved, ""} {
		t.Run("crash after "+step, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "segments", "dt=2026-11-03")
			// Three sealed parts of 2 blocks each: records 0..599, seq 1..6.
			for p := 0; p < 3; p++ {
				os.MkdirAll(dir, 0o755)
				w, err := Create(filepath.Join(dir, PartName("n1", uint64(p*2+1))))
				if err != nil {
					t.Fatal(err)
				}
				for b := 0; b < 2; b++ {
					n := p*2 + b
					if err := w.Append(block(t, enc, n*100, 100, uint64(n+1))); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := w.Seal(); err != nil {
					t.Fatal(err)
				}
			}
			crash := errors.New("crash")
			_, err := Compact(context.Background(), dir, CompactOptions{Encoder: better, BlockSize: 25000,
				hook: func(s string) error {
					if s == step {
						return crash
					}
					return nil
				}})
			if step != "" && !errors.Is(err, crash) {
				t.Fatalf("want injected crash, got %v", err)
			}
			if step == "" && err != nil {
				t.Fatal(err)
			}
			// Before recovery, a reader still sees every record exactly once.
			inputs, err := DayInputs(dir)
			if err != nil {
				t.Fatal(err)
			}
			if got := sortedLines(readAll(t, inputs...)); got != sortedLines(testRecords(0, 600)) {
				t.Fatalf("DayInputs %v before recovery: records differ", inputs)
			}
			if _, err := RecoverDay(dir); err != nil {
				t.Fatal(err)
			}
			sealed, open, err := DayFiles(dir)
			if err != nil || len(open) != 0 {
				t.Fatal(err, open)
			}
			if got := readAll(t, sealed...); !bytes.Equal(got, testRecords(0, 600)) {
				t.Fatalf("after recovery %v: records differ (%d files)", sealed, len(sealed))
			}
			compacted := len(sealed) == 1 && IsCompacted(sealed[0])
			if !compacted && len(sealed) != 3 {
				t.Fatalf("neither all parts nor one compacted file: %v", sealed)
			}
			// A late part, then a second compaction folds it in.
			w, err := Create(filepath.Join(dir, PartName("n1", 7)))
			if err != nil {
				t.Fatal(err)
			}
			w.Append(block(t, enc, 600, 100, 7))
			w.Seal()
			if _, err := Compact(context.Background(), dir, CompactOptions{Encoder: better}); err != nil {
				t.Fatal(err)
			}
			sealed, _, _ = DayFiles(dir)
			if len(sealed) != 1 || !bytes.Equal(readAll(t, sealed...), testRecords(0, 700)) {
				t.Fatalf("second compaction: %v", sealed)
			}
			rep, err := VerifyDir(filepath.Dir(filepath.Dir(dir)), checkLine)
			if err != nil || len(rep.Problems) != 0 || rep.Records != 700 {
				t.Fatalf("verify: %+v %v", rep, err)
			}
		})
	}
}

func TestShortWriteIsStickyAndCut(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "segments", "dt=2026-11-03")
	os.MkdirAll(dir, 0o755)
	enc := newEnc(t, LevelFastest)
	var ff *faultFile
	w, err := CreateWith(filepath.Join(dir, PartName("n1", 1)), func(p string, flag int) (File, error) {
		f, err := OpenOS(p, flag)
		if err != nil {
			return nil, err
		}
		ff = &faultFile{File: f, budget: 3000}
		return ff, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var okBlocks int
	for i := 0; i < 10; i++ {
		if err := w.Append(block(t, enc, i*100, 100, uint64(i+1))); err != nil {
			break
		}
		okBlocks++
	}
	if okBlocks == 10 {
		t.Fatal("fault never hit")
	}
	if err := w.Append(block(t, enc, 0, 1, 99)); !errors.Is(err, ErrWriterError) {
		t.Fatalf("want sticky error, got %v", err)
	}
	if err := w.Sync(); err == nil {
		t.Fatal("sync after failed write succeeded")
	}
	w.Close()
	_, rec, err := OpenAppend(w.Path())
	if err != nil || rec.Blocks != okBlocks || rec.Cut != 0 {
		t.Fatalf("recovery %+v err %v, want %d whole blocks, nothing to cut", rec, err, okBlocks)
	}
}

func TestFailedSyncIsSticky(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "segments", "dt=2026-11-03")
	os.MkdirAll(dir, 0o755)
	w, err := CreateWith(filepath.Join(dir, PartName("n1", 1)), func(p string, flag int) (File, error) {
		f, err := OpenOS(p, flag)
		return &faultFile{File: f, budget: -1, failSync: true}, err
	})
	if err != nil {
		t.Fatal(err)
	}
	enc := newEnc(t, LevelFastest)
	if err := w.Append(block(t, enc, 0, 10, 1)); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(); err == nil || w.HighWater() != 0 {
		t.Fatalf("sync err %v hw %d", err, w.HighWater())
	}
	if err := w.Append(block(t, enc, 10, 10, 2)); !errors.Is(err, ErrWriterError) {
		t.Fatalf("append after failed sync: %v", err)
	}
	if _, err := w.Seal(); err == nil {
		t.Fatal("seal after failed sync succeeded")
	}
}

// faultFile fails writes once budget bytes have been written (a short write),
// and Sync when failSync is set.
type faultFile struct {
	File
	budget   int // -1: unlimited
	failSync bool
}

func (f *faultFile) Write(b []byte) (int, error) {
	if f.budget < 0 {
		return f.File.Write(b)
	}
	if len(b) > f.budget {
		n, _ := f.File.Write(b[:f.budget])
		f.budget = 0
		return n, errors.New("no space left on device")
	}
	f.budget -= len(b)
	return f.File.Write(b)
}

func (f *faultFile) Sync() error {
	if f.failSync {
		return errors.New("input/output error")
	}
	return f.File.Sync()
}

func truncate(t *testing.T, p string, n int64) {
	t.Helper()
	if err := os.Truncate(p, n); err != nil {
		t.Fatal(err)
	}
}

func appendBytes(t *testing.T, p string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

func overwrite(t *testing.T, p string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}
