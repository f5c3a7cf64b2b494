package segment

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var testDay = time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)

// testRecords returns n distinct NDJSON lines of the test day, numbered from first.
func testRecords(first, n int) []byte {
	var b bytes.Buffer
	for i := first; i < first+n; i++ {
		ts := testDay.Add(time.Duration(i) * time.Second).UnixNano()
		fmt.Fprintf(&b, `{"ts":%d,"id":%d,"msg":"record number %d","level":"info"}`+"\n", ts, i, i)
	}
	return b.Bytes()
}

// checkLine is a RecordCheck for testRecords' lines.
func checkLine(line []byte) (int64, error) {
	s := string(line)
	i := strings.Index(s, `"ts":`)
	if i < 0 {
		return 0, errors.New("no ts")
	}
	j := strings.IndexByte(s[i+5:], ',')
	return strconv.ParseInt(s[i+5:i+5+j], 10, 64)
}

// block encodes records [first, first+n) as WAL sequence seq.
func block(t testing.TB, enc *Encoder, first, n int, seq uint64) []byte {
	t.Helper()
	raw := testRecords(first, n)
	m := BlockMeta{Records: uint32(n), FirstSeq: seq, LastSeq: seq,
		MinTS: testDay.Add(time.Duration(first) * time.Second).UnixNano(),
		MaxTS: testDay.Add(time.Duration(first+n-1) * time.Second).UnixNano()}
	b, err := enc.AppendBlock(nil, m, raw)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// multiBlock is block with its records in several frames (one per record,
// as intake makes them per request): a version 2 block.
func multiBlock(t testing.TB, enc *Encoder, first, n int, seq uint64) []byte {
	t.Helper()
	m := BlockMeta{Records: uint32(n), FirstSeq: seq, LastSeq: seq,
		MinTS: testDay.Add(time.Duration(first) * time.Second).UnixNano(),
		MaxTS: testDay.Add(time.Duration(first+n-1) * time.Second).UnixNano()}
	b, start := StartBlock(nil)
	for i := first; i < first+n; i++ {
		raw := testRecords(i, 1)
		b = enc.AppendFrame(b, raw)
		m.RawLen += uint32(len(raw))
	}
	b, err := EndBlock(b, start, m, n == 1)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newEnc(t testing.TB, l Level) *Encoder {
	t.Helper()
	enc, err := NewEncoder(l)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { enc.Close() })
	return enc
}

// writePart writes blocks of 100 records each (seq 1..n) to a new open part
// in a day folder and returns the writer and block end offsets.
func writePart(t *testing.T, dir string, enc *Encoder, nblocks int) (*Writer, []int64) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	w, err := Create(filepath.Join(dir, PartName("n1", 1)))
	if err != nil {
		t.Fatal(err)
	}
	var ends []int64
	for i := 0; i < nblocks; i++ {
		if err := w.Append(block(t, enc, i*100, 100, uint64(i+1))); err != nil {
			t.Fatal(err)
		}
		ends = append(ends, w.Size())
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	return w, ends
}

// readAll returns the concatenated records of files, in order.
func readAll(t *testing.T, files ...string) []byte {
	t.Helper()
	var out []byte
	err := ScanFiles(context.Background(), files, ScanOptions{Workers: 3}, func(_ string, _ BlockMeta, raw []byte) error {
		out = append(out, raw...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRoundTripSealAndIndex(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "segments", "dt=2026-11-03")
	enc := newEnc(t, LevelFastest)
	w, _ := writePart(t, dir, enc, 7)
	if w.HighWater() != 7 {
		t.Fatalf("high water %d, want 7", w.HighWater())
	}
	sealed, err := w.Seal()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(sealed, SuffixSealed) {
		t.Fatalf("sealed name %s", sealed)
	}
	if _, err := os.Stat(sealed + ".open"); !os.IsNotExist(err) {
		t.Fatalf("open file still there: %v", err)
	}
	if got, want := readAll(t, sealed), testRecords(0, 700); !bytes.Equal(got, want) {
		t.Fatalf("round trip differs: %d vs %d bytes", len(got), len(want))
	}
	r, err := OpenFile(sealed)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	idx, err := r.Index()
	if err != nil || len(idx) != 7 || idx[6].LastSeq != 7 || idx[0].Records != 100 {
		t.Fatalf("index %+v err %v", idx, err)
	}
	var rep VerifyReport
	VerifyFile(&rep, sealed, testDay, checkLine)
	if len(rep.Problems) != 0 || rep.Records != 700 || rep.Blocks != 7 {
		t.Fatalf("verify: %+v", rep)
	}
}

// TestMultiFrameBlocks: blocks whose data is several frames (version 2
// headers) mixed with single-frame ones (version 1) append, recover, seal,
// verify, scan, compact and zstdcat like any other.
func TestMultiFrameBlocks(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "segments", "dt=2026-11-03")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	enc := newEnc(t, LevelFastest)
	w, err := Create(filepath.Join(dir, PartName("n", 1)))
	if err != nil {
		t.Fatal(err)
	}
	blocks := [][]byte{multiBlock(t, enc, 0, 50, 1), block(t, enc, 50, 30, 2), multiBlock(t, enc, 80, 2, 3)}
	for _, b := range blocks {
		if err := w.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	if v := blocks[0][skipHdrLen]; v != BlockVersionFrames {
		t.Fatalf("multi-frame block has header version %d", v)
	}
	if v := blocks[1][skipHdrLen]; v != FormatVersion {
		t.Fatalf("single-frame block has header version %d", v)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	// Recovery of the open part walks and checks every block.
	open := filepath.Join(dir, PartName("n", 1))
	w2, rec, err := OpenAppend(open)
	if err != nil || rec.Blocks != 3 || rec.HighWater != 3 || rec.Cut != 0 {
		t.Fatalf("recover: %+v %v", rec, err)
	}
	sealed, err := w2.Seal()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := readAll(t, sealed), testRecords(0, 82); !bytes.Equal(got, want) {
		t.Fatalf("read back differs: %d vs %d bytes", len(got), len(want))
	}
	var rep VerifyReport
	VerifyFile(&rep, sealed, testDay, checkLine)
	if len(rep.Problems) != 0 || rep.Records != 82 || rep.Blocks != 3 {
		t.Fatalf("verify: %+v", rep)
	}
	// A flipped byte inside the second frame of a block is caught.
	data, _ := os.ReadFile(sealed)
	bad := filepath.Join(t.TempDir(), "segments", "dt=2026-11-03")
	os.MkdirAll(bad, 0o755)
	badFile := filepath.Join(bad, filepath.Base(sealed))
	mid := BlockHeaderLen + len(blocks[0][BlockHeaderLen:])/2
	data[mid] ^= 0x40
	os.WriteFile(badFile, data, 0o644)
	var rep2 VerifyReport
	VerifyFile(&rep2, badFile, testDay, checkLine)
	if len(rep2.Problems) == 0 {
		t.Fatal("a damaged frame inside a multi-frame block passed verify")
	}
	if out, err := exec.LookPath("zstd"); err == nil {
		got, err := exec.Command(out, "-dc", sealed).Output()
		if err != nil || !bytes.Equal(got, testRecords(0, 82)) {
			t.Fatalf("zstd -dc: %v, %d bytes", err, len(got))
		}
	}
	// Compaction re-blocks into single frames (version 1 headers: readable
	// by every ingestd) with the same records.
	p, err := Compact(context.Background(), dir, CompactOptions{Encoder: newEnc(t, LevelBetter), Node: "n"})
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, p); !bytes.Equal(got, testRecords(0, 82)) {
		t.Fatal("compacted records differ")
	}
	c, _ := os.ReadFile(p)
	for off := 0; off+BlockHeaderLen < len(c); {
		m, err := ParseBlockHeader(c[off:])
		if err != nil {
			off++ // the manifest frame comes first; find the block headers
			continue
		}
		if c[off+skipHdrLen] != FormatVersion {
			t.Fatalf("compacted block with header version %d", c[off+skipHdrLen])
		}
		off += BlockHeaderLen + int(m.CompLen)
	}
}

// TestAppendFramesMatchesOneByOne: frames compressed on two goroutines are
// the same bytes, in the same order, as compressed one by one, for any
// number of frames.
func TestAppendFramesMatchesOneByOne(t *testing.T) {
	enc := newEnc(t, LevelFastest)
	raw := testRecords(0, 300)
	for _, n := range []int{1, 2, 3, 7, 300} {
		var ends []int
		for i := 1; i <= n; i++ {
			ends = append(ends, len(raw)*i/n)
		}
		var want []byte
		prev := 0
		for _, end := range ends {
			want, prev = enc.AppendFrame(want, raw[prev:end]), end
		}
		for rep := 0; rep < 3; rep++ { // the pooled buffer is reused
			got := enc.AppendFrames([]byte("x"), raw, ends)
			if !bytes.Equal(got[1:], want) || got[0] != 'x' {
				t.Fatalf("%d frames: AppendFrames differs from one by one", n)
			}
		}
	}
}

// TestEncoderConcurrentUse: many goroutines compressing at once through one
// Encoder each get the frames a lone caller gets, and never more than
// GOMAXPROCS encoders are in use: with the GC off (so the pool keeps what it
// is given) the Encoder makes at most one per token plus one per other P,
// whose private pool slot the others cannot take from.
func TestEncoderConcurrentUse(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	enc := newEnc(t, LevelFastest)
	// ≈ 2.7 MB in 4 frames, long enough to be preempted in: without the
	// bound, 16 goroutines made 10–15 encoders.
	raw := testRecords(0, 40000)
	var ends []int
	for i := 1; i <= 4; i++ {
		ends = append(ends, len(raw)*i/4)
	}
	want := newEnc(t, LevelFastest).AppendFrames(nil, raw, ends)
	wantOne := newEnc(t, LevelFastest).AppendFrame(nil, raw[:ends[0]])
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rep := 0; rep < 4; rep++ {
				if got := enc.AppendFrames(nil, raw, ends); !bytes.Equal(got, want) {
					errs <- "AppendFrames"
					return
				}
				if got := enc.AppendFrame(nil, raw[:ends[0]]); !bytes.Equal(got, wantOne) {
					errs <- "AppendFrame"
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatalf("%s under concurrent use differs from a lone caller's", e)
	}
	if limit := int64(2*runtime.GOMAXPROCS(0) - 2); !raceEnabled && enc.made.Load() > limit {
		t.Fatalf("made %d encoders for 16 goroutines, want at most %d", enc.made.Load(), limit)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if got := enc.AppendFrames(nil, raw, ends); !bytes.Equal(got, want) {
		t.Fatal("AppendFrames after Close differs")
	}
}

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

func TestZstdCLIReadsSegments(t *testing.T) {
	zstd, err := exec.LookPath("zstd")
	if err != nil {
		t.Skip("zstd CLI not installed (apt-get install zstd); .ci/run installs it")
	}
	dir := filepath.Join(t.TempDir(), "segments", "dt=2026-11-03")
	enc := newEnc(t, LevelFastest)
	w, _ := writePart(t, dir, enc, 5)
	sealed, err := w.Seal()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(zstd, "-dc", sealed).Output()
	if err != nil {
		t.Fatalf("zstd -dc: %v", err)
	}
	if !bytes.Equal(out, testRecords(0, 500)) {
		t.Fatalf("zstd output differs from input (%d vs %d bytes)", len(out), 500)
	}
	// A compacted file (manifest frame first) reads the same.
	w2, err := Create(filepath.Join(dir, PartName("n1", 9)))
	if err != nil {
		t.Fatal(err)
	}
	if err := w2.Append(block(t, enc, 500, 50, 9)); err != nil {
		t.Fatal(err)
	}
	if _, err := w2.Seal(); err != nil {
		t.Fatal(err)
	}
	c, err := Compact(context.Background(), dir, CompactOptions{Encoder: newEnc(t, LevelBetter), BlockSize: 20000})
	if err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(zstd, "-dc", c).Output()
	if err != nil || !bytes.Equal(out, testRecords(0, 550)) {
		t.Fatalf("zstd -dc compacted: err %v, %d bytes", err, len(out))
	}
	if err := exec.Command(zstd, "-t", c).Run(); err != nil {
		t.Fatalf("zstd -t: %v", err)
	}
}

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

func sortedLines(b []byte) string {
	l := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	sort.Strings(l)
	return strings.Join(l, "\n")
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

func TestNamesCarryTheNode(t *testing.T) {
	for _, c := range []struct{ name, node, kind string }{
		{PartName("n1", 0x2a), "n1", KindPart},
		{strings.TrimSuffix(PartName("ip-10-0-0-1.ec2", 1), ".open"), "ip-10-0-0-1.ec2", KindPart},
		{CompactName("a-compact-b", 0xff), "a-compact-b", KindCompact},
		{CompactName("", 7), "", KindCompact},
		{PartName("", 7), "", KindPart},
	} {
		node, kind, ok := ParseName(c.name)
		if !ok || node != c.node || kind != c.kind {
			t.Errorf("ParseName(%s) = %q, %q, %v; want %q, %q", c.name, node, kind, ok, c.node, c.kind)
		}
	}
	for _, bad := range []string{"part-1.ndjson.zst", "x-part-000000000000000g.ndjson.zst", "-part-0000000000000001.ndjson.zst",
		"n1-copy-0000000000000001.ndjson.zst", "n1-part-0000000000000001.json", "report.partial.json"} {
		if _, _, ok := ParseName(bad); ok {
			t.Errorf("ParseName(%s) accepted", bad)
		}
	}
	if !IsCompacted("/d/dt=2026-10-01/"+CompactName("n1", 1)) || IsCompacted(PartName("compact", 1)) {
		t.Error("IsCompacted is wrong")
	}
	for _, bad := range []string{"", "a/b", "a b", "-a", ".a", strings.Repeat("a", 65), "ä"} {
		if CheckNode(bad) == nil {
			t.Errorf("CheckNode(%q) accepted", bad)
		}
	}
	if err := CheckNode("ip-10-0-0-1.ec2_internal"); err != nil {
		t.Error(err)
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

// TestDecoderContentChecksum: a frame whose content checksum is wrong but
// whose compressed bytes match the header's CRC (the decoder's output, not
// the disk, is what is wrong) fails the default decoder and passes one
// that skips the content checksum, as report scans do; damage to the
// compressed bytes fails both.
func TestDecoderContentChecksum(t *testing.T) {
	enc, err := NewEncoder(LevelFastest)
	if err != nil {
		t.Fatal(err)
	}
	raw := []byte("{\"a\":1}\n{\"a\":2}\n")
	blk, err := enc.AppendBlock(nil, BlockMeta{Records: 2}, raw)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseBlockHeader(blk[:BlockHeaderLen])
	if err != nil {
		t.Fatal(err)
	}
	frame := append([]byte(nil), blk[BlockHeaderLen:]...)
	frame[len(frame)-1] ^= 0xff // the last byte of the xxhash64 content checksum
	m.DataCRC = CRC(frame)
	strict, err := NewDecoder()
	if err != nil {
		t.Fatal(err)
	}
	defer strict.Close()
	if _, err := strict.Decode(nil, frame, m); err == nil {
		t.Fatal("default decoder accepted a wrong content checksum")
	}
	lax, err := newDecoder(false)
	if err != nil {
		t.Fatal(err)
	}
	defer lax.Close()
	got, err := lax.Decode(nil, frame, m)
	if err != nil || string(got) != string(raw) {
		t.Fatalf("decoder without content checksum: %q, %v", got, err)
	}
	// The same block in a sealed file: ScanBlocks takes the option.
	hdr := make([]byte, BlockHeaderLen)
	putBlockHeader(hdr, m, FormatVersion)
	path := filepath.Join(t.TempDir(), PartName("t", 1))
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append(append(hdr, frame...)); err != nil {
		t.Fatal(err)
	}
	sealed, err := w.Seal()
	if err != nil {
		t.Fatal(err)
	}
	for _, skip := range []bool{false, true} {
		var got []byte
		err := ScanBlocks(context.Background(), []string{sealed}, ScanOptions{SkipContentChecksum: skip},
			func(_ int, _ string, _ BlockMeta, raw []byte) error { got = append(got, raw...); return nil })
		if skip && (err != nil || string(got) != string(raw)) {
			t.Errorf("ScanBlocks skipping the content checksum: %q, %v", got, err)
		}
		if !skip && err == nil {
			t.Error("ScanBlocks accepted a wrong content checksum")
		}
	}
	frame[len(frame)/2] ^= 0x01 // now the compressed bytes: the CRC finds it
	if _, err := lax.Decode(nil, frame, m); !errors.Is(err, ErrDataCRC) {
		t.Fatalf("damaged data: %v, want ErrDataCRC", err)
	}
}

// Compact without a block size cuts blocks of DefaultCompactBlockSize raw
// bytes at most, whole lines each, and keeps every record.
func TestCompactDefaultBlockSize(t *testing.T) {
	dir := t.TempDir()
	enc := newEnc(t, LevelFastest)
	const perPart = 20000 // ≈ 1.4 MiB of records a part
	for p := 0; p < 2; p++ {
		w, err := Create(filepath.Join(dir, PartName("n1", uint64(p+1))))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Append(block(t, enc, p*perPart, perPart, uint64(p+1))); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Seal(); err != nil {
			t.Fatal(err)
		}
	}
	c, err := Compact(context.Background(), dir, CompactOptions{Encoder: newEnc(t, LevelBetter)})
	if err != nil {
		t.Fatal(err)
	}
	r, err := OpenFile(c)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	idx, err := r.Index()
	if err != nil {
		t.Fatal(err)
	}
	var raw, records int
	for _, e := range idx {
		if e.RawLen > DefaultCompactBlockSize {
			t.Errorf("block of %d raw bytes, want ≤ %d", e.RawLen, DefaultCompactBlockSize)
		}
		raw += int(e.RawLen)
		records += int(e.Records)
	}
	if want := len(testRecords(0, 2*perPart)); raw != want || records != 2*perPart || len(idx) < raw/DefaultCompactBlockSize+1 {
		t.Fatalf("%d blocks, %d raw bytes, %d records; want %d bytes, %d records", len(idx), raw, records, want, 2*perPart)
	}
}

// Compaction re-blocks any mix of input blocks, lines of any length (some
// longer than the block size) and block sizes: the output holds the same
// bytes in the same order, every block ends a line and is at most the block
// size unless it is one line, its records are its lines, and its ranges
// are within the inputs'.
func TestCompactCutsBlocksAtLines(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	enc := newEnc(t, LevelFastest)
	for round := 0; round < 40; round++ {
		dir := t.TempDir()
		bs := 64 + r.Intn(4000)
		var want []byte
		var seq uint64
		for p := 0; p < 1+r.Intn(3); p++ {
			seq++
			w, err := Create(filepath.Join(dir, PartName("n1", seq)))
			if err != nil {
				t.Fatal(err)
			}
			for b := 0; b < 1+r.Intn(4); b++ {
				var raw []byte
				n := 1 + r.Intn(60)
				for i := 0; i < n; i++ {
					raw = fmt.Appendf(raw, `{"i":%d,"pad":"%s"}`+"\n", i, strings.Repeat("x", r.Intn(2*bs/3+1)))
				}
				ts := testDay.Add(time.Duration(seq) * time.Hour).UnixNano()
				blk, err := enc.AppendBlock(nil, BlockMeta{Records: uint32(n), MinTS: ts, MaxTS: ts + int64(time.Minute), FirstSeq: seq, LastSeq: seq}, raw)
				if err != nil {
					t.Fatal(err)
				}
				if err := w.Append(blk); err != nil {
					t.Fatal(err)
				}
				want = append(want, raw...)
			}
			if _, err := w.Seal(); err != nil {
				t.Fatal(err)
			}
		}
		c, err := Compact(context.Background(), dir, CompactOptions{Encoder: enc, BlockSize: bs})
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		err = ScanFiles(context.Background(), []string{c}, ScanOptions{}, func(_ string, m BlockMeta, raw []byte) error {
			lines := bytes.Count(raw, []byte{'\n'})
			switch {
			case len(raw) == 0 || raw[len(raw)-1] != '\n':
				t.Errorf("round %d: a block does not end a line", round)
			case len(raw) > bs && lines > 1:
				t.Errorf("round %d: block of %d bytes and %d lines, block size %d", round, len(raw), lines, bs)
			case int(m.Records) != lines:
				t.Errorf("round %d: header says %d records, block has %d lines", round, m.Records, lines)
			case m.FirstSeq < 1 || m.LastSeq > seq || m.MinTS < testDay.UnixNano() || m.MaxTS > testDay.Add(time.Duration(seq)*time.Hour+time.Minute).UnixNano():
				t.Errorf("round %d: ranges %+v outside the inputs'", round, m)
			}
			got = append(got, raw...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("round %d (block size %d): compacted %d bytes, want %d", round, bs, len(got), len(want))
		}
	}
}
