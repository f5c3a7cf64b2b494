package record

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/sample"
)

// BenchmarkParse measures the per-request hot path on one core: validate,
// find and parse the timestamp, compact, append to the batch.
func BenchmarkParse(b *testing.B) { benchParse(b, sample.Logs(1000)) }

// benchParse parses body, 1000 records, b.N times.
func benchParse(b *testing.B, body []byte) {
	p := NewParser(DefaultRules())
	batch := &Batch{}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batch.Reset()
		if re := p.Parse(body, now, false, batch); re != nil {
			b.Fatal(re)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkParseMixedShapes is BenchmarkParse on records that cycle through
// three key orders, so no record's keys are its predecessor's: the worst
// case for the scanner's key prediction.
func BenchmarkParseMixedShapes(b *testing.B) {
	var body []byte
	for i := 0; i < 1000; i++ {
		ts := fmt.Sprintf(`"timestamp":"2026-11-26T10:%02d:%02d.%06dZ"`, i/60%60, i%60, i)
		lv := fmt.Sprintf(`"level":"%s"`, []string{"info", "warn", "error"}[i%3])
		svc := fmt.Sprintf(`"service":"checkout-%d","host":"node-%03d.eu-west-1"`, i%12, i%200)
		req := fmt.Sprintf(`"path":"/api/v2/orders/%d/items","status":%d,"duration_ms":%d.%03d`, i*7919%100000, 200+i%5, i%900, i%1000)
		ids := fmt.Sprintf(`"user_id":"u-%08d","trace_id":"%016x","msg":"request completed"`, i*31%10000000, uint64(i)*0x9E3779B97F4A7C15)
		parts := [][]string{{ts, lv, svc, req, ids}, {lv, ts, ids, svc, req}, {svc, req, ts, lv, ids}}[i%3]
		body = append(body, '{')
		body = append(body, strings.Join(parts, ",")...)
		body = append(body, "}\n"...)
	}
	benchParse(b, body)
}

// BenchmarkParseInterleavedSources is BenchmarkParse on records of ten
// sources in random order that share their first keys (timestamp, level)
// and differ after: a node agent's mix of applications.
func BenchmarkParseInterleavedSources(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	var body []byte
	for i := 0; i < 1000; i++ {
		src := r.Intn(10)
		body = fmt.Appendf(body, `{"timestamp":"2026-11-26T10:%02d:%02d.%06dZ","level":"%s"`, i/60%60, i%60, i, []string{"info", "warn", "error"}[i%3])
		for f := 0; f < 8; f++ {
			body = fmt.Appendf(body, `,"app%d_field%d":"value-%d"`, src, (f+src)%8, r.Intn(100000))
		}
		body = append(body, "}\n"...)
	}
	benchParse(b, body)
}
