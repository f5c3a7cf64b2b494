package segment

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Compaction's block sizes.

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

// TestCompactionNamesWhatItsInputsReplaced: a day compacted three times
// (late records in between) names in its last manifest the first
// compaction too, so a leftover copy of it (a bucket object whose removal
// a crash interrupted, restored beside its successor) is never read with
// the day: DayInputs and RecoverDay leave it out.
func TestCompactionNamesWhatItsInputsReplaced(t *testing.T) {
	dir := t.TempDir()
	enc := newEnc(t, LevelFastest)
	part := func(seq uint64, from int) {
		w, err := Create(filepath.Join(dir, PartName("n1", seq)))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Append(block(t, enc, from, 10, seq)); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Seal(); err != nil {
			t.Fatal(err)
		}
	}
	compact := func() string {
		c, err := Compact(context.Background(), dir, CompactOptions{Encoder: enc, Node: "n1"})
		if err != nil || c == "" {
			t.Fatalf("compact: %q %v", c, err)
		}
		return c
	}
	part(1, 0)
	part(2, 10)
	first := compact()
	saved, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	part(3, 20)
	compact()
	part(4, 30)
	last := compact()
	names, err := ReadManifest(last)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names, filepath.Base(first)) {
		t.Fatalf("the last compaction's manifest %v does not name the first compaction %s", names, filepath.Base(first))
	}
	// The first compaction comes back beside the last one.
	if err := os.WriteFile(first, saved, 0o600); err != nil {
		t.Fatal(err)
	}
	in, err := DayInputs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(in) != 1 || in[0] != last {
		t.Fatalf("day inputs %v, want only %s", in, last)
	}
	if _, err := RecoverDay(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(first); !os.IsNotExist(err) {
		t.Fatalf("RecoverDay kept the superseded %s (%v)", filepath.Base(first), err)
	}
}
