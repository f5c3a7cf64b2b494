package httpapi

import (
	"bytes"
	"compress/gzip"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"

	"github.com/ingestd/ingestd/internal/sample"
	"github.com/ingestd/ingestd/record"
	"github.com/ingestd/ingestd/segment"
)

// BenchmarkRequestPath adds what a request costs besides parsing: body
// decoding with a pooled decoder, then the WAL entry. "frames" is today's
// path (each day's share compressed once into zstd frames, as the segment
// block keeps them); "s2+block" is the path before format 2 (a format 1
// entry, s2 for the WAL, and the same bytes' zstd block made later on a
// flush worker), for comparison. Allocations are per request.
func BenchmarkRequestPath(b *testing.B) {
	body := sample.Logs(1000)
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(body)
	w.Close()
	enc, err := segment.NewEncoder(segment.LevelFastest)
	if err != nil {
		b.Fatal(err)
	}
	framing := record.Framing{Min: 16 << 10, Span: 64 << 10} // as ingest/store
	for _, path := range []string{"frames", "s2+block"} {
		for _, ce := range []string{"identity", "gzip"} {
			b.Run(path+"/"+ce, func(b *testing.B) {
				wire := body
				if ce == "gzip" {
					wire = gz.Bytes()
				}
				var dec decoders
				var sc record.EntryScratch
				p := record.NewParser(record.DefaultRules())
				batch := &record.Batch{}
				var payload, comp, block []byte
				now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					raw, bp, err := dec.decode([]byte(ce), wire, 64<<20)
					if err != nil {
						b.Fatal(err)
					}
					batch.Reset()
					if re := p.Parse(raw, now, false, batch); re != nil {
						b.Fatal(re)
					}
					if path == "frames" {
						payload, _, _ = record.AppendFramedEntry(payload[:0], batch, enc, framing, &sc)
					} else {
						payload = record.AppendPlainEntry(payload[:0], batch)
						comp = s2.Encode(comp[:cap(comp)], payload)
						block, _ = enc.AppendBlock(block[:0], segment.BlockMeta{Records: uint32(len(batch.Recs))}, batch.Buf)
					}
					dec.put(bp)
				}
				b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "records/s")
			})
		}
	}
}
