package record

import (
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/sample"
)

// BenchmarkParse measures the per-request hot path on one core: validate,
// find and parse the timestamp, compact, append to the batch.
func BenchmarkParse(b *testing.B) {
	body := sample.Logs(1000)
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
