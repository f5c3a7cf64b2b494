package clients

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/e2e"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protowire"
)

// otlpStored is one stored OTLP record, as the README documents the mapping.
type otlpStored struct {
	Timestamp      string         `json:"timestamp"`
	SeverityText   string         `json:"severity_text"`
	SeverityNumber int            `json:"severity_number"`
	Body           any            `json:"body"`
	Attributes     map[string]any `json:"attributes"`
	Resource       map[string]any `json:"resource"`
	Scope          struct {
		Name, Version string
	} `json:"scope"`
	TraceID   string `json:"trace_id"`
	SpanID    string `json:"span_id"`
	Flags     int    `json:"flags"`
	EventName string `json:"event_name"`
}

// The official OpenTelemetry Go SDK (sdk/log with the otlploghttp exporter,
// protobuf, gzip) sends to the real daemon; every record is stored once with
// its mapped fields.
func TestOTLPGoSDKExporter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	// The SDK sends to the second listener (otlp.listen), as a client
	// configured for OTLP's port would.
	d := e2e.Start(t, dir, "auth:\n  tokens: [{name: otel-app, token: otel-token-0123456789}]\notlp:\n  listen: 127.0.0.1:0\nreport:\n  schedule: \"off\"\n")
	m := regexp.MustCompile(`msg="listening for OTLP/HTTP" addr=(\S+)`).FindStringSubmatch(d.Log.String())
	if m == nil {
		t.Fatalf("no OTLP listener in the log:\n%s", d.Log)
	}
	exp, err := otlploghttp.New(ctx, otlploghttp.WithEndpointURL("http://"+m[1]+"/v1/logs"), otlploghttp.WithCompression(otlploghttp.GzipCompression),
		otlploghttp.WithHeaders(map[string]string{"Authorization": "Bearer otel-token-0123456789"}),
		otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false}))
	if err != nil {
		t.Fatal(err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", "checkout"), attribute.Int("service.instance", 3))
	// The simple processor exports each record at once and returns the
	// export's error: a refusal cannot hide in a background queue.
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)), sdklog.WithResource(res))
	logger := lp.Logger("shop/cart", otellog.WithInstrumentationVersion("1.4.2"))
	base := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	const n = 300
	for i := 0; i < n; i++ {
		var r otellog.Record
		r.SetTimestamp(base.Add(time.Duration(i) * 1234567 * time.Nanosecond))
		r.SetSeverity(otellog.SeverityWarn)
		r.SetSeverityText("WARN")
		if i%2 == 0 {
			r.SetBody(attribute.StringValue(fmt.Sprintf("cart %d updated", i)))
		} else {
			r.SetBody(attribute.MapValue(attribute.Int("items", i), attribute.String("note", "é \"quoted\"")))
		}
		r.AddAttributes(attribute.Int("i", i), attribute.Float64("price", float64(i)+0.25), attribute.Bool("gift", i%3 == 0),
			attribute.StringSlice("tags", []string{"a", fmt.Sprint(i)}))
		if i == 7 {
			r.SetEventName("cart.checkout")
		}
		ectx := ctx
		if i%10 == 0 {
			sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1, 2, 3, byte(i)}, SpanID: trace.SpanID{9, 8, 7, byte(i)}, TraceFlags: trace.FlagsSampled})
			ectx = trace.ContextWithSpanContext(ctx, sc)
		}
		logger.Emit(ectx, r)
	}
	if err := lp.Shutdown(ctx); err != nil {
		t.Fatalf("exporter: %v", err)
	}
	d.Stop()

	got := map[int]otlpStored{}
	for _, line := range e2e.AllStored(t, dir) {
		var s otlpStored
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("stored line %s: %v", line, err)
		}
		i := int(s.Attributes["i"].(float64))
		if _, dup := got[i]; dup {
			t.Fatalf("record %d stored twice", i)
		}
		got[i] = s
	}
	if len(got) != n {
		t.Fatalf("stored %d records, want %d", len(got), n)
	}
	for i, s := range got {
		want := base.Add(time.Duration(i) * 1234567 * time.Nanosecond).Format(time.RFC3339Nano)
		if s.Timestamp != want || s.SeverityText != "WARN" || s.SeverityNumber != int(otellog.SeverityWarn) ||
			s.Resource["service.name"] != "checkout" || s.Resource["service.instance"] != 3.0 ||
			s.Scope.Name != "shop/cart" || s.Scope.Version != "1.4.2" || s.Attributes["price"] != float64(i)+0.25 ||
			s.Attributes["gift"] != (i%3 == 0) || fmt.Sprint(s.Attributes["tags"]) != fmt.Sprintf("[a %d]", i) {
			t.Fatalf("record %d: %+v", i, s)
		}
		if i%2 == 0 && s.Body != fmt.Sprintf("cart %d updated", i) {
			t.Fatalf("record %d body %v", i, s.Body)
		}
		if m, ok := s.Body.(map[string]any); i%2 == 1 && (!ok || m["items"] != float64(i) || m["note"] != "é \"quoted\"") {
			t.Fatalf("record %d body %v", i, s.Body)
		}
		if wantTrace := fmt.Sprintf("010203%02x000000000000000000000000", byte(i)); i%10 == 0 && (s.TraceID != wantTrace || s.SpanID != fmt.Sprintf("090807%02x00000000", byte(i)) || s.Flags != 1) {
			t.Fatalf("record %d trace %q span %q flags %d", i, s.TraceID, s.SpanID, s.Flags)
		}
		if (i == 7) != (s.EventName == "cart.checkout") {
			t.Fatalf("record %d event name %q", i, s.EventName)
		}
	}
}

