package clients

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/e2e"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"
	"github.com/elastic/go-elasticsearch/v8/esutil"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types"
	"github.com/grafana/loki/pkg/push"
	"github.com/ingestd/ingestd/internal/testenv"
	"github.com/klauspost/compress/snappy"
)

// storedByField maps a field's value to how many stored records have it.
func storedByField(t *testing.T, dir, field string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, line := range e2e.AllStored(t, dir) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("stored line %s: %v", line, err)
		}
		if v, ok := m[field]; ok {
			out[fmt.Sprint(v)]++
		}
	}
	return out
}

// The official Go Elasticsearch client checks the product header, then
// BulkIndexer sends documents with index and create actions.
func TestElasticsearchGoClientBulkIndexer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := e2e.Start(t, dir, "auth:\n  tokens: [{name: es-client, token: es-token-0123456789ab}]\nreport:\n  schedule: \"off\"\n")
	es, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{d.URL}, APIKey: "es-token-0123456789ab", CompressRequestBody: true})
	if err != nil {
		t.Fatal(err)
	}
	info, err := es.Info()
	if err != nil || info.IsError() {
		t.Fatalf("info: %v %v", err, info)
	}
	info.Body.Close()
	var okN, failN atomic.Int64
	bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{Client: es, Index: "app-logs", FlushBytes: 64 << 10, NumWorkers: 2})
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	for i := 0; i < n; i++ {
		action := "index"
		if i%3 == 0 {
			action = "create"
		}
		doc := fmt.Sprintf(`{"@timestamp":"2026-11-20T10:%02d:%02dZ","n":%d,"message":"hello %d"}`, i/60%60, i%60, i, i)
		if i == 7 {
			doc = `{"@timestamp":"not a time","n":7}` // refused per item
		}
		err := bi.Add(context.Background(), esutil.BulkIndexerItem{Action: action, DocumentID: fmt.Sprintf("doc-%d", i), Body: strings.NewReader(doc),
			OnSuccess: func(context.Context, esutil.BulkIndexerItem, esutil.BulkIndexerResponseItem) { okN.Add(1) },
			OnFailure: func(_ context.Context, it esutil.BulkIndexerItem, r esutil.BulkIndexerResponseItem, err error) {
				if it.DocumentID != "doc-7" || r.Status != 400 {
					t.Errorf("unexpected failure %s: %d %v %v", it.DocumentID, r.Status, r.Error, err)
				}
				failN.Add(1)
			}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := bi.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if okN.Load() != n-1 || failN.Load() != 1 {
		t.Fatalf("client saw %d ok, %d failed", okN.Load(), failN.Load())
	}
	d.Stop()
	ids := storedByField(t, dir, "_id")
	if len(ids) != n-1 || ids["doc-7"] != 0 || ids["doc-0"] != 1 {
		t.Fatalf("stored %d distinct ids (doc-7: %d)", len(ids), ids["doc-7"])
	}
	for id, c := range ids {
		if c != 1 {
			t.Fatalf("%s stored %d times", id, c)
		}
	}
	if idx := storedByField(t, dir, "_index"); idx["app-logs"] != n-1 {
		t.Fatalf("_index: %v", idx)
	}
}

// Request shapes as the shippers send them (from their documentation and
// source): the handshake calls first, then the bulk or HTTP bodies.
func TestShipperRequestShapes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := e2e.Start(t, dir, "report:\n  schedule: \"off\"\n")
	ts := func(i int) string { return fmt.Sprintf("2026-11-20T11:00:%02d.000Z", i) }
	shots := []struct {
		shipper string
		shot    shot
		docs    int // records the shot stores
	}{
		// Filebeat 8 (output.elasticsearch): version, license, template and ILM
		// setup, then gzip _bulk with "create" actions to a data stream.
		{"filebeat", shot{"GET", "/", "", "", "", 200}, 0},
		{"filebeat", shot{"GET", "/_license?human=false", "", "", "", 200}, 0},
		{"filebeat", shot{"HEAD", "/_index_template/filebeat-8.11.0", "", "", "", 200}, 0},
		{"filebeat", shot{"PUT", "/_index_template/filebeat-8.11.0", "application/json", "", `{"index_patterns":["filebeat-8.11.0"],"data_stream":{}}`, 200}, 0},
		{"filebeat", shot{"GET", "/_ilm/policy/filebeat", "", "", "", 200}, 0},
		{"filebeat", shot{"POST", "/_bulk", "application/json", "gzip",
			`{"create":{"_index":"filebeat-8.11.0"}}` + "\n" + `{"@timestamp":"` + ts(1) + `","message":"fb one","agent":{"type":"filebeat"},"shipper":"filebeat"}` + "\n" +
				`{"create":{"_index":"filebeat-8.11.0"}}` + "\n" + `{"@timestamp":"` + ts(2) + `","message":"fb two","shipper":"filebeat"}` + "\n", 200}, 2},
		// Fluent Bit (out es): _bulk with "index" actions, Logstash_Format index names, @timestamp.
		{"fluent-bit-es", shot{"POST", "/_bulk", "application/x-ndjson", "",
			`{"index":{"_index":"logstash-2026.11.20"}}` + "\n" + `{"@timestamp":"` + ts(3) + `","log":"fluent es","shipper":"fluent-bit-es"}` + "\n", 200}, 1},
		// Fluent Bit (out http, format json): a JSON array, date as epoch seconds.
		{"fluent-bit-http", shot{"POST", "/v1/ingest", "application/json", "",
			`[{"date":1763636404.123,"log":"fluent http 1","shipper":"fluent-bit-http"},{"date":1763636405.5,"log":"fluent http 2","shipper":"fluent-bit-http"}]`, 200}, 2},
		// Vector (sink elasticsearch, mode bulk): version probe, then _bulk with "index" and gzip.
		{"vector-es", shot{"GET", "/", "", "", "", 200}, 0},
		{"vector-es", shot{"POST", "/_bulk", "application/x-ndjson", "gzip",
			`{"index":{"_index":"vector-2026.11.20"}}` + "\n" + `{"timestamp":"` + ts(6) + `","message":"vector es","shipper":"vector-es"}` + "\n", 200}, 1},
		// Vector (sink http, encoding json, framing newline_delimited).
		{"vector-http", shot{"POST", "/v1/ingest", "application/x-ndjson", "",
			`{"timestamp":"` + ts(7) + `","message":"vector http","shipper":"vector-http"}` + "\n", 200}, 1},
		// Logstash (output elasticsearch): handshake, template, then _bulk to an index in the path.
		{"logstash", shot{"HEAD", "/_template/logstash", "", "", "", 200}, 0},
		{"logstash", shot{"POST", "/logstash-2026.11.20/_bulk", "application/json", "",
			`{"index":{}}` + "\n" + `{"@timestamp":"` + ts(8) + `","message":"logstash","shipper":"logstash"}` + "\n", 200}, 1},
		// update/delete are answered per item; a bad document too.
		{"es-mixed", shot{"POST", "/_bulk", "application/x-ndjson", "",
			`{"delete":{"_index":"x","_id":"1"}}` + "\n" +
				`{"update":{"_index":"x","_id":"2"}}` + "\n" + `{"doc":{"a":1}}` + "\n" +
				`{"index":{"_index":"x"}}` + "\n" + `{"@timestamp":"yesterday","shipper":"es-mixed"}` + "\n" +
				`{"index":{"_index":"x"}}` + "\n" + `{"@timestamp":"` + ts(9) + `","shipper":"es-mixed"}` + "\n", 200}, 1},
		// Loki push (JSON), gzip, with structured metadata on one entry.
		{"loki", shot{"POST", "/loki/api/v1/push", "application/json", "gzip",
			`{"streams":[{"stream":{"job":"app","shipper":"loki"},"values":[["1763636410000000000","loki line one"],["1763636411000000001","loki line two",{"trace_id":"abc"}]]}]}`, 204}, 2},
	}
	want := map[string]int{}
	for _, s := range shots {
		code, body := send(t, d, s.shot, nil)
		if code != s.shot.want {
			t.Fatalf("%s %s %s: %d %s", s.shipper, s.shot.method, s.shot.path, code, body)
		}
		if s.shipper == "es-mixed" {
			var r struct {
				Errors bool
				Items  []map[string]struct {
					Status int
					Error  struct{ Type, Reason string }
				}
			}
			if err := json.Unmarshal([]byte(body), &r); err != nil || !r.Errors || len(r.Items) != 4 {
				t.Fatalf("mixed bulk answer: %v %s", err, body)
			}
			if r.Items[0]["delete"].Status != 400 || r.Items[1]["update"].Status != 400 || r.Items[2]["index"].Status != 400 || r.Items[3]["index"].Status != 201 {
				t.Fatalf("mixed bulk statuses: %s", body)
			}
		}
		want[s.shipper] += s.docs
	}
	// A malformed Loki body, and a protobuf one that is not snappy, are refused whole.
	if code, _ := send(t, d, shot{"POST", "/loki/api/v1/push", "application/json", "", `{"streams":[{"values":[["1","x"]`, 400}, nil); code != 400 {
		t.Fatalf("malformed loki push: %d", code)
	}
	if code, body := send(t, d, shot{"POST", "/loki/api/v1/push", "application/x-protobuf", "", "\xff\xff\xff", 400}, nil); code != 400 || !strings.Contains(body, "snappy") {
		t.Fatalf("protobuf loki push with a bad snappy body: %d %s", code, body)
	}
	d.Stop()
	got := storedByField(t, dir, "shipper")
	// Loki records carry the shipper in their labels.
	for _, line := range e2e.AllStored(t, dir) {
		if strings.Contains(line, `"labels":{"job":"app","shipper":"loki"}`) {
			got["loki"]++
		}
	}
	for shipper, n := range want {
		if n > 0 && got[shipper] != n {
			t.Errorf("%s: %d records stored, want %d", shipper, got[shipper], n)
		}
	}
	all := strings.Join(e2e.AllStored(t, dir), "\n")
	for _, s := range []string{`"_index":"filebeat-8.11.0"`, `"_index":"logstash-2026.11.20"`, `"timestamp":"2025-11-20T11:00:11.000000001Z"`, `"metadata":{"trace_id":"abc"}`, `"line":"loki line one"`} {
		if !strings.Contains(all, s) {
			t.Errorf("stored records lack %s", s)
		}
	}
}

func TestLokiMergeJSONLines(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := e2e.Start(t, dir, "loki:\n  merge_json_lines: true\nreport:\n  schedule: \"off\"\n")
	body := `{"streams":[{"stream":{"job":"api"},"values":[["1763636410000000000","{\"level\":\"warn\",\"msg\":\"slow\"}"],["1763636411000000000","plain text"]]}]}`
	if code, b := send(t, d, shot{"POST", "/loki/api/v1/push", "application/json", "", body, 204}, nil); code != 204 {
		t.Fatalf("%d %s", code, b)
	}
	d.Stop()
	all := e2e.AllStored(t, dir)
	if len(all) != 2 {
		t.Fatalf("stored %v", all)
	}
	joined := strings.Join(all, "\n")
	for _, want := range []string{`{"timestamp":"2025-11-20T11:00:10Z","labels":{"job":"api"},"level":"warn","msg":"slow"}`, `"line":"plain text"`} {
		if !strings.Contains(joined, want) {
			t.Errorf("stored records lack %s:\n%s", want, joined)
		}
	}
}

// TestElasticsearchGoClientSingleDocsAndSetup: the calls an Elasticsearch
// client makes besides _bulk: cluster health at start-up, the index API
// (with and without an id, and create), a refresh after writing, node
// sniffing. Every document is stored once; without the token every
// Elasticsearch endpoint is refused as a secured cluster refuses it.
func TestElasticsearchGoClientSingleDocsAndSetup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := e2e.Start(t, dir, "auth:\n  tokens: [{name: es-client, token: es-token-0123456789ab}]\nreport:\n  schedule: \"off\"\n")
	es, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{d.URL}, APIKey: "es-token-0123456789ab"})
	if err != nil {
		t.Fatal(err)
	}
	ok := func(what string, code int) func(*esapi.Response, error) string {
		return func(res *esapi.Response, err error) string { return esResult(t, what, code, res, err) }
	}
	if b := ok("cluster health", 200)(es.Cluster.Health()); !strings.Contains(b, `"status":"green"`) {
		t.Fatalf("health: %s", b)
	}
	ok("nodes info", 200)(es.Nodes.Info())
	doc := `{"@timestamp":"2026-11-03T10:00:00Z","msg":"one",
  "nested": {"a": 1}}`
	if b := ok("index without id", 201)(es.Index("app-logs", strings.NewReader(doc))); !strings.Contains(b, `"result":"created"`) || !strings.Contains(b, `"_index":"app-logs"`) {
		t.Fatalf("index: %s", b)
	}
	if b := ok("index with id", 201)(es.Index("app-logs", strings.NewReader(`{"@timestamp":"2026-11-03T10:00:01Z","msg":"two"}`), es.Index.WithDocumentID("doc-2"))); !strings.Contains(b, `"_id":"doc-2"`) {
		t.Fatalf("index with id: %s", b)
	}
	ok("create", 201)(es.Create("app-logs", "doc-3", strings.NewReader(`{"@timestamp":"2026-11-03T10:00:02Z","msg":"three"}`)))
	ok("refresh", 200)(es.Indices.Refresh(es.Indices.Refresh.WithIndex("app-logs")))
	ok("bad document", 400)(es.Index("app-logs", strings.NewReader(`{"msg":`)))
	// A bulk action line with an extra key is taken, with a warning.
	r := d.Post(t, "/_bulk", []byte(`{"index":{"_index":"app-logs"},"attempts":0}`+"\n"+`{"@timestamp":"2026-11-03T10:00:03Z","msg":"four"}`+"\n"),
		map[string]string{"Authorization": "ApiKey es-token-0123456789ab", "Content-Type": "application/x-ndjson"})
	if r.Code != 200 || !strings.Contains(r.Body, `"errors":false`) || !strings.Contains(r.Hdr.Get("Warning"), "attempts") {
		t.Fatalf("bulk with an extra key: %d %s %v", r.Code, r.Body, r.Hdr)
	}
	for _, p := range []string{"/", "/_license", "/_cluster/health", "/_index_template/x"} {
		req, _ := http.NewRequest("GET", d.URL+p, nil)
		if p == "/_index_template/x" {
			req.Method = "PUT"
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || !strings.Contains(string(b), "security_exception") {
			t.Fatalf("%s without a token: %d %s", p, resp.StatusCode, b)
		}
	}
	if resp, err := http.Get(d.URL + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz without a token: %v %v", err, resp)
	}
	d.Stop()
	msgs := storedByField(t, dir, "msg")
	for _, m := range []string{"one", "two", "three", "four"} {
		if msgs[m] != 1 {
			t.Errorf("%q stored %d times, want once (%v)", m, msgs[m], msgs)
		}
	}
}

