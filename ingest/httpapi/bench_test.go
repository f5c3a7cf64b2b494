package httpapi

import (
	"bytes"
	"compress/gzip"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"

	"github.com/ingestd/ingestd/internal/sample"
	"github.com/ingestd/ingestd/record"
)

// BenchmarkRequestPath adds what a request costs besides parsing: gzip body
// decoding with a pooled decoder, WAL entry encoding and s2 compression.
func BenchmarkRequestPath(b *testing.B) {
	body := sample.Logs(1000)
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
			p := record.NewParser(record.DefaultRules())
			batch := &record.Batch{}
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
				payload = record.AppendEntry(payload[:0], batch)
				comp = s2.Encode(comp[:cap(comp)], payload)
				dec.put(bp)
			}
			b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