// OTLP/HTTP in JSON (what the Collector's otlphttp exporter sends with
// encoding: json): hex ids, int64 as strings, enums as numbers, unknown
// fields ignored; refusals are a google.rpc.Status in the request's
// encoding, and records the rules refuse go into partial_success.
func TestOTLPJSONAndErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := e2e.Start(t, dir, "report:\n  schedule: \"off\"\n")
	post := func(ct string, body []byte) e2e.Reply {
		return d.Post(t, "/v1/logs", body, map[string]string{"Content-Type": ct})
	}
	js := `{"resourceLogs":[{"resource":{"attributes":[{"key":"host.name","value":{"stringValue":"web-1"}}]},"unknownField":1,
	  "scopeLogs":[{"scope":{"name":"json-scope"},"logRecords":[
	    {"timeUnixNano":"1793700000123456789","severityNumber":17,"severityText":"ERROR","body":{"stringValue":"boom"},
	     "attributes":[{"key":"n","value":{"intValue":"9007199254740993"}}],"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","flags":1},
	    {"observedTimeUnixNano":1793700001000000000,"body":{"bytesValue":"aGk="}}]}]}]}`
	r := post("application/json", []byte(js))
	if r.Code != 200 || r.Hdr.Get("Content-Type") != "application/json" || r.Body != "{}" && !strings.Contains(r.Body, "partialSuccess") {
		t.Fatalf("JSON export: %d %q %s", r.Code, r.Hdr.Get("Content-Type"), r.Body)
	}
	// A record with invalid UTF-8 in a string field, beside a good one:
	// partial success, the good one stored.
	logs := plog.NewLogs()
	lrs := logs.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	good := lrs.AppendEmpty()
	good.Body().SetStr("fine")
	good.Attributes().PutStr("which", "good")
	bad := lrs.AppendEmpty()
	bad.Body().SetStr("bad \xff utf-8")
	pb, err := plogotlp.NewExportRequestFromLogs(logs).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	r = post("application/x-protobuf", pb)
	resp := plogotlp.NewExportResponse()
	if r.Code != 200 || resp.UnmarshalProto([]byte(r.Body)) != nil || resp.PartialSuccess().RejectedLogRecords() != 1 || !strings.Contains(resp.PartialSuccess().ErrorMessage(), "UTF-8") {
		t.Fatalf("partial success: %d %q (%d rejected, %q)", r.Code, r.Body, resp.PartialSuccess().RejectedLogRecords(), resp.PartialSuccess().ErrorMessage())
	}
	// Refusals, each a google.rpc.Status; nothing of them is stored.
	status := func(b []byte) (code int64, msg string) {
		for len(b) > 0 {
			num, typ, n := protowire.ConsumeTag(b)
			b = b[n:]
			switch {
			case num == 1 && typ == protowire.VarintType:
				v, n := protowire.ConsumeVarint(b)
				code, b = int64(v), b[n:]
			case num == 2 && typ == protowire.BytesType:
				v, n := protowire.ConsumeString(b)
				msg, b = v, b[n:]
			default:
				return -1, "bad Status"
			}
		}
		return code, msg
	}
	if r := post("application/x-protobuf", pb[:len(pb)-3]); r.Code != 400 {
		t.Fatalf("truncated protobuf: %d %s", r.Code, r.Body)
	} else if c, m := status([]byte(r.Body)); c != 3 || !strings.Contains(m, "cannot decode") {
		t.Fatalf("truncated protobuf: status %d %q", c, m)
	}
	if r := post("text/plain", pb); r.Code != 415 {
		t.Fatalf("wrong content type: %d %s", r.Code, r.Body)
	}
	if r := post("application/json", []byte(`{"resourceLogs":[{`)); r.Code != 400 || !strings.Contains(r.Body, `"code":3`) {
		t.Fatalf("truncated JSON: %d %s", r.Code, r.Body)
	}
	// Over http.max_body: refused before the body is sent (Expect:
	// 100-continue, as the Collector's HTTP client does for large bodies).
	big := bytes.Repeat([]byte("x"), 65<<20)
	if r := d.Post(t, "/v1/logs", big, map[string]string{"Content-Type": "application/x-protobuf", "Expect": "100-continue"}); r.Code != 413 {
		t.Fatalf("oversized: %d %.200s", r.Code, r.Body)
	} else if c, m := status([]byte(r.Body)); c != 8 || !strings.Contains(m, "over the limit") {
		t.Fatalf("oversized: status %d %q", c, m)
	}
	d.Stop()

	var lines []string
	for _, l := range e2e.AllStored(t, dir) {
		lines = append(lines, l)
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{
		`{"timestamp":"2026-11-03T10:00:00.123456789Z","severity_text":"ERROR","severity_number":17,"body":"boom","attributes":{"n":9007199254740993},"resource":{"host.name":"web-1"},"scope":{"name":"json-scope"},"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331","flags":1}`,
		`{"timestamp":"2026-11-03T10:00:01Z","body":"aGk=","resource":{"host.name":"web-1"},"scope":{"name":"json-scope"}}`,
		`{"body":"fine","attributes":{"which":"good"},"timestamp":"`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("stored records lack %s\n%s", want, all)
		}
	}
	if len(lines) != 3 {
		t.Errorf("stored %d records, want 3:\n%s", len(lines), all)
	}
}

