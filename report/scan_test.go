package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/ingestd/ingestd/internal/utcday"
	"github.com/ingestd/ingestd/segment"
)

var october = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// genMonth writes days of records (two parts a day, one left open on the last
// day) and returns the exact expectations.
func genMonth(t testing.TB, dataDir string, days, perDay int) *expect {
	r := rand.New(rand.NewSource(42))
	e := newExpect()
	for i := 0; i < days; i++ {
		d := october.AddDate(0, 0, i)
		lines := genDay(r, d, perDay, e)
		half := len(lines) / 2
		writePart(t, dataDir, d, uint64(i*1000+1), lines[:half], 500, false)
		writePart(t, dataDir, d, uint64(i*1000+500), lines[half:], 300, i == days-1)
	}
	return e
}

func monthFiles(t testing.TB, dataDir string) []string {
	days, err := segment.ListDays(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, d := range days {
		f, err := segment.DayInputs(d.Dir)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f...)
	}
	return files
}

func TestScanMatchesExactCounts(t *testing.T) {
	dir := t.TempDir()
	e := genMonth(t, dir, 3, 4000)
	cfg := testConfig()
	var batches, rows int64
	a, err := Scan(context.Background(), monthFiles(t, dir), cfg, ScanOptions{Sink: func(rec arrow.Record) error {
		// The sink runs concurrently in the workers.
		if rec.NumRows() > int64(cfg.BatchRows) {
			t.Errorf("batch of %d rows, want at most %d", rec.NumRows(), cfg.BatchRows)
		}
		if rec.Schema().Field(int(rec.NumCols())-1).Name != "record" {
			t.Errorf("no raw record column")
		}
		return nil
	}, Progress: func(r, _ int64) { rows = r; batches++ }})
	if err != nil {
		t.Fatal(err)
	}
	checkAgainst(t, a, e, cfg, true)
	if rows != e.records || batches == 0 {
		t.Fatalf("progress said %d records, want %d", rows, e.records)
	}
	if a.Quality.OpenParts != 1 {
		t.Fatalf("open parts %d, want 1", a.Quality.OpenParts)
	}
}

// checkAgainst compares an aggregate with exact expectations: counts exactly,
// top values exactly while the counter is exact, quantiles and distinct
// counts within the sketches' stated error.
func checkAgainst(t *testing.T, a *Agg, e *expect, cfg Config, exactTop bool) {
	t.Helper()
	if a.Records != e.records {
		t.Fatalf("records %d, want %d", a.Records, e.records)
	}
	if len(a.Days) != len(e.days) {
		t.Fatalf("%d days, want %d", len(a.Days), len(e.days))
	}
	for d, c := range a.Days {
		name := utcday.Name(d)
		if c.Records != e.days[name] {
			t.Errorf("day %s: %d records, want %d", name, c.Records, e.days[name])
		}
		if c.Hours != *e.hours[name] {
			t.Errorf("day %s hours %v, want %v", name, c.Hours, *e.hours[name])
		}
	}
	for v, n := range e.levels {
		got := int64(-1)
		for _, tv := range a.Top["level"].Top(-1) {
			if tv.Value == v {
				got = tv.Count
			}
		}
		if got != n {
			t.Errorf("level %q: %d, want %d", v, got, n)
		}
	}
	if exactTop && !a.Top["service"].Exact {
		t.Errorf("service counter should be exact")
	}
	for _, tv := range a.Top["service"].Top(cfg.TopN) {
		if want := e.services[tv.Value]; tv.Count-tv.Err > want || tv.Count < want {
			t.Errorf("service %q: %d (err %d), want %d", tv.Value, tv.Count, tv.Err, want)
		}
	}
	if got := a.Top["service"].Top(1); len(got) != 1 || got[0].Value != "svc-0" {
		t.Errorf("top service %v, want svc-0", got)
	}
	m := a.Metrics["duration_ms"]
	if m.Count != int64(len(e.durations)) {
		t.Fatalf("duration count %d, want %d", m.Count, len(e.durations))
	}
	sorted := sortedCopy(e.durations)
	var sum float64
	for _, v := range sorted {
		sum += v
	}
	if m.Min != sorted[0] || m.Max != sorted[len(sorted)-1] || math.Abs(m.Sum-sum) > 1e-6*sum {
		t.Errorf("duration min/max/sum %g/%g/%g, want %g/%g/%g", m.Min, m.Max, m.Sum, sorted[0], sorted[len(sorted)-1], sum)
	}
	for _, q := range []float64{0.5, 0.9, 0.99} {
		got, want := m.Quantile(q), exactQuantile(sorted, q)
		// DDSketch: relative error ≤ accuracy against a value of rank q;
		// allow one rank either side for the nearest-rank convention.
		lo := exactQuantile(sorted, max(0, q-1.0/float64(len(sorted))))
		hi := exactQuantile(sorted, min(1, q+1.0/float64(len(sorted))))
		if got < lo*(1-QuantileError) || got > hi*(1+QuantileError) {
			t.Errorf("p%g = %g, want %g within %g%%", q*100, got, want, QuantileError*100)
		}
	}
	est, want := float64(a.Distinct["user.id"].Estimate()), float64(len(e.users))
	if math.Abs(est-want) > 3*DistinctError*want {
		t.Errorf("distinct users %g, want %g within 3σ (%g%%)", est, want, 3*DistinctError*100)
	}
	if a.Quality.TypeMismatch["duration_ms"] != e.mismatchDu {
		t.Errorf("duration mismatches %d, want %d", a.Quality.TypeMismatch["duration_ms"], e.mismatchDu)
	}
	if f := a.Fields["user.plan.tier"]; f == nil || f.Types != TypeString {
		t.Errorf("inventory user.plan.tier = %+v", f)
	}
	if f := a.Fields["duration_ms"]; f == nil || f.Types != TypeNumber|TypeString {
		t.Errorf("inventory duration_ms = %+v, want number and string (drift)", f)
	}
	if f := a.Fields["extra"]; f == nil || f.Types != TypeArray {
		t.Errorf("inventory extra = %+v", f)
	}
}

