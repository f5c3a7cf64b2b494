package clients

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/e2e"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
)

// Every write counts once in ingestd_protocol_requests_total under its
// protocol, producer and outcome, and its records under the protocol and
// producer: native, Elasticsearch, Loki, OTLP, HEC and syslog alike.
func TestProtocolMetrics(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := e2e.Start(t, dir, "auth:\n  tokens: [{name: app, token: app-token-0123456789}, {name: shipper, token: shipper-token-0123456789}]\n"+
		"syslog:\n  listen_tcp: 127.0.0.1:0\n  token: shipper-token-0123456789\nreport:\n  schedule: \"off\"\n")
	app := map[string]string{"Authorization": "Bearer app-token-0123456789"}
	ship := func(ct string) map[string]string {
		return map[string]string{"Authorization": "Bearer shipper-token-0123456789", "Content-Type": ct}
	}
	before := e2e.Scrape(t, d)
	for _, p := range []string{"native", "elasticsearch", "loki", "otlp", "hec", "syslog"} {
		if _, ok := before[`ingestd_protocol_requests_total{outcome="ok",producer="app",protocol="`+p+`"}`]; !ok {
			t.Fatalf("no %s series for producer app before any write", p)
		}
	}
	expect := func(code int, r e2e.Reply) {
		t.Helper()
		if r.Code != code {
			t.Fatalf("answer %d %s, want %d", r.Code, r.Body, code)
		}
	}
	expect(200, d.Post(t, "/v1/ingest", []byte("{\"a\":1}\n{\"a\":2}\n"), app))
	expect(400, d.Post(t, "/v1/ingest", []byte("{\"a\":1}\nnot json\n"), app))
	expect(200, d.Post(t, "/v1/ingest?invalid=skip", []byte("{\"a\":1}\nnot json\n"), app))
	expect(200, d.Post(t, "/_bulk", []byte("{\"create\":{}}\n{\"b\":1}\n{\"create\":{}}\n{\"b\":2}\n{\"create\":{}}\n{\"b\":3}\n"), ship("application/x-ndjson")))
	expect(204, d.Post(t, "/loki/api/v1/push", []byte(`{"streams":[{"stream":{"job":"x"},"values":[["1793700000000000000","l"]]}]}`), ship("application/json")))
	expect(401, d.Post(t, "/loki/api/v1/push", []byte(`{"streams":[]}`), map[string]string{"Authorization": "Bearer wrong-token-0123456789", "Content-Type": "application/json"}))
	logs := plog.NewLogs()
	lrs := logs.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for i := 0; i < 4; i++ {
		lrs.AppendEmpty().Body().SetStr(fmt.Sprint("otlp ", i))
	}
	lrs.AppendEmpty().Body().SetStr("bad \xff")
	pb, _ := plogotlp.NewExportRequestFromLogs(logs).MarshalProto()
	expect(200, d.Post(t, "/v1/logs", pb, ship("application/x-protobuf")))
	expect(400, d.Post(t, "/v1/logs", pb[:len(pb)-2], ship("application/x-protobuf")))
	expect(200, d.Post(t, "/services/collector/event", []byte(`{"event":"h1"}{"event":"h2"}`), map[string]string{"Authorization": "Splunk app-token-0123456789"}))
	c, err := net.Dial("tcp", listenerAddr(t, d, `msg="listening for syslog" transport=tcp addr=(\S+)`))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "<13>1 2026-11-03T10:00:00Z host app - - - one\n<13>1 2026-11-03T10:00:01Z host app - - - two\n")
	c.Close()

	want := map[string]float64{
		`ingestd_protocol_requests_total{outcome="ok",producer="app",protocol="native"}`:             2,
		`ingestd_protocol_requests_total{outcome="invalid",producer="app",protocol="native"}`:        1,
		`ingestd_protocol_records_total{producer="app",protocol="native"}`:                           3,
		`ingestd_protocol_records_rejected_total{producer="app",protocol="native"}`:                  1,
		`ingestd_protocol_requests_total{outcome="ok",producer="shipper",protocol="elasticsearch"}`:  1,
		`ingestd_protocol_records_total{producer="shipper",protocol="elasticsearch"}`:                3,
		`ingestd_protocol_requests_total{outcome="ok",producer="shipper",protocol="loki"}`:           1,
		`ingestd_protocol_requests_total{outcome="unauthorized",producer="unknown",protocol="loki"}`: 1,
		`ingestd_protocol_requests_total{outcome="ok",producer="shipper",protocol="otlp"}`:           1,
		`ingestd_protocol_requests_total{outcome="invalid",producer="shipper",protocol="otlp"}`:      1,
		`ingestd_protocol_records_total{producer="shipper",protocol="otlp"}`:                         4,
		`ingestd_protocol_records_rejected_total{producer="shipper",protocol="otlp"}`:                1,
		`ingestd_protocol_records_total{producer="app",protocol="hec"}`:                              2,
		`ingestd_protocol_records_total{producer="shipper",protocol="syslog"}`:                       2,
		`ingestd_protocol_requests_total{outcome="ok",producer="app",protocol="elasticsearch"}`:      0,
		`ingestd_protocol_records_rejected_total{producer="shipper",protocol="elasticsearch"}`:       0,
	}
	var got map[string]float64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		got = e2e.Scrape(t, d)
		if got[`ingestd_protocol_records_total{producer="shipper",protocol="syslog"}`] == 2 || time.Now().After(deadline) {
			break
		}
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (exported: %v), want %v", k, g, ok, v)
		}
	}
	d.Stop()
}