// esResult reads a client call's answer and requires its status code.
func esResult(t *testing.T, what string, code int, res *esapi.Response, err error) string {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != code {
		t.Fatalf("%s: %d %s", what, res.StatusCode, b)
	}
	return string(b)
}

// The official Go client surfaces ingestd's refusals as Elasticsearch errors
// (types.ElasticsearchError: the status, the exception type and the reason)
// for 401, 413, 429, 503 and 507, and a Loki client reads Loki's plain-text
// error.
func TestElasticsearchClientSeesElasticsearchErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	want := func(t *testing.T, what string, err error, status int, typ, reason string) {
		t.Helper()
		var ee *types.ElasticsearchError
		if !errors.As(err, &ee) {
			t.Fatalf("%s: %v (%T), want an ElasticsearchError", what, err, err)
		}
		got := ""
		if ee.ErrorCause.Reason != nil {
			got = *ee.ErrorCause.Reason
		}
		if ee.Status != status || ee.ErrorCause.Type != typ || !strings.Contains(got, reason) {
			t.Fatalf("%s: status %d type %q reason %q, want %d %q with %q", what, ee.Status, ee.ErrorCause.Type, got, status, typ, reason)
		}
	}
	doc := func(i int, pad int) io.Reader {
		return strings.NewReader(fmt.Sprintf(`{"@timestamp":"2026-11-03T10:00:%02dZ","i":%d,"pad":"%s"}`, i%60, i, strings.Repeat("x", pad)))
	}
	client := func(t *testing.T, d *e2e.Daemon, key string) *elasticsearch.TypedClient {
		c, err := elasticsearch.NewTypedClient(elasticsearch.Config{Addresses: []string{d.URL}, APIKey: key, DisableRetry: true})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	// 401, 413, 429 and 503 from one daemon: a slow producer, small bodies,
	// and buffers that fill because blocks are old only after an hour.
	dir := t.TempDir()
	d := e2e.Start(t, dir, "auth:\n  tokens: [{name: fast, token: fast-token-0123456789}, {name: slow, token: slow-token-0123456789, rate_limit: 1}]\n"+
		"http:\n  max_body: 4KiB\nbuffers:\n  max_bytes: 8KiB\nsegments:\n  block_size: 4KiB\n  block_age: 1h\nreport:\n  schedule: \"off\"\n")
	_, err := client(t, d, "wrong-token-0123456789").Index("app").Raw(doc(0, 10)).Do(ctx)
	want(t, "a wrong token", err, 401, "security_exception", "missing authentication credentials")
	fast := client(t, d, "fast-token-0123456789")
	_, err = fast.Index("app").Raw(doc(1, 5000)).Do(ctx)
	want(t, "a document over http.max_body", err, 413, "content_too_long_exception", "over the limit of 4096 bytes")
	slow := client(t, d, "slow-token-0123456789")
	if _, err := slow.Index("app").Raw(doc(2, 10)).Do(ctx); err != nil {
		t.Fatalf("the slow producer's first document: %v", err)
	}
	var last error
	for i := 0; i < 5 && last == nil; i++ {
		_, last = slow.Index("app").Raw(doc(3+i, 10)).Do(ctx)
	}
	want(t, "over the producer's rate limit", last, 429, "es_rejected_execution_exception", "rate limit of producer slow")
	last = nil
	for i := 0; i < 20 && last == nil; i++ {
		_, last = fast.Index("app").Raw(doc(10+i, 3000)).Do(ctx)
	}
	want(t, "buffers full", last, 503, "es_rejected_execution_exception", "buffers full")
	d.Stop()

	// 507: under disk.min_free.
	d = e2e.Start(t, t.TempDir(), "disk:\n  min_free: 1000000TiB\nreport:\n  schedule: \"off\"\n")
	_, err = client(t, d, "").Index("app").Raw(doc(0, 10)).Do(ctx)
	want(t, "a full disk", err, 507, "cluster_block_exception", "disk nearly full")
	// Loki's own shape: plain text.
	r := d.Post(t, "/loki/api/v1/push", []byte(`{"streams":[{"stream":{"a":"b"},"values":[["1","x"]]}]}`), map[string]string{"Content-Type": "application/json"})
	if r.Code != 507 || !strings.HasPrefix(r.Hdr.Get("Content-Type"), "text/plain") || !strings.HasPrefix(r.Body, "loki push: disk nearly full") {
		t.Fatalf("loki push on a full disk: %d %q %q", r.Code, r.Hdr.Get("Content-Type"), r.Body)
	}
	d.Stop()
}