func TestScanHeterogeneousAndInvalid(t *testing.T) {
	dir := t.TempDir()
	d := october
	lines := [][]byte{
		[]byte(`{"timestamp":"2026-10-01T05:00:00Z","level":"info","duration_ms":5}`),
		[]byte(`not json at all`),
		[]byte(`[1,2,3]`),
		[]byte(`{"timestamp":"2026-10-01T05:00:00Z","level":{"nested":true},"duration_ms":[1]}`),
		[]byte(`{"level":"warn","duration_ms":null}`), // no timestamp
		[]byte(`{"timestamp":"2026-10-01T06:00:00Z","level":7,"status":true,"duration_ms":"12"}`),
		[]byte(`{"timestamp":"2026-10-01T06:00:00Z","unterminated":"`),
		[]byte(`{"timestamp":"2026-10-01T06:00:00Z"} trailing`),
		[]byte(`{}`),
	}
	writePart(t, dir, d, 1, lines, 4, false)
	cfg := testConfig()
	a, err := Scan(context.Background(), monthFiles(t, dir), cfg, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Records != 5 || a.Quality.BadLines != 4 || a.Quality.NoTimestamp != 2 {
		t.Fatalf("records %d bad %d no-ts %d, want 5, 4, 2", a.Records, a.Quality.BadLines, a.Quality.NoTimestamp)
	}
	if a.Days[utcday.Of(d.UnixNano())].Records != 5 {
		t.Fatalf("day count %+v", a.Days)
	}
	if n := a.Quality.TypeMismatch["duration_ms"]; n != 2 {
		t.Errorf("duration mismatches %d, want 2 (array, string)", n)
	}
	if n := a.Quality.TypeMismatch["level"]; n != 1 {
		t.Errorf("level mismatches %d, want 1 (object)", n)
	}
	got := map[string]int64{}
	for _, v := range a.Top["level"].Top(-1) {
		got[v.Value] = v.Count
	}
	if len(got) != 3 || got["info"] != 1 || got["warn"] != 1 || got["7"] != 1 {
		t.Errorf("levels %v", got)
	}
	if a.Metrics["duration_ms"].Count != 1 {
		t.Errorf("durations %d, want 1", a.Metrics["duration_ms"].Count)
	}
}

// The field inventory counts records: a record written before the I-JSON rule
// with a member name twice counts once for it (and for the nested path).
func TestFieldInventoryCountsRecords(t *testing.T) {
	dir := t.TempDir()
	writePart(t, dir, october, 1, [][]byte{
		[]byte(`{"timestamp":"2026-10-01T05:00:00Z","a":1,"a":"x","o":{"b":1,"b":2}}`),
		[]byte(`{"timestamp":"2026-10-01T05:00:01Z","a":2}`),
	}, 4, false)
	a, err := Scan(context.Background(), monthFiles(t, dir), testConfig(), ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int64{"a": 2, "o.b": 1, "o": 1, "timestamp": 2} {
		if f := a.Fields[path]; f == nil || f.Records != want {
			t.Errorf("inventory %s: %+v, want %d records", path, f, want)
		}
	}
	if f := a.Fields["a"]; f != nil && f.Types != TypeNumber|TypeString {
		t.Errorf("inventory a: types %b, want number and string", f.Types)
	}
}

func TestArrowBatchesAreTyped(t *testing.T) {
	dir := t.TempDir()
	writePart(t, dir, october, 1, [][]byte{
		[]byte(`{"timestamp":"2026-10-01T01:02:03.456789Z","level":"info","duration_ms":1.5,"user":{"id":"a"}}`),
		[]byte(`{"timestamp":"2026-10-01T01:02:04Z","service":"x","bytes":10}`),
	}, 10, false)
	cfg := testConfig()
	cfg.Workers = 1
	var got []string
	_, err := Scan(context.Background(), monthFiles(t, dir), cfg, ScanOptions{Sink: func(rec arrow.Record) error {
		ts := rec.Column(0).(*array.Timestamp)
		got = append(got, ts.Value(0).ToTime(arrow.Microsecond).Format(time.RFC3339Nano))
		lv := rec.Column(1).(*array.Dictionary)
		got = append(got, lv.Dictionary().(*array.String).Value(lv.GetValueIndex(0)), lv.ValueStr(1))
		du := rec.Column(int(rec.Schema().FieldIndices("duration_ms")[0])).(*array.Float64)
		got = append(got, du.ValueStr(0), du.ValueStr(1))
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := "[2026-10-01T01:02:03.456789Z info (null) 1.5 (null)]"
	if s := fmtSlice(got); s != want {
		t.Fatalf("got %s, want %s", s, want)
	}
}

func fmtSlice(s []string) string {
	out := "["
	for i, v := range s {
		if i > 0 {
			out += " "
		}
		out += v
	}
	return out + "]"
}

func TestParseNumberMatchesStrconv(t *testing.T) {
	for _, s := range []string{"0", "-0", "1", "12.5", "-3.25", "0.1", "123456789012345", "1234567890123456789",
		"0.000000000000000000001", "1e3", "2.5E-3", "-1.0e+2", "999999999999999.9", "0.30000000000000004", "1.7976931348623157e308",
		"9007199254740992", "9007199254740993", "-900719925474099.3", "900719925474099.31", "1.", "0.0000000000000000000001"} {
		want, _ := strconv.ParseFloat(s, 64)
		got, ok := parseNumber([]byte(s))
		if !ok || got != want || math.Signbit(got) != math.Signbit(want) {
			t.Errorf("parseNumber(%s) = %v %v, want %v", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "x", "\"1\"", "true", "--1", "-", "-."} {
		if _, ok := parseNumber([]byte(s)); ok {
			t.Errorf("parseNumber(%q) accepted", s)
		}
	}
}

func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{"0", "-12.5", "1e9", "0.1", "123456789012345678"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := strconv.ParseFloat(s, 64)
		got, ok := parseNumber([]byte(s))
		if ok && err == nil && got != want {
			t.Fatalf("parseNumber(%q) = %v, strconv %v", s, got, want)
		}
	})
}

// FuzzRecord: the record walker never panics or reads out of bounds, counts
// every line as a record or a bad line, and accepts every compact JSON
// object that encoding/json accepts.
func FuzzRecord(f *testing.F) {
	for _, s := range []string{`{"timestamp":"2026-10-01T00:00:00Z","level":"info","user":{"id":"a"},"duration_ms":1.5}`,
		`{"a":[1,{"b":"\"}"}],"c":{"d":{"e":{"f":{"g":1}}}}}`, `{}`, `{"level":"x\\"}`, `[1]`, `{"a":}`, `{"ts":1e9,"level":null}`} {
		f.Add([]byte(s))
	}
	cfg := testConfig().withDefaults()
	f.Fuzz(func(t *testing.T, line []byte) {
		if bytes.IndexByte(line, '\n') >= 0 {
			return
		}
		w := newWorker(&cfg, true)
		w.record(line, 0)
		if w.agg.Records+w.agg.Quality.BadLines != 1 {
			t.Fatalf("line counted %d times", w.agg.Records+w.agg.Quality.BadLines)
		}
		var buf bytes.Buffer
		if json.Valid(line) && json.Compact(&buf, line) == nil && bytes.Equal(buf.Bytes(), line) && len(line) > 0 && line[0] == '{' &&
			strings.Count(string(line), "{")+strings.Count(string(line), "[") < 100 && w.agg.Records != 1 {
			t.Fatalf("valid object counted as a bad line: %s", line)
		}
		if err := w.flush(nil); err != nil {
			t.Fatal(err)
		}
	})
}

// String values count by their text, escaped or not: a dimension, a distinct
// field and a zero-config candidate see `é` written raw and as \u00e9 as one
// value, and a value with an escaped quote unescaped.
func TestEscapedValuesCountByText(t *testing.T) {
	var lines [][]byte
	for i, v := range []string{`"é"`, `"\u00e9"`, `"a\"b"`, `"é"`, `"plain"`, `"a\"b"`, `"\u00e9"`} {
		lines = append(lines, fmt.Appendf(nil, `{"timestamp":"2026-10-01T00:00:%02dZ","level":%s,"user":{"id":%s}}`, i, v, v))
	}
	dir := t.TempDir()
	writePart(t, dir, october, 1, lines, 500, false)
	want := map[string]int64{"é": 4, `a"b`: 2, "plain": 1}
	for _, auto := range []bool{false, true} {
		cfg := testConfig()
		if auto {
			cfg.Dimensions, cfg.Metrics, cfg.Distinct, cfg.Auto = nil, nil, nil, true
		}
		a, err := Scan(context.Background(), monthFiles(t, dir), cfg, ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, tv := range a.Top["level"].Top(10) {
			got[tv.Value] = tv.Count
		}
		if !maps.Equal(got, want) {
			t.Errorf("auto %v: level top values %v, want %v", auto, got, want)
		}
		if n := a.Distinct["user.id"].Estimate(); n != 3 {
			t.Errorf("auto %v: %d distinct user.id, want 3", auto, n)
		}
	}
}

// A worker whose distinct sketch went far past a sparse one's size starts
// that field dense in its next scan, and the sketch it builds there is byte
// for byte the one a fresh worker builds (sparse, then converted); a field
// with few values stays sparse.
func TestDenseHLLAfterManyValues(t *testing.T) {
	cfg := testConfig().withDefaults()
	cfg.Distinct = []string{"user.id", "level"}
	var raw []byte
	for i := 0; i < 3*denseHLLAfter/2; i++ {
		raw = fmt.Appendf(raw, `{"timestamp":"2026-10-01T00:00:00Z","level":"l%d","user":{"id":"u-%d"}}`+"\n", i%7, i)
	}
	scan := func(w *worker) *Agg {
		if err := w.block(raw, 0, nil); err != nil {
			t.Fatal(err)
		}
		if err := w.flush(nil); err != nil {
			t.Fatal(err)
		}
		return w.agg
	}
	hinted := newWorker(&cfg, false)
	scan(hinted)
	hinted.noteDense()
	if !hinted.denseHLL["user.id"] || hinted.denseHLL["level"] {
		t.Fatalf("dense fields %v, want user.id only", hinted.denseHLL)
	}
	hinted.reset()
	hinted.restart(&cfg)
	if b, _ := hinted.agg.Distinct["user.id"].MarshalBinary(); len(b) < 1<<hllPrecision {
		t.Fatalf("user.id starts with a %d-byte sketch, want a dense one", len(b))
	}
	got, fresh := scan(hinted), scan(newWorker(&cfg, false))
	for _, name := range cfg.Distinct {
		a, _ := got.Distinct[name].MarshalBinary()
		b, _ := fresh.Distinct[name].MarshalBinary()
		if !bytes.Equal(a, b) {
			t.Errorf("%s: the hinted worker's sketch (%d bytes) differs from a fresh one's (%d bytes)", name, len(a), len(b))
		}
	}
	if e := got.Distinct["user.id"].Estimate(); e < 3*denseHLLAfter/2*97/100 || e > 3*denseHLLAfter/2*103/100 {
		t.Errorf("user.id estimate %d, want ≈ %d", e, 3*denseHLLAfter/2)
	}
}
