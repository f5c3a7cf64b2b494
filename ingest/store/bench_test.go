package store

import (
	"testing"
	"time"

	"github.com/ingestd/ingestd/record"

	"github.com/ingestd/ingestd/internal/sample"
)

func BenchmarkApply(b *testing.B) {
	st := testStore(&testing.T{}, 4<<20)
	body := sample.Logs(1000)
	batch := &record.Batch{}
	record.NewParser(record.DefaultRules()).Parse(body, time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC), false, batch)
	b.SetBytes(int64(len(batch.Buf)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		st.apply(uint64(i+1), record.AppendPlainEntry(nil, batch), nil)
		for _, d := range st.days {
			d.buf, d.marks = d.buf[:0], d.marks[:0]
		}
	}
}
