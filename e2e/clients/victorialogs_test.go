package clients

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esutil"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/ingestd/ingestd/internal/e2e"
)

// VictoriaLogs' ingestion paths serve the same APIs, so that switching a
// shipper is a change of host: the Go Elasticsearch client with
// /insert/elasticsearch as its base, the OpenTelemetry Go SDK's exporter
// at /insert/opentelemetry/v1/logs, and Loki, Splunk HEC and Datadog
// requests under /insert/…; every record is stored once.
func TestVictoriaLogsPaths(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const tok = "vl-switch-0123456789abcdef"
	d := e2e.Start(t, dir, "auth:\n  tokens: [{name: vl, token: "+tok+"}]\nreport:\n  schedule: \"off\"\n")
	es, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{d.URL + "/insert/elasticsearch"}, APIKey: tok})
	if err != nil {
		t.Fatal(err)
	}
	bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{Client: es, Index: "vl", FlushBytes: 8 << 10, NumWorkers: 1})
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := 0; i < n; i++ {
		doc := fmt.Sprintf(`{"@timestamp":"2026-11-20T10:%02d:%02dZ","via":"es","n":%d}`, i/60%60, i%60, i)
		if err := bi.Add(context.Background(), esutil.BulkIndexerItem{Action: "create", Body: strings.NewReader(doc),
			OnFailure: func(_ context.Context, _ esutil.BulkIndexerItem, r esutil.BulkIndexerResponseItem, err error) {
				t.Errorf("item failed: %v %+v", err, r)
			}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := bi.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := bi.Stats(); s.NumFlushed != n || s.NumFailed != 0 {
		t.Fatalf("bulk indexer: %+v", s)
	}
	exp, err := otlploghttp.New(context.Background(), otlploghttp.WithEndpointURL(d.URL+"/insert/opentelemetry/v1/logs"),
		otlploghttp.WithHeaders(map[string]string{"Authorization": "Bearer " + tok}), otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false}))
	if err != nil {
		t.Fatal(err)
	}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)))
	logger := lp.Logger("vl")
	for i := 0; i < n; i++ {
		var r otellog.Record
		r.SetTimestamp(time.Date(2026, 11, 20, 11, 0, 0, i, time.UTC))
		r.SetBody(attribute.StringValue(fmt.Sprintf("otlp %d", i)))
		logger.Emit(context.Background(), r)
	}
	if err := lp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	bearer := map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
	for _, c := range []struct {
		path, body string
		hdr        map[string]string
		code       int
	}{
		{"/insert/loki/api/v1/push", `{"streams":[{"stream":{"app":"vl"},"values":[["1763636400000000000","loki line"]]}]}`, bearer, 204},
		{"/insert/splunk/services/collector/event", `{"event":"hec event","time":1763636400}`, map[string]string{"Authorization": "Splunk " + tok}, 200},
		{"/insert/datadog/api/v2/logs", `[{"message":"dd log","ddtags":"env:vl"}]`, map[string]string{"DD-API-KEY": tok, "Content-Type": "application/json"}, 202},
		{"/insert/loki/api/v1/push", `{"streams":[]}`, map[string]string{"Content-Type": "application/json"}, 401},
		{"/insert/nothing/here", `{}`, bearer, 404},
	} {
		if r := d.Post(t, c.path, []byte(c.body), c.hdr); r.Code != c.code {
			t.Errorf("%s: %d %s, want %d", c.path, r.Code, r.Body, c.code)
		}
	}
	d.Stop()
	count := map[string]int{}
	for _, l := range e2e.AllStored(t, dir) {
		count[l]++
	}
	es0, otlp0 := 0, 0
	for l, c := range count {
		if c != 1 {
			t.Errorf("stored %d times: %s", c, l)
		}
		switch {
		case strings.Contains(l, `"via":"es"`):
			es0++
		case strings.Contains(l, `"body":"otlp `):
			otlp0++
		}
	}
	all := fmt.Sprint(count)
	if es0 != n || otlp0 != n || !strings.Contains(all, `"line":"loki line"`) || !strings.Contains(all, `"event":"hec event"`) ||
		!strings.Contains(all, `"tags":{"env":"vl"}`) {
		t.Fatalf("stored %d Elasticsearch and %d OTLP records (want %d each), and:\n%s", es0, otlp0, n, all)
	}
}

// VictoriaLogs' JSON stream API, /insert/jsonline, by request shape (the
// shippers that use it send plain NDJSON): _time_field names the time
// field, "0" there means now, _msg_field's member is renamed _msg,
// _stream_fields add VictoriaLogs' _stream; the same from VL-* headers; a
// line that is no JSON object is left out and counted, the rest stored.
func TestVictoriaLogsJSONLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := e2e.Start(t, dir, "report:\n  schedule: \"off\"\n")
	body := `{"date":"2026-11-20T10:00:00Z","message":"one","app":"web","host":"h1","timestamp":"2020-01-01T00:00:00Z"}
{"date":"0","message":"now","app":"web","host":"h2","n":1}
not json
{"date":1763632800,"msg":"no message field","app":"api"}
`
	r := d.Post(t, "/insert/jsonline?_time_field=date&_msg_field=message,msg&_stream_fields=app,host", []byte(body), nil)
	if r.Code != 200 || !strings.Contains(r.Body, `"accepted":3,"rejected":1`) {
		t.Fatalf("jsonline: %d %s", r.Code, r.Body)
	}
	r = d.Post(t, "/insert/jsonline", []byte(`{"when":"2026-11-21T00:00:00Z","text":"by headers","svc":"x"}`+"\n"),
		map[string]string{"VL-Time-Field": "when", "VL-Msg-Field": "text", "VL-Stream-Fields": "svc"})
	if r.Code != 200 || !strings.Contains(r.Body, `"accepted":1`) {
		t.Fatalf("jsonline with headers: %d %s", r.Code, r.Body)
	}
	d.Stop()
	byMsg := map[string]string{}
	for day, lines := range e2e.Stored(t, dir) {
		for _, l := range lines {
			var v map[string]any
			if err := json.Unmarshal([]byte(l), &v); err != nil {
				t.Fatalf("%s: %v", l, err)
			}
			byMsg[fmt.Sprint(v["_msg"])] = day + " " + l
		}
	}
	today := "dt=" + time.Now().UTC().Format(time.DateOnly)
	for msg, want := range map[string][]string{
		"one":              {"dt=2026-11-20", `"_msg":"one"`, `"_stream":"{app=\"web\",host=\"h1\"}"`, `"timestamp":"2020-01-01T00:00:00Z"`},
		"now":              {today, `"_msg":"now"`, `"timestamp":"`},
		"no message field": {"dt=2025-11-20", `"date":1763632800`, `"_stream":"{app=\"api\"}"`},
		"by headers":       {"dt=2026-11-21", `"_stream":"{svc=\"x\"}"`},
	} {
		got := byMsg[msg]
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("record %q: %s lacks %s", msg, got, w)
			}
		}
	}
	if strings.Contains(byMsg["now"], `"date"`) {
		t.Errorf(`"date":"0" was kept: %s`, byMsg["now"])
	}
	if len(byMsg) != 4 {
		t.Errorf("stored %d records, want 4: %v", len(byMsg), byMsg)
	}
}
