package bench

import (
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
)

// An OTLP workload sends the same records as the native one: request i
// holds ids i*batch.., each record's fields as attributes (id first), its
// timestamp as time_unix_nano and its msg as the body.
func TestOTLPWorkload(t *testing.T) {
	now := time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC)
	w := Workload{Seed: 3, Shape: ShapeLogs, Batch: 50, Form: "ndjson", Compression: "none", Days: 1, Protocol: ProtocolOTLP}
	g, err := NewGenerator(w, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int64{0, 7, 123456} {
		r := g.Request(i)
		req := plogotlp.NewExportRequest()
		if err := req.UnmarshalProto(r.Body); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		lrs := req.Logs().ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
		if lrs.Len() != 50 {
			t.Fatalf("request %d: %d records", i, lrs.Len())
		}
		for j := 0; j < lrs.Len(); j++ {
			lr := lrs.At(j)
			var first string
			lr.Attributes().Range(func(k string, v pcommon.Value) bool { first = k + "=" + v.AsString(); return false })
			if want := fmt.Sprintf("id=%012d", i*50+int64(j)); first != want {
				t.Fatalf("request %d record %d: first attribute %s, want %s", i, j, first, want)
			}
			ts := lr.Timestamp().AsTime()
			if ts.After(now) || ts.Before(now.Add(-24*time.Hour)) || lr.Body().Str() != "request completed" {
				t.Fatalf("record %d: timestamp %v, body %q", j, ts, lr.Body().Str())
			}
			if _, dup := lr.Attributes().Get("msg"); dup {
				t.Fatal("msg is both the body and an attribute")
			}
		}
	}
	if _, err := NewGenerator(Workload{Seed: 1, Shape: ShapeLogs, Batch: 5, Form: "ndjson", Compression: "none", Days: 1, Protocol: ProtocolOTLP, Invalid: 0.1}, now); err == nil {
		t.Fatal("otlp with invalid records accepted")
	}
}

// The accepted count of an OTLP answer: the batch less partial_success's
// rejected records.
func TestOTLPAccepted(t *testing.T) {
	ok, _ := plogotlp.NewExportResponse().MarshalProto()
	if n := otlpAccepted(ok, 1000); n != 1000 {
		t.Fatalf("full success: %d", n)
	}
	r := plogotlp.NewExportResponse()
	r.PartialSuccess().SetRejectedLogRecords(3)
	r.PartialSuccess().SetErrorMessage("3 log records refused")
	b, _ := r.MarshalProto()
	if n := otlpAccepted(b, 1000); n != 997 {
		t.Fatalf("partial success: %d", n)
	}
	if n := otlpAccepted([]byte{0x0a, 0x05}, 10); n != -1 {
		t.Fatalf("truncated answer: %d", n)
	}

}
