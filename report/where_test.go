package report

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/ingestd/ingestd/internal/utcday"
	"github.com/ingestd/ingestd/report/filter"
	"github.com/ingestd/ingestd/segment"
)

// fieldToken is a record's value at a dotted path as filter columns hold
// it (objects and arrays as placeholders), decoded independently of the
// scanner with encoding/json; ok is false when the field is absent.
func fieldToken(line []byte, path string) ([]byte, bool) {
	raw := json.RawMessage(line)
	for _, seg := range strings.Split(path, ".") {
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil {
			return nil, false
		}
		v, ok := m[seg]
		if !ok {
			return nil, false
		}
		raw = v
	}
	switch raw[0] {
	case '{':
		return []byte("{}"), true
	case '[':
		return []byte("[]"), true
	}
	return raw, true
}

// matches decides e for one record, row by row.
func matches(e filter.Expr, line []byte) bool {
	switch e := e.(type) {
	case filter.And:
		return matches(e.L, line) && matches(e.R, line)
	case filter.Or:
		return matches(e.L, line) || matches(e.R, line)
	case filter.Not:
		return !matches(e.X, line)
	}
	v, ok := fieldToken(line, filter.LeafPath(e).Key())
	return ok && filter.Leaf(e, v)
}

// A report with a where filter counts exactly the records the filter
// matches, row by row: records, days, top values, metric counts and sums;
// the sink sees only them.
func TestScanWhereMatchesRowByRow(t *testing.T) {
	dir := t.TempDir()
	genMonth(t, dir, 3, 3000)
	files := monthFiles(t, dir)
	for _, where := range []string{
		`level in ("error", "warn") and status >= 300`,
		`service == "svc-\"x\"" or not exists(duration_ms)`,
		`user.id =~ "^u0" and duration_ms < 100.5`,
		`level != "info"`,
		`nothing == 1`,
	} {
		e, err := filter.Parse(where)
		if err != nil {
			t.Fatal(err)
		}
		var want struct {
			records, durN int64
			durSum        float64
			levels        map[string]int64
			days          map[string]int64
		}
		want.levels, want.days = map[string]int64{}, map[string]int64{}
		err = segment.ScanFiles(context.Background(), files, segment.ScanOptions{}, func(_ string, _ segment.BlockMeta, raw []byte) error {
			for _, line := range strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n") {
				if !matches(e, []byte(line)) {
					continue
				}
				want.records++
				var r struct {
					Timestamp string
					TS        *int64
					Level     string
					Duration  any `json:"duration_ms"`
				}
				json.Unmarshal([]byte(line), &r)
				want.levels[r.Level]++
				if d, ok := r.Duration.(float64); ok {
					want.durN++
					want.durSum += d
				}
				day := ""
				if r.TS != nil {
					day = time.Unix(*r.TS, 0).UTC().Format(time.DateOnly)
				} else if ts, err := time.Parse(time.RFC3339Nano, r.Timestamp); err == nil {
					day = ts.UTC().Format(time.DateOnly)
				}
				want.days[day]++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		cfg := testConfig()
		cfg.Where = where
		var sunk atomic.Int64
		a, err := Scan(context.Background(), files, cfg, ScanOptions{Sink: func(rec arrow.Record) error {
			sunk.Add(rec.NumRows())
			return nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		if a.Records != want.records || sunk.Load() != want.records {
			t.Fatalf("%s: %d records (%d to the sink), want %d", where, a.Records, sunk.Load(), want.records)
		}
		for lv, n := range want.levels {
			var got int64
			if e := a.Top["level"].m[lv]; e != nil {
				got = e.Count
			}
			if got != n {
				t.Errorf("%s: level %s counted %d, want %d", where, lv, got, n)
			}
		}
		if m := a.Metrics["duration_ms"]; m.Count != want.durN || (want.durN > 0 && abs(m.Sum-want.durSum) > 1e-6*want.durSum) {
			t.Errorf("%s: duration count %d sum %g, want %d %g", where, m.Count, m.Sum, want.durN, want.durSum)
		}
		for day, n := range want.days {
			d, _ := time.Parse(time.DateOnly, day)
			if got := a.Days[utcday.OfSeconds(d.Unix())]; got == nil || got.Records != n {
				t.Errorf("%s: day %s %v, want %d", where, day, got, n)
			}
		}
		if where == `nothing == 1` && a.Records != 0 {
			t.Errorf("a filter that matches nothing counted %d", a.Records)
		}
	}
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// A bad filter is refused with its position; the filter is part of the
// fingerprint, so a partial computed without it (or with another) is stale.
func TestWhereConfig(t *testing.T) {
	cfg := testConfig()
	cfg.Where = `level == `
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "at 10") {
		t.Fatalf("bad filter: %v", err)
	}
	a, b := testConfig(), testConfig()
	b.Where = `level == "error"`
	c := b
	c.Where = `level=="error"` // the same expression
	if a.Fingerprint() == b.Fingerprint() || b.Fingerprint() != c.Fingerprint() {
		t.Fatal("the fingerprint does not follow the filter")
	}
}