// Loki's protobuf push, as Promtail and Alloy send it: a PushRequest built
// with Loki's own published push types (github.com/grafana/loki/pkg/push),
// snappy-compressed. No Loki client installs here without the AGPL main
// module or a large binary, so the bodies come from the schema's own
// package. Stored like the JSON push; bad bodies are refused whole.
func TestLokiProtobufPush(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := e2e.Start(t, dir, "report:\n  schedule: \"off\"\n")
	base := time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC)
	req := push.PushRequest{}
	for s := 0; s < 3; s++ {
		st := push.Stream{Labels: fmt.Sprintf(`{job="app", env="prod", quote="a\"b", stream="%d"}`, s)}
		for i := 0; i < 50; i++ {
			e := push.Entry{Timestamp: base.Add(time.Duration(s*1000+i) * time.Millisecond), Line: fmt.Sprintf("stream %d line %d é", s, i)}
			if i%10 == 0 {
				e.StructuredMetadata = push.LabelsAdapter{{Name: "trace_id", Value: fmt.Sprintf("t%d-%d", s, i)}}
			}
			st.Entries = append(st.Entries, e)
		}
		req.Streams = append(req.Streams, st)
	}
	raw, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	post := func(body []byte) e2e.Reply {
		return d.Post(t, "/loki/api/v1/push", body, map[string]string{"Content-Type": "application/x-protobuf"})
	}
	if r := post(snappy.Encode(nil, raw)); r.Code != 204 {
		t.Fatalf("protobuf push: %d %s", r.Code, r.Body)
	}
	for what, body := range map[string][]byte{
		"truncated protobuf": snappy.Encode(nil, raw[:len(raw)-7]),
		"not snappy":         raw,
		"bad labels":         snappy.Encode(nil, mustMarshal(t, push.PushRequest{Streams: []push.Stream{{Labels: `job="no braces"`, Entries: []push.Entry{{Timestamp: base, Line: "x"}}}}})),
	} {
		if r := post(body); r.Code != 400 || !strings.HasPrefix(r.Body, "loki push: ") {
			t.Errorf("%s: %d %q", what, r.Code, r.Body)
		}
	}
	d.Stop()
	lines := e2e.AllStored(t, dir)
	if len(lines) != 150 {
		t.Fatalf("stored %d records, want 150", len(lines))
	}
	seen := map[string]bool{}
	for _, l := range lines {
		var rec struct {
			Timestamp string            `json:"timestamp"`
			Labels    map[string]string `json:"labels"`
			Line      string            `json:"line"`
			Metadata  map[string]string `json:"metadata"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatal(err)
		}
		var s, i int
		fmt.Sscanf(rec.Line, "stream %d line %d", &s, &i)
		want := base.Add(time.Duration(s*1000+i) * time.Millisecond).Format(time.RFC3339Nano)
		if seen[rec.Line] || rec.Timestamp != want || rec.Labels["job"] != "app" || rec.Labels["quote"] != `a"b` || rec.Labels["stream"] != fmt.Sprint(s) ||
			(i%10 == 0) != (rec.Metadata["trace_id"] == fmt.Sprintf("t%d-%d", s, i)) {
			t.Fatalf("stored %s", l)
		}
		seen[rec.Line] = true
	}
}

