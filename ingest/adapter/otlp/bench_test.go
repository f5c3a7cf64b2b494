package otlp

import (
	"bytes"
	"encoding/json"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/ingestd/ingestd/ingest/adapter"
	"github.com/ingestd/ingestd/internal/sample"
)

// otlpSample is the benchmarks' 1000 log records (internal/sample) as one
// ExportLogsServiceRequest: each record's fields become attributes, its
// msg the body; integers are OTLP ints and decimals doubles, as SDKs and
// ingest-bench send them.
func otlpSample(tb testing.TB) []byte {
	logs := plog.NewLogs()
	lrs := logs.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for _, line := range bytes.Split(bytes.TrimSpace(sample.Logs(1000)), []byte("\n")) {
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			tb.Fatal(err)
		}
		for k, v := range m { // integers as OTLP ints, as SDKs send them
			if n, ok := v.(json.Number); ok {
				if i, err := n.Int64(); err == nil {
					m[k] = i
				} else if f, err := n.Float64(); err == nil {
					m[k] = f
				}
			}
		}
		lr := lrs.AppendEmpty()
		lr.SetTimestamp(pcommon.Timestamp(1793700000e9))
		lr.Body().SetStr(m["msg"].(string))
		delete(m, "msg")
		delete(m, "timestamp")
		if err := lr.Attributes().FromRaw(m); err != nil {
			tb.Fatal(err)
		}
	}
	b, err := plogotlp.NewExportRequestFromLogs(logs).MarshalProto()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// BenchmarkRecords measures the adapter on one core: protobuf decoding and
// the mapping to JSON records, by the wire decoder (what the daemon runs)
// and by pdata (the reference, and the JSON path); the core's record parse
// comes on top, as for /v1/ingest: record.BenchmarkParse.
func BenchmarkRecords(b *testing.B) {
	body := otlpSample(b)
	b.Run("wire", func(b *testing.B) {
		var dst []byte
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			var e *adapter.Error
			if dst, e = Records(dst[:0], body, Protobuf, Mapping{}); e != nil {
				b.Fatal(e)
			}
		}
		b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("pdata", func(b *testing.B) {
		var dst []byte
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			req := plogotlp.NewExportRequest()
			if err := req.UnmarshalProto(body); err != nil {
				b.Fatal(err)
			}
			var err error
			if dst, err = appendLogs(dst[:0], req.Logs(), Mapping{}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "records/s")
	})
}
