package store

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/utcday"
	"github.com/ingestd/ingestd/record"

	"github.com/ingestd/ingestd/segment"
)

func testStore(t *testing.T, blockSize int) *Store {
	t.Helper()
	st, err := New(Config{DataDir: t.TempDir(), BlockSize: blockSize, BlockAge: time.Hour, SealGrace: time.Hour,
		SealIdle: time.Hour, Level: segment.LevelFastest, CompactLevel: segment.LevelBetter, FlushWorkers: 1, MaxBuffered: 1 << 30},
		nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestEntryNeverSplitAcrossBlocks: whatever the block size, each block holds
// all or none of an entry's records for its day, its sequence range is
// exact, and a day's records are stored in sequence order. Recovery's
// high-water mark relies on it. Entries come in format 1 (records), and in
// format 2 with every day's share compressed by the request (frames), or
// only the larger ones (a block then mixes frames made by requests and
// frames of raw runs made when it is written).
func TestEntryNeverSplitAcrossBlocks(t *testing.T) {
	for _, tc := range []struct {
		bs       int
		format   int
		minFrame int
	}{{64, 1, 0}, {300, 1, 0}, {1000, 1, 0}, {4096, 1, 0},
		{64, 2, 0}, {300, 2, 0}, {4096, 2, 0}, {300, 2, 100}, {1000, 2, 100}, {4096, 2, 100}} {
		bs := tc.bs
		t.Run(fmt.Sprintf("format%d-block%d-frame%d", tc.format, bs, tc.minFrame), func(t *testing.T) {
			st := testStore(t, bs)
			day := func(d int) int64 { return time.Date(2026, 11, 1+d, 12, 0, 0, 0, time.UTC).UnixNano() }
			want := map[int64]map[uint64]int{} // day -> seq -> records
			for seq := uint64(1); seq <= 40; seq++ {
				b := &record.Batch{}
				for j := 0; j < int(seq%7)+1; j++ {
					ts := day(j % 3) // records of one entry alternate between days
					off := len(b.Buf)
					b.Buf = fmt.Appendf(b.Buf, `{"ts":%d,"seq":%d,"j":%d}`, ts, seq, j)
					b.Recs = append(b.Recs, record.Rec{Off: uint32(off), Len: uint32(len(b.Buf) - off), TS: ts})
					b.Buf = append(b.Buf, '\n')
					dn := utcday.Of(ts)
					if want[dn] == nil {
						want[dn] = map[uint64]int{}
					}
					want[dn][seq]++
				}
				if tc.format == 1 {
					if _, err := st.apply(seq, record.AppendPlainEntry(nil, b), nil); err != nil {
						t.Fatal(err)
					}
				} else {
					var sc record.EntryScratch
					p, stored, _ := record.AppendFramedEntry(nil, b, st.enc, record.Framing{Min: tc.minFrame, Span: 64}, &sc)
					added, err := st.apply(seq, p, nil)
					if err != nil || added != int64(stored) {
						t.Fatalf("apply: added %d, stored %d: %v", added, stored, err)
					}
				}
				if seq%5 == 0 { // flush now and then, as the workers would
					for _, d := range st.days {
						if err := st.flush(d); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			for _, d := range st.days {
				if err := st.flush(d); err != nil {
					t.Fatal(err)
				}
				d.w.Close()
			}
			for dn, seqs := range want {
				dir := segment.DayDir(st.cfg.DataDir, utcday.Start(dn))
				_, open, _ := segment.DayFiles(dir)
				seen := map[uint64]int{}
				var lastSeq, lastJ uint64
				err := segment.ScanFiles(context.Background(), open, segment.ScanOptions{}, func(_ string, m segment.BlockMeta, raw []byte) error {
					inBlock := map[uint64]int{}
					for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
						var v struct{ Seq, J uint64 }
						json.Unmarshal([]byte(l), &v)
						if v.Seq < lastSeq || (v.Seq == lastSeq && v.J <= lastJ) {
							t.Errorf("day %d: record seq %d j %d after seq %d j %d", dn, v.Seq, v.J, lastSeq, lastJ)
						}
						lastSeq, lastJ = v.Seq, v.J
						if v.Seq < m.FirstSeq || v.Seq > m.LastSeq {
							t.Errorf("record of seq %d in block %d..%d", v.Seq, m.FirstSeq, m.LastSeq)
						}
						inBlock[v.Seq]++
					}
					for s, n := range inBlock {
						if n != seqs[s] {
							t.Errorf("day %d block %d..%d holds %d of seq %d's %d records", dn, m.FirstSeq, m.LastSeq, n, s, seqs[s])
						}
						seen[s] += n
					}
					if _, ok := inBlock[m.FirstSeq]; !ok {
						t.Errorf("block FirstSeq %d holds none of it", m.FirstSeq)
					}
					if _, ok := inBlock[m.LastSeq]; !ok {
						t.Errorf("block LastSeq %d holds none of it", m.LastSeq)
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				for s, n := range seqs {
					if seen[s] != n {
						t.Errorf("day %d seq %d: %d stored, want %d", dn, s, seen[s], n)
					}
				}
			}
		})
	}
}

func TestDurableWatermark(t *testing.T) {
	st := testStore(t, 1<<20)
	add := func(seq uint64, d int) {
		ts := time.Date(2026, 11, 1+d, 0, 0, 0, 0, time.UTC).UnixNano()
		b := &record.Batch{Buf: fmt.Appendf(nil, `{"ts":%d}`+"\n", ts)}
		b.Recs = []record.Rec{{Off: 0, Len: uint32(len(b.Buf) - 1), TS: ts}}
		if _, err := st.apply(seq, record.AppendPlainEntry(nil, b), nil); err != nil {
			t.Fatal(err)
		}
	}
	add(1, 0)
	add(2, 1)
	add(3, 0)
	if got := st.Durable(); got != 0 {
		t.Fatalf("nothing flushed, durable %d", got)
	}
	d1 := st.days[utcday.Of(time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC).UnixNano())]
	st.flush(d1)
	if got := st.Durable(); got != 0 {
		t.Fatalf("day 0 still holds seq 1, durable %d", got)
	}
	for _, d := range st.days {
		st.flush(d)
	}
	if got := st.Durable(); got != 3 {
		t.Fatalf("all flushed, durable %d want 3", got)
	}
	add(4, 1)
	if got := st.Durable(); got != 3 {
		t.Fatalf("seq 4 buffered, durable %d want 3", got)
	}
}

// TestCompactorSkipsADayRetentionDeleted: a compaction queued for a day
// whose folder is gone by the time it runs (retention deleted it) is
// skipped, not logged as a failed compaction (TestCrashPoints found that).
func TestCompactorSkipsADayRetentionDeleted(t *testing.T) {
	var logs strings.Builder
	sw := &syncWriter{w: &logs}
	logged := func() string { sw.mu.Lock(); defer sw.mu.Unlock(); return logs.String() }
	st, err := New(Config{DataDir: t.TempDir(), BlockSize: 1 << 20, BlockAge: time.Hour, SealGrace: time.Hour,
		SealIdle: time.Hour, Level: segment.LevelFastest, CompactLevel: segment.LevelFastest, FlushWorkers: 1, MaxBuffered: 1 << 30},
		nil, slog.New(slog.NewTextHandler(sw, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	num := utcday.Of(time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	st.day(num) // known to the store, never written: no folder
	st.start()
	st.compact <- num
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(logged(), "compaction skipped") && !strings.Contains(logged(), "compaction failed"); {
		if time.Now().After(deadline) {
			t.Fatalf("the compactor never took the day:\n%s", logged())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "compaction failed") {
		t.Fatalf("a deleted day's compaction was logged as failed:\n%s", logs.String())
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