// otlp.resource: flat stores the resource attributes as top-level
// "resource.<key>" members, from protobuf and JSON bodies alike.
func TestOTLPFlatResource(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := e2e.Start(t, dir, "otlp:\n  resource: flat\nreport:\n  schedule: \"off\"\n")
	logs := plog.NewLogs()
	rl := logs.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "billing")
	rl.Resource().Attributes().PutInt("replica", 2)
	rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("from protobuf")
	pb, _ := plogotlp.NewExportRequestFromLogs(logs).MarshalProto()
	if r := d.Post(t, "/v1/logs", pb, map[string]string{"Content-Type": "application/x-protobuf"}); r.Code != 200 {
		t.Fatalf("protobuf: %d %s", r.Code, r.Body)
	}
	rl.ScopeLogs().At(0).LogRecords().At(0).Body().SetStr("from JSON")
	js, _ := plogotlp.NewExportRequestFromLogs(logs).MarshalJSON()
	if r := d.Post(t, "/v1/logs", js, map[string]string{"Content-Type": "application/json"}); r.Code != 200 {
		t.Fatalf("JSON: %d %s", r.Code, r.Body)
	}
	d.Stop()
	lines := e2e.AllStored(t, dir)
	if len(lines) != 2 {
		t.Fatalf("stored %d records: %v", len(lines), lines)
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		if m["resource.service.name"] != "billing" || m["resource.replica"] != 2.0 || m["resource"] != nil {
			t.Fatalf("stored %s: want resource.service.name and resource.replica at the top", l)
		}
	}
}
