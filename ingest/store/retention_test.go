package store

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/utcday"
	"github.com/ingestd/ingestd/segment"
)

// makeDay writes one sealed file of n bytes of records into day d.
func makeDay(t *testing.T, dataDir string, d time.Time, n int) {
	t.Helper()
	dir := segment.DayDir(dataDir, d)
	os.MkdirAll(dir, 0o755)
	enc, _ := segment.NewEncoder(segment.LevelFastest)
	defer enc.Close()
	raw := []byte(strings.Repeat(`{"ts":1,"pad":"`+strings.Repeat("x", 80)+`"}`+"\n", n/100))
	b, err := enc.AppendBlock(nil, segment.BlockMeta{Records: uint32(n / 100), FirstSeq: 1, LastSeq: 1, MinTS: d.UnixNano(), MaxTS: d.UnixNano()}, raw)
	if err != nil {
		t.Fatal(err)
	}
	w, err := segment.Create(filepath.Join(dir, segment.PartName("", 1)))
	if err != nil {
		t.Fatal(err)
	}
	w.Append(b)
	if _, err := w.Seal(); err != nil {
		t.Fatal(err)
	}
}

func dayNames(t *testing.T, dataDir string) string {
	days, _ := segment.ListDays(dataDir)
	var out []string
	for _, d := range days {
		out = append(out, d.Start.Format("01-02"))
	}
	return strings.Join(out, " ")
}

func TestRetentionByAgeAndBytes(t *testing.T) {
	st := testStore(t, 1<<20)
	data := st.cfg.DataDir
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, d := range []int{-40, -35, -31, -30, -10, -5, -2, -1, 0} {
		makeDay(t, data, now.Truncate(24*time.Hour).AddDate(0, 0, d), 20000)
	}
	// An old day still being written is never touched.
	busy := st.day(utcday.Of(now.AddDate(0, 0, -35).UnixNano()))
	busy.buf = append(busy.buf, "{}\n"...)

	st.cfg.RetainDays = 30
	st.applyRetention(now)
	if got := dayNames(t, data); got != "10-23 10-28 11-17 11-22 11-25 11-26 11-27" {
		t.Fatalf("after max_days 30: %s", got)
	}
	if st.m.RetentionDays.Load() != 2 || st.m.RetentionBytes.Load() == 0 {
		t.Fatalf("metrics: %d days, %d bytes", st.m.RetentionDays.Load(), st.m.RetentionBytes.Load())
	}
	// A byte cap removes the oldest deletable days until under it; today and
	// yesterday stay even when over.
	size := dirSize(segment.DayDir(data, now))
	st.cfg.RetainDays, st.cfg.RetainBytes = 0, 4*size
	st.applyRetention(now)
	if got := dayNames(t, data); got != "10-23 11-25 11-26 11-27" {
		t.Fatalf("after max_bytes 4 days: %s", got)
	}
	st.cfg.RetainBytes = 1
	st.applyRetention(now)
	if got := dayNames(t, data); got != "10-23 11-26 11-27" {
		t.Fatalf("after max_bytes 1: %s", got)
	}
	// Nothing half-deleted is left behind.
	ents, _ := os.ReadDir(segment.SegmentsDir(data))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), trashPrefix) {
			t.Fatalf("left %s", e.Name())
		}
	}
}
