package otlp

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/ingestd/ingestd/ingest/adapter"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
)

func sampleRequest() []byte {
	logs := plog.NewLogs()
	rl := logs.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "svc")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("scope")
	lr := sl.LogRecords().AppendEmpty()
	lr.Body().SetEmptyMap().PutInt("n", 1)
	lr.Attributes().PutEmptySlice("s").AppendEmpty().SetDouble(1.5)
	lr.SetSeverityNumber(plog.SeverityNumberInfo)
	b, _ := plogotlp.NewExportRequestFromLogs(logs).MarshalProto()
	return b
}

// FuzzRecords: any body decodes to an error or to records that are each one
// JSON object per line (when their strings are valid UTF-8, which the core
// checks); never a panic.
func FuzzRecords(f *testing.F) {
	f.Add(sampleRequest(), false)
	f.Add([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"kvlistValue":{"values":[{"key":"a","value":{"doubleValue":"NaN"}}]}}}]}]}]}`), true)
	f.Add([]byte{0x0a, 0x02, 0x12, 0x00}, false)
	f.Fuzz(func(t *testing.T, body []byte, js bool) {
		enc := Protobuf
		if js {
			enc = JSON
		}
		out, e := Records(nil, body, enc, Mapping{})
		if e != nil {
			if len(out) != 0 {
				t.Fatalf("records %q with error %v", out, e)
			}
			return
		}
		for _, line := range bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n")) {
			if len(out) == 0 {
				break
			}
			if utf8.Valid(line) && !json.Valid(line) {
				t.Fatalf("not JSON: %s", line)
			}
		}
	})
}

func TestErrorShapes(t *testing.T) {
	for _, enc := range []Encoding{Protobuf, JSON} {
		r := Error(&intakeErr507, enc)
		if r.Status != 503 || len(r.Header) < 2 || r.Header[0] != "Retry-After" {
			t.Errorf("a full disk: %+v, want a retryable 503 with Retry-After", r)
		}
	}
}

var intakeErr507 = intakeError(507)

func intakeError(status int) adapter.Error {
	return adapter.Error{Status: status, Code: adapter.CodeDiskFull, Message: "disk full"}
}