func mustMarshal(t *testing.T, r push.PushRequest) []byte {
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A real Loki client, unmodified: the winston-loki transport (npm, with
// snappy) pushes protobuf compressed with snappy, as Promtail and Alloy do;
// every line is stored once with its labels. A wrong token fails the push.
func TestLokiProtobufFromWinstonLoki(t *testing.T) {
	t.Parallel()
	script := filepath.Join(e2e.RepoRoot(), ".ci", "loki", "send.cjs")
	for _, m := range []string{"winston-loki", "snappy", "winston"} {
		if _, err := os.Stat(filepath.Join(e2e.RepoRoot(), ".ci", "loki", "node_modules", m)); err != nil {
			testenv.Missing(t, "winston-loki", "npm install --prefix .ci/loki winston@3 winston-loki@6.1.7 snappy@7")
		}
	}
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Missing(t, "node", "apt-get install nodejs npm")
	}
	dir := t.TempDir()
	d := e2e.Start(t, dir, "auth:\n  tokens: [{name: winston, token: loki-token-0123456789}]\nreport:\n  schedule: \"off\"\n")
	if out, err := exec.Command(node, script, d.URL, "loki-token-0123456789", "150").CombinedOutput(); err != nil {
		t.Fatalf("winston-loki: %v\n%s", err, out)
	}
	if out, err := exec.Command(node, script, d.URL, "wrong-token-0123456789", "1").CombinedOutput(); err == nil || !strings.Contains(string(out), "401") {
		t.Fatalf("a wrong token: %v\n%s", err, out)
	}
	m := e2e.Scrape(t, d)
	d.Stop()
	if m[`ingestd_protocol_records_total{producer="winston",protocol="loki"}`] != 150 {
		t.Errorf("metrics: %v loki records", m[`ingestd_protocol_records_total{producer="winston",protocol="loki"}`])
	}
	seen := map[string]bool{}
	for _, line := range e2e.AllStored(t, dir) {
		var rec struct {
			Timestamp string            `json:"timestamp"`
			Labels    map[string]string `json:"labels"`
			Line      string            `json:"line"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if _, err := time.Parse(time.RFC3339Nano, rec.Timestamp); err != nil || seen[rec.Line] || !strings.HasPrefix(rec.Line, "loki line ") ||
			rec.Labels["job"] != "winston" || rec.Labels["env"] != "test" || (rec.Labels["level"] != "info" && rec.Labels["level"] != "warn") {
			t.Fatalf("stored %s", line)
		}
		seen[rec.Line] = true
	}
	if len(seen) != 150 {
		t.Fatalf("stored %d lines, want 150", len(seen))
	}
}

type shot struct {
	method, path, ctype, enc string
	body                     string
	want                     int
}

func send(t *testing.T, d *e2e.Daemon, s shot, hdr map[string]string) (int, string) {
	t.Helper()
	body := []byte(s.body)
	if s.enc == "gzip" {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(body)
		zw.Close()
		body = b.Bytes()
	}
	req, _ := http.NewRequest(s.method, d.URL+s.path, bytes.NewReader(body))
	if s.ctype != "" {
		req.Header.Set("Content-Type", s.ctype)
	}
	if s.enc != "" {
		req.Header.Set("Content-Encoding", s.enc)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := d.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", s.method, s.path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if s.path != "/loki/api/v1/push" && !strings.HasPrefix(s.path, "/v1/") && resp.Header.Get("X-Elastic-Product") != "Elasticsearch" {
		t.Errorf("%s %s: no X-Elastic-Product header", s.method, s.path)
	}
	return resp.StatusCode, string(b)
}
