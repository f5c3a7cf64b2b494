package report

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/ingestd/ingestd/record"
)

// logLines makes n log records shaped like ingest-bench's "logs" workload
// (≈ 280 bytes each).
func logLines(n int, d time.Time) [][]byte {
	r := rand.New(rand.NewSource(1))
	levels := []string{"info", "info", "info", "warn", "error", "debug"}
	methods := []string{"GET", "POST", "PUT", "DELETE"}
	out := make([][]byte, n)
	for i := range out {
		ts := d.Add(time.Duration(i) * (24 * time.Hour / time.Duration(n)))
		out[i] = fmt.Appendf(nil, `{"id":"%012d","timestamp":"%s","level":"%s","service":"checkout-%d","host":"node-%03d.eu-west-1","method":"%s","path":"/api/v2/orders/%d/items","status":%d,"duration_ms":%d.%03d,"bytes":%d,"msg":"request completed"}`,
			i, ts.Format(time.RFC3339Nano), levels[r.Intn(len(levels))], r.Intn(20), r.Intn(200), methods[r.Intn(4)],
			r.Intn(1000000), 200+100*r.Intn(4), r.Intn(2000), r.Intn(1000), r.Intn(100000))
	}
	return out
}

func benchConfig(workers int) Config {
	return Config{
		Dimensions:      []string{"level", "service", "host", "status"},
		Metrics:         []string{"duration_ms", "bytes"},
		Distinct:        []string{"host", "path"},
		TimestampFields: []string{"timestamp", "ts"},
		ParseTimestamp:  record.ParseTimestamp, // what the daemon wires in
		Workers:         workers,
	}
}

// BenchmarkScan measures the full scan: decode, parse into Arrow, aggregate.
// records/s is per run; divide by the workers for per core.
func BenchmarkScan(b *testing.B) {
	dir := b.TempDir()
	const n = 300000
	lines := logLines(n, october)
	var raw int64
	for _, l := range lines {
		raw += int64(len(l) + 1)
	}
	writePart(b, dir, october, 1, lines, 14000, false)
	files := monthFiles(b, dir)
	for _, mode := range []string{"configured", "auto"} {
		for _, workers := range []int{1, runtime.GOMAXPROCS(0)} {
			b.Run(fmt.Sprintf("%s/workers=%d", mode, workers), func(b *testing.B) {
				cfg := benchConfig(workers)
				if mode == "auto" { // zero-config: every leaf path is a candidate
					cfg.Dimensions, cfg.Metrics, cfg.Distinct, cfg.Auto = nil, nil, nil, true
				}
				b.SetBytes(raw)
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					a, err := Scan(context.Background(), files, cfg, ScanOptions{})
					if err != nil || a.Records != n {
						b.Fatal(err, a.Records)
					}
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
			})
		}
	}
}

// BenchmarkMonthFromPartials measures a monthly run that merges 31 stored
// daily partials, each as heavy as the defaults allow: 4 dimensions with
// 10,000 counted values, 2 metrics, 2 distinct counts over 100,000 values and
// 300 inventory paths.
func BenchmarkMonthFromPartials(b *testing.B) {
	data, out := b.TempDir(), b.TempDir()
	cfg := benchConfig(2)
	cfg.Distinct = []string{"user", "session"}
	r := rand.New(rand.NewSource(1))
	var partialBytes int64
	for day := 0; day < 31; day++ {
		d := october.AddDate(0, 0, day)
		writePart(b, data, d, uint64(day*10+1), [][]byte{[]byte(`{"timestamp":"` + d.Format(time.RFC3339) + `"}`)}, 10, false)
		dir := segmentDayDir(data, d)
		res, err := DayPartial(context.Background(), dir, "", cfg, false, true, ScanOptions{})
		if err != nil {
			b.Fatal(err)
		}
		a := res.Partial.Agg
		for _, dim := range cfg.Dimensions {
			for v := 0; v < 10000; v++ {
				a.Top[dim].Add([]byte(fmt.Sprintf("%s-value-%d", dim, r.Intn(20000))), int64(1+r.Intn(1000)))
			}
		}
		for _, m := range cfg.Metrics {
			for v := 0; v < 100000; v++ {
				a.Metrics[m].Add(r.ExpFloat64() * 100)
			}
		}
		for _, k := range cfg.Distinct {
			for v := 0; v < 100000; v++ {
				a.Distinct[k].Insert([]byte(fmt.Sprintf("%s-%d", k, r.Intn(3000000))))
			}
		}
		for f := 0; f < 300; f++ {
			a.Fields[fmt.Sprintf("field_%03d", f)] = &FieldStat{Records: 1000, Types: TypeString}
		}
		if err := writePartial(dir, "", res.Partial); err != nil {
			b.Fatal(err)
		}
		partialBytes += fileSize(b, dir)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := RunMonth(context.Background(), MonthOptions{DataDir: data, OutDir: out, Month: october, Config: cfg})
		if err != nil || res.DaysFromPartials != 31 {
			b.Fatal(err, res)
		}
	}
	b.ReportMetric(float64(partialBytes)/31/1e6, "MB/partial")
}

// BenchmarkScanDir scans every day of the data directory named by
// INGESTD_SCAN_DIR (e.g. bench/gendays output) with one worker and the
// question of bench/report-vs-duckdb.sh, for profiling the scan on varied
// records: go test -run '^$' -bench ScanDir -cpuprofile cpu.out ./report/
// With INGESTD_SCAN_AUTO=1 it asks the zero-config question instead (every
// leaf path a candidate), as bench/report-vs-duckdb.sh does with AUTO=1.
func BenchmarkScanDir(b *testing.B) {
	dir := os.Getenv("INGESTD_SCAN_DIR")
	if dir == "" {
		b.Skip("set INGESTD_SCAN_DIR to a data directory (bench/gendays makes one)")
	}
	files := monthFiles(b, dir)
	cfg := benchConfig(1)
	cfg.Distinct = []string{"host", "user.id"}
	if os.Getenv("INGESTD_SCAN_AUTO") == "1" {
		cfg.Dimensions, cfg.Metrics, cfg.Distinct, cfg.Auto = nil, nil, nil, true
	}
	b.ReportAllocs()
	var n int64
	for i := 0; i < b.N; i++ {
		a, err := Scan(context.Background(), files, cfg, ScanOptions{})
		if err != nil {
			b.Fatal(err)
		}
		n += a.Records
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}
