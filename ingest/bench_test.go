package ingest

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
)

// logBody returns n ≈280-byte log records as NDJSON, like the DESIGN targets.
func logBody(n int) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `{"timestamp":"2026-11-26T10:%02d:%02d.%06dZ","level":"%s","service":"checkout-%d","host":"node-%03d.eu-west-1","method":"GET","path":"/api/v2/orders/%d/items","status":%d,"duration_ms":%d.%03d,"bytes":%d,"user_id":"u-%08d","trace_id":"%016x","msg":"request completed"}`+"\n",
			i/60%60, i%60, i%1000000, []string{"info", "warn", "error", "debug"}[i%4], i%12, i%200, i*7919%100000, []int{200, 201, 404, 500}[i%4], i%900, i%1000, 1000+i%50000, i*31%10000000, uint64(i)*0x9E3779B97F4A7C15)
	}
	return b.Bytes()
}

// BenchmarkParse measures the per-request hot path on one core: validate,
// find and parse the timestamp, compact, append to the batch.
func BenchmarkParse(b *testing.B) {
	body := logBody(1000)
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

// BenchmarkRequestPath adds what a request costs besides parsing: gzip body
// decoding with a pooled decoder, WAL entry encoding and s2 compression.
func BenchmarkRequestPath(b *testing.B) {
	body := logBody(1000)
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(body)
	w.Close()
	for _, enc := range []string{"identity", "gzip"} {
		b.Run(enc, func(b *testing.B) {
			wire := body
			if enc == "gzip" {
				wire = gz.Bytes()
			}
			var dec decoders
			p := NewParser(DefaultRules())
			batch := &Batch{}
			var payload, comp []byte
			now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				raw, bp, err := dec.decode([]byte(enc), wire, 64<<20)
				if err != nil {
					b.Fatal(err)
				}
				batch.Reset()
				if re := p.Parse(raw, now, false, batch); re != nil {
					b.Fatal(re)
				}
				payload = appendEntry(payload[:0], batch)
				comp = s2.Encode(comp[:cap(comp)], payload)
				dec.put(bp)
			}
			b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

func BenchmarkApply(b *testing.B) {
	st := testStore(&testing.T{}, 4<<20)
	body := logBody(1000)
	batch := &Batch{}
	NewParser(DefaultRules()).Parse(body, time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC), false, batch)
	b.SetBytes(int64(len(batch.Buf)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		st.applyRecs(uint64(i+1), batch.Buf, batch.Recs, nil)
		for _, d := range st.days {
			d.buf, d.marks = d.buf[:0], d.marks[:0]
		}
	}
}
