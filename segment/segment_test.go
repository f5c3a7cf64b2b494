package segment

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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

	"github.com/ingestd/ingestd/internal/testenv"
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
	if out := testenv.Find(t, "zstd", "apt-get install zstd"); out != "" {
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

func TestZstdCLIReadsSegments(t *testing.T) {
	zstd, err := exec.LookPath("zstd")
	if err != nil {
		testenv.Missing(t, "zstd", "apt-get install zstd")
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

func sortedLines(b []byte) string {
	l := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	sort.Strings(l)
	return strings.Join(l, "\n")
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
