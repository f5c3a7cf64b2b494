package report

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/ingestd/ingestd/segment"
)

func monthOpts(dataDir, out string) MonthOptions {
	return MonthOptions{DataDir: dataDir, OutDir: out, Month: october, Config: testConfig(), StorePartials: true}
}

func readSummary(t *testing.T, dir string) Summary {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMonthReportMatchesGeneratedMonth(t *testing.T) {
	data, out := t.TempDir(), t.TempDir()
	e := genMonth(t, data, 5, 3000)
	// A day of another month is left out.
	writePart(t, data, october.AddDate(0, 1, 0), 1, [][]byte{[]byte(`{"timestamp":"2026-11-01T00:00:00Z"}`)}, 10, false)

	res, err := RunMonth(context.Background(), monthOpts(data, out))
	if err != nil {
		t.Fatal(err)
	}
	if res.Days != 5 || res.DaysScanned != 5 || res.Records != e.records {
		t.Fatalf("result %+v, want 5 days scanned, %d records", res, e.records)
	}
	s := readSummary(t, res.Dir)
	if s.Month != "2026-10" || s.Records != e.records || len(s.Days) != 5 {
		t.Fatalf("summary month %s records %d days %d", s.Month, s.Records, len(s.Days))
	}
	for _, d := range s.Days {
		if d.Records != e.days[d.Date] {
			t.Errorf("%s: %d records, want %d", d.Date, d.Records, e.days[d.Date])
		}
	}
	if len(s.Top["level"]) != 4 || s.Top["level"][0].Value != "info" || s.Top["level"][0].Count != e.levels["info"] || !s.TopExact["level"] {
		t.Errorf("top levels %+v, want info first with %d", s.Top["level"], e.levels["info"])
	}
	if len(s.Top["service"]) != 5 {
		t.Errorf("top services %d, want top_n 5", len(s.Top["service"]))
	}
	var grid int64
	for _, row := range s.HourWeekday {
		for _, n := range row {
			grid += n
		}
	}
	if grid != e.records {
		t.Errorf("hour×weekday grid sums to %d, want %d", grid, e.records)
	}
	if m := s.Metrics["duration_ms"]; m.Count != int64(len(e.durations)) || m.P99 == nil {
		t.Errorf("duration summary %+v", m)
	}
	// daily.csv: a header and one row per day.
	f, err := os.Open(filepath.Join(res.Dir, "daily.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != 6 || strings.Join(rows[0], ",") != "date,records,duration_ms_mean,duration_ms_p99,bytes_mean,bytes_p99" {
		t.Fatalf("daily.csv %v %v", rows, err)
	}
	// The Parquet tables read back.
	for name, want := range map[string]int64{"daily.parquet": 5, "hourly.parquet": 5 * 24, "top.parquet": 4 + 5 + 3, "metrics.parquet": 2} {
		if n := parquetRows(t, filepath.Join(res.Dir, name)); n != want {
			t.Errorf("%s: %d rows, want %d", name, n, want)
		}
	}
	html, err := os.ReadFile(filepath.Join(res.Dir, "report.html"))
	if err != nil || !strings.Contains(string(html), `<svg id="day-chart"`) || strings.Contains(string(html), "http://") && strings.Contains(string(html), "<script") {
		t.Fatalf("report.html: %v", err)
	}
	// Partials were stored beside the sealed days, not beside the day with
	// an open part.
	days, _ := MonthDays(data, october)
	for i, d := range days {
		_, err := os.Stat(filepath.Join(d.Dir, segment.LegacyReportPartial))
		if stored := err == nil; stored != (i < 4) {
			t.Errorf("%s: partial stored %v", d.Dir, stored)
		}
	}

	// Second run: merges stored partials, rescans only the open day, and
	// says the same.
	res2, err := RunMonth(context.Background(), monthOpts(data, out))
	if err != nil {
		t.Fatal(err)
	}
	if res2.DaysFromPartials != 4 || res2.DaysScanned != 1 {
		t.Fatalf("second run %+v, want 4 days from partials and 1 scanned", res2)
	}
	s2 := readSummary(t, res2.Dir)
	s.Generated, s2.Generated, s.Sources, s2.Sources = time.Time{}, time.Time{}, Sources{}, Sources{}
	// Float sums depend on the order parallel workers finished blocks in.
	for k, m := range s.Metrics {
		m2 := s2.Metrics[k]
		if math.Abs(m.Sum-m2.Sum) > 1e-9*math.Abs(m.Sum) || math.Abs(*m.Mean-*m2.Mean) > 1e-9*math.Abs(*m.Mean) {
			t.Errorf("%s: sum %g vs %g", k, m.Sum, m2.Sum)
		}
		m2.Sum, m2.Mean = m.Sum, m.Mean
		s2.Metrics[k] = m2
	}
	if !reflect.DeepEqual(s, s2) {
		a, _ := json.Marshal(s)
		b, _ := json.Marshal(s2)
		t.Fatalf("report from partials differs from the full scan:\n%s\n%s", a, b)
	}
	leftovers, _ := filepath.Glob(filepath.Join(out, ".2026-10.*"))
	for _, l := range leftovers {
		if !strings.HasSuffix(l, ".lock") {
			t.Errorf("left behind: %s", l)
		}
	}
}

func parquetRows(t *testing.T, path string) int64 {
	t.Helper()
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fr, err := pqarrow.NewFileReader(r, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	return tbl.NumRows()
}

func TestMergeOfPartialsEqualsOneScan(t *testing.T) {
	data := t.TempDir()
	e := genMonth(t, data, 4, 2500)
	cfg := testConfig()
	cfg.TopCap = 12 // small: the service counter overflows into Space-Saving
	whole, err := Scan(context.Background(), monthFiles(t, data), cfg, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	merged := NewAgg(cfg)
	days, _ := MonthDays(data, october)
	for _, d := range days {
		r, err := DayPartial(context.Background(), d.Dir, "", cfg, true, false, ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// Through the partial file's JSON form, as the monthly run reads it.
		b, err := json.Marshal(r.Partial)
		if err != nil {
			t.Fatal(err)
		}
		var p Partial
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		if err := merged.Merge(p.Agg); err != nil {
			t.Fatal(err)
		}
	}
	// Exact parts are equal.
	if merged.Records != whole.Records || !reflect.DeepEqual(merged.Days, whole.Days) ||
		!reflect.DeepEqual(merged.Fields, whole.Fields) || !reflect.DeepEqual(merged.Quality, whole.Quality) {
		t.Fatalf("merged counts differ from one scan")
	}
	if got, want := merged.Top["level"].Top(-1), whole.Top["level"].Top(-1); !reflect.DeepEqual(got, want) {
		t.Fatalf("levels %v vs %v", got, want)
	}
	mm, wm := merged.Metrics["duration_ms"], whole.Metrics["duration_ms"]
	if mm.Count != wm.Count || mm.Min != wm.Min || mm.Max != wm.Max {
		t.Fatalf("metric %+v vs %+v", mm, wm)
	}
	for _, q := range []float64{0.5, 0.9, 0.99} {
		a, b := mm.Quantile(q), wm.Quantile(q)
		if a < b*(1-2*QuantileError) || a > b*(1+2*QuantileError) {
			t.Errorf("p%g merged %g vs scan %g", q*100, a, b)
		}
	}
	// HyperLogLog merges losslessly: the same registers.
	if merged.Distinct["user.id"].Estimate() != whole.Distinct["user.id"].Estimate() {
		t.Errorf("distinct merged %d vs scan %d", merged.Distinct["user.id"].Estimate(), whole.Distinct["user.id"].Estimate())
	}
	// Both estimates still honour Space-Saving's guarantee on the leaders.
	for _, a := range []*Agg{merged, whole} {
		if a.Top["service"].Exact {
			t.Fatalf("service counter should have overflowed its cap of 12")
		}
		for _, v := range a.Top["service"].Top(3) {
			if want := e.services[v.Value]; v.Count < want || v.Count-v.Err > want {
				t.Errorf("service %s: %d±%d, true %d", v.Value, v.Count, v.Err, want)
			}
		}
		if a.Top["service"].Top(1)[0].Value != "svc-0" {
			t.Errorf("leader %v", a.Top["service"].Top(1))
		}
	}
	checkAgainst(t, merged, e, cfg, false)
}

func TestStalePartialsAreRecomputed(t *testing.T) {
	data, out := t.TempDir(), t.TempDir()
	genMonth(t, data, 3, 1000)
	if _, err := RunMonth(context.Background(), monthOpts(data, out)); err != nil {
		t.Fatal(err)
	}
	// A late part arrives for day 1.
	writePart(t, data, october, 900000, [][]byte{[]byte(`{"timestamp":"2026-10-01T23:00:00Z","level":"late"}`)}, 10, false)
	res, err := RunMonth(context.Background(), monthOpts(data, out))
	if err != nil {
		t.Fatal(err)
	}
	if res.DaysScanned != 2 || res.DaysFromPartials != 1 {
		t.Fatalf("after a late part: %+v, want day 1 and the open day scanned", res)
	}
	s := readSummary(t, res.Dir)
	found := false
	for _, v := range s.Top["level"] {
		found = found || v.Value == "late"
	}
	if !found {
		t.Fatalf("late record missing from %v", s.Top["level"])
	}
	// A changed report configuration makes every partial stale.
	opt := monthOpts(data, out)
	opt.Config.Dimensions = append(opt.Config.Dimensions, "user.plan.tier")
	res, err = RunMonth(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	if res.DaysScanned != 3 {
		t.Fatalf("after a config change: %+v, want every day scanned", res)
	}
	if s := readSummary(t, res.Dir); len(s.Top["user.plan.tier"]) != 1 || s.Top["user.plan.tier"][0].Value != "gold" {
		t.Fatalf("new dimension: %v", s.Top["user.plan.tier"])
	}
	// A corrupt partial is rescanned, not trusted.
	days, _ := MonthDays(data, october)
	os.WriteFile(filepath.Join(days[1].Dir, segment.LegacyReportPartial), []byte("{garbage"), 0o644)
	if res, err = RunMonth(context.Background(), opt); err != nil || res.DaysScanned != 2 {
		t.Fatalf("with a corrupt partial: %+v %v", res, err)
	}
}

type cancelAfter struct {
	n      int64
	cancel func()
}

func (c *cancelAfter) Update(records, _, _ int64) {
	if records >= c.n {
		c.cancel()
	}
}

func TestInterruptedReportLeavesNothing(t *testing.T) {
	data, out := t.TempDir(), t.TempDir()
	genMonth(t, data, 4, 3000)
	ctx, cancel := context.WithCancel(context.Background())
	opt := monthOpts(data, out)
	opt.ExportRecords = true
	opt.Progress = &cancelAfter{n: 5000, cancel: cancel}
	if _, err := RunMonth(ctx, opt); !errors.Is(err, context.Canceled) {
		t.Fatalf("want cancellation, got %v", err)
	}
	ents, _ := os.ReadDir(out)
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".lock") {
			t.Errorf("interrupted run left %s", e.Name())
		}
	}
	// An earlier complete report survives a failed re-run.
	res, err := RunMonth(context.Background(), monthOpts(data, out))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	opt.Progress = &cancelAfter{n: 1, cancel: cancel}
	RunMonth(ctx, opt)
	if s := readSummary(t, res.Dir); s.Records != res.Records {
		t.Fatalf("earlier report damaged")
	}
	if _, err := os.Stat(filepath.Join(res.Dir, "records.parquet")); err == nil {
		t.Fatalf("the cancelled export replaced the earlier report")
	}
}

func TestExportRecordsParquet(t *testing.T) {
	data, out := t.TempDir(), t.TempDir()
	e := genMonth(t, data, 2, 2000)
	opt := monthOpts(data, out)
	opt.ExportRecords = true
	res, err := RunMonth(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExportedRows != e.records {
		t.Fatalf("exported %d rows, want %d", res.ExportedRows, e.records)
	}
	p := filepath.Join(res.Dir, "records.parquet")
	if n := parquetRows(t, p); n != e.records {
		t.Fatalf("records.parquet has %d rows, want %d", n, e.records)
	}
	r, err := file.OpenParquetFile(p, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.NumRowGroups() != 1 {
		t.Errorf("%d row groups for %d rows: batches were not buffered", r.NumRowGroups(), e.records)
	}
	var names []string
	for i := 0; i < r.MetaData().Schema.NumColumns(); i++ {
		names = append(names, r.MetaData().Schema.Column(i).Name())
	}
	if got := strings.Join(names, ","); got != "timestamp,level,service,status,user.id,duration_ms,bytes,record" {
		t.Errorf("columns %s", got)
	}
	if c, err := r.MetaData().RowGroup(0).ColumnChunk(0); err != nil || c.Compression().String() != "ZSTD" {
		t.Errorf("compression %v %v", c, err)
	}
}

func TestLockedMonthRefusesSecondRun(t *testing.T) {
	out := t.TempDir()
	unlock, err := lockMonth(out, "2026-10")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	_, err = RunMonth(context.Background(), monthOpts(t.TempDir(), out))
	if err == nil || !strings.Contains(err.Error(), "another run") {
		t.Fatalf("want a lock error, got %v", err)
	}
}

// The Parquet zstd codec is the pooled one, and it round-trips at a level.
func TestPooledZstdCodec(t *testing.T) {
	c, err := compress.GetCodec(compress.Codecs.Zstd)
	if err != nil {
		t.Fatal(err)
	}
	pz, ok := c.(*pooledZstd)
	if !ok {
		t.Fatalf("registered codec is %T", c)
	}
	src := bytes.Repeat([]byte("page of parquet values "), 1000)
	enc := pz.EncodeLevel(nil, src, 3)
	enc2 := pz.EncodeLevel(nil, src, 3)
	if dec := pz.Decode(nil, enc); !bytes.Equal(dec, src) || !bytes.Equal(enc, enc2) {
		t.Fatal("zstd round trip failed")
	}
	if len(pz.encs) != 1 {
		t.Fatalf("%d encoders for one level, want 1 kept and reused", len(pz.encs))
	}
}

// A report of any whole-day range: its days only, from the partials a
// month report stored, equal to a rescan, in a folder named for the range.
func TestRangeReport(t *testing.T) {
	data, out := t.TempDir(), t.TempDir()
	e := genMonth(t, data, 5, 2000)
	if _, err := RunMonth(context.Background(), monthOpts(data, out)); err != nil { // stores the partials
		t.Fatal(err)
	}
	opts := monthOpts(data, out)
	opts.From, opts.To = october.AddDate(0, 0, 1), october.AddDate(0, 0, 4)
	res, err := RunMonth(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	for _, d := range []string{"2026-10-02", "2026-10-03", "2026-10-04"} {
		want += e.days[d]
	}
	if filepath.Base(res.Dir) != "2026-10-02_to_2026-10-04" || res.Days != 3 || res.DaysFromPartials != 3 || res.Records != want {
		t.Fatalf("range report %+v, want 3 days from partials, %d records", res, want)
	}
	s := readSummary(t, res.Dir)
	if s.From != "2026-10-02" || s.To != "2026-10-04" || s.Month != "2026-10-02_to_2026-10-04" || len(s.Days) != 3 {
		t.Fatalf("summary %s..%s (%s), %d days", s.From, s.To, s.Month, len(s.Days))
	}
	opts.Rescan, opts.StorePartials, opts.OutDir = true, false, t.TempDir()
	res2, err := RunMonth(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	s2 := readSummary(t, res2.Dir)
	if res2.DaysScanned != 3 || s2.Records != s.Records || !reflect.DeepEqual(s2.Top, s.Top) || !reflect.DeepEqual(s2.Days, s.Days) {
		t.Fatalf("the rescan differs: %d records, %+v", s2.Records, s2.Top)
	}
	from, to, ok := ParseRangeName(filepath.Base(res.Dir))
	if !ok || !from.Equal(opts.From) || !to.Equal(opts.To) {
		t.Fatalf("ParseRangeName: %v %v %v", from, to, ok)
	}
	for _, bad := range [][2]time.Time{{october.Add(time.Hour), october.AddDate(0, 0, 2)}, {october.AddDate(0, 0, 2), october}} {
		o := monthOpts(data, out)
		o.From, o.To = bad[0], bad[1]
		if _, err := RunMonth(context.Background(), o); err == nil {
			t.Errorf("range %v accepted", bad)
		}
	}
}

// A report compares itself with the previous period's stored report:
// records, the values that rose or fell most, quantiles, new and vanished
// fields, new values; a range with the same number of days before it.
func TestComparedWithPreviousPeriod(t *testing.T) {
	data, out := t.TempDir(), t.TempDir()
	nov := october.AddDate(0, 1, 0)
	line := func(d time.Time, i int, level, extra string) []byte {
		return []byte(fmt.Sprintf(`{"timestamp":"%s","level":"%s","service":"s","duration_ms":%d%s}`, d.Add(time.Duration(i)*time.Second).Format(time.RFC3339), level, i%100, extra))
	}
	var oct, novl [][]byte
	for i := 0; i < 300; i++ {
		oct = append(oct, line(october, i, []string{"info", "warn", "error"}[i%3], `,"old":1`))
	}
	for i := 0; i < 450; i++ {
		novl = append(novl, line(nov, i, []string{"info", "info", "debug"}[i%3], `,"user":{"id":"u"}`))
	}
	writePart(t, data, october, 1, oct, 100, false)
	writePart(t, data, nov, 2, novl, 100, false)
	o := monthOpts(data, out)
	if _, err := RunMonth(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if s := readSummary(t, filepath.Join(out, "2026-10")); s.Compared != nil {
		t.Fatalf("October has no previous report, yet compared: %+v", s.Compared)
	}
	o.Month = nov
	res, err := RunMonth(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	c := readSummary(t, res.Dir).Compared
	if c == nil || c.Previous != "2026-10" || c.Records != 300 || c.Change == nil || math.Abs(*c.Change-0.5) > 1e-9 {
		t.Fatalf("compared %+v", c)
	}
	deltas := map[string]int64{}
	for _, v := range c.Top["level"] {
		deltas[v.Value] = v.Delta
	}
	// info 100 → 300, warn 100 → 0, error 100 → 0, debug 0 → 150.
	if deltas["info"] != 200 || deltas["debug"] != 150 || deltas["warn"] != -100 || deltas["error"] != -100 || c.Top["level"][0].Value != "info" {
		t.Fatalf("level changes %+v", c.Top["level"])
	}
	if strings.Join(c.NewValues["level"], ",") != "debug" || strings.Join(c.NewFields, ",") != "user,user.id" || strings.Join(c.GoneFields, ",") != "old" {
		t.Fatalf("new values %v, new fields %v, vanished %v", c.NewValues, c.NewFields, c.GoneFields)
	}
	if m := c.Metrics["duration_ms"]; m.P50 == nil || m.P50Before == nil {
		t.Fatalf("duration quantiles %+v", m)
	}
	page, _ := os.ReadFile(filepath.Join(res.Dir, "report.html"))
	if !strings.Contains(string(page), "Compared with 2026-10") || !strings.Contains(string(page), "&#43;50.0 %") { // html/template writes + so
		t.Fatal("the page does not show the comparison")
	}
	// A range: the same number of days just before it.
	o.From, o.To = nov, nov.AddDate(0, 0, 1)
	if _, err := RunMonth(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if name, _ := previousName("2026-11-01_to_2026-11-07"); name != "2026-10-25_to_2026-10-31" {
		t.Fatalf("previous of a week: %s", name)
	}
}
