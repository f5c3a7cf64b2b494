package clients

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadog"
	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV2"

	"github.com/ingestd/ingestd/internal/e2e"
)

// ddContext points Datadog's API client at the daemon (the intake's
// second server, "{protocol}://{name}") with key as its API key.
func ddContext(d *e2e.Daemon, key string) context.Context {
	u, _ := url.Parse(d.URL)
	ctx := context.WithValue(context.Background(), datadog.ContextAPIKeys, map[string]datadog.APIKey{"apiKeyAuth": {Key: key}})
	ctx = context.WithValue(ctx, datadog.ContextOperationServerIndices, map[string]int{"v2.LogsApi.SubmitLog": 1})
	return context.WithValue(ctx, datadog.ContextOperationServerVariables, map[string]map[string]string{
		"v2.LogsApi.SubmitLog": {"protocol": u.Scheme, "name": u.Host}})
}

// Datadog's official Go API client (datadog-api-client-go/v2,
// LogsApi.SubmitLog), unmodified, sends logs in gzip, deflate and identity
// with ddtags in the logs and in the query; every log is stored once, its
// tags an object; a wrong API key is refused with Datadog's 403.
func TestDatadogGoClient(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const key = "dd0123456789abcdef0123456789abcd"
	d := e2e.Start(t, dir, "auth:\n  tokens: [{name: dd-agent, token: "+key+"}]\nreport:\n  schedule: \"off\"\n")
	api := datadogV2.NewLogsApi(datadog.NewAPIClient(datadog.NewConfiguration()))
	ctx := ddContext(d, key)
	const batches, per = 6, 25
	encodings := []datadogV2.ContentEncoding{datadogV2.CONTENTENCODING_GZIP, datadogV2.CONTENTENCODING_DEFLATE, datadogV2.CONTENTENCODING_IDENTITY}
	for b := 0; b < batches; b++ {
		var items []datadogV2.HTTPLogItem
		for j := 0; j < per; j++ {
			i := b*per + j
			it := datadogV2.NewHTTPLogItem(fmt.Sprintf("dd log %d: payment \"%x\" accepted", i, i*7919))
			it.SetDdsource("go-client")
			it.SetDdtags(fmt.Sprintf("env:test,team:core,batch:%d,canary", b))
			it.SetHostname(fmt.Sprintf("web-%d", i%3))
			it.SetService("checkout")
			it.AdditionalProperties = map[string]interface{}{"status": "info", "i": i, "duration_ms": 1.5 + float64(i)}
			items = append(items, *it)
		}
		opt := *datadogV2.NewSubmitLogOptionalParameters().WithContentEncoding(encodings[b%len(encodings)]).WithDdtags("region:eu")
		_, resp, err := api.SubmitLog(ctx, items, opt)
		if err != nil || resp.StatusCode != 202 {
			t.Fatalf("SubmitLog batch %d (%s): %v %v", b, encodings[b%len(encodings)], resp, err)
		}
	}
	_, resp, err := api.SubmitLog(ddContext(d, "wrong0123456789abcdef0123456789"), []datadogV2.HTTPLogItem{*datadogV2.NewHTTPLogItem("never")})
	if err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("a wrong API key: %v %v, want 403", resp, err)
	}
	if body := string(err.(datadog.GenericOpenAPIError).Body()); !strings.Contains(body, `"status":"403"`) {
		t.Fatalf("a wrong API key: body %s, want Datadog's errors shape", body)
	}
	d.Stop()
	seen := map[int]bool{}
	for _, line := range e2e.AllStored(t, dir) {
		var rec struct {
			Message, Ddsource, Hostname, Service, Status, Timestamp string
			I                                                       *int
			Tags                                                    map[string]string
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.I == nil {
			t.Fatalf("stored %s: %v", line, err)
		}
		i := *rec.I
		want := map[string]string{"env": "test", "team": "core", "batch": fmt.Sprint(i / per), "canary": "", "region": "eu"}
		if seen[i] || rec.Message != fmt.Sprintf("dd log %d: payment \"%x\" accepted", i, i*7919) || rec.Ddsource != "go-client" ||
			rec.Hostname != fmt.Sprintf("web-%d", i%3) || rec.Service != "checkout" || rec.Status != "info" || rec.Timestamp == "" ||
			fmt.Sprint(rec.Tags) != fmt.Sprint(want) || strings.Contains(line, "ddtags") {
			t.Fatalf("stored %s", line)
		}
		seen[i] = true
	}
	if len(seen) != batches*per {
		t.Fatalf("stored %d logs, want %d", len(seen), batches*per)
	}
}

// The Datadog request shapes the Go client does not send: one object, the
// v1 input with text/plain lines and the key in the path or the query,
// validate, a repeated tag, a "tags" member beside ddtags, and the
// intake's errors; a refused request stores nothing.
func TestDatadogShapesAndErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const key = "dd-shapes-0123456789abcdef012345"
	d := e2e.Start(t, dir, "auth:\n  tokens: [{name: dd, token: "+key+"}, {name: reader, token: dd-reader-0123456789abcdef, role: read}]\nreport:\n  schedule: \"off\"\n")
	hdr := map[string]string{"DD-API-KEY": key, "Content-Type": "application/json"}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`[{"message":"zipped","ddtags":"a:1"}]`))
	zw.Close()
	for _, c := range []struct {
		method, path, body string
		hdr                map[string]string
		code               int
		want               string
	}{
		{"POST", "/api/v2/logs", `{"message":"one object","timestamp":1793700000123,"ddtags":"env:a,env:b,k:v:w"}`, hdr, 202, `{}`},
		{"POST", "/insert/datadog/api/v2/logs?ddtags=q:1", `[{"message":"vl path","tags":["x"],"ddtags":"kept:as-is"}]`, hdr, 202, `{}`},
		{"POST", "/api/v2/logs", gz.String(), map[string]string{"DD-API-KEY": key, "Content-Type": "application/json", "Content-Encoding": "gzip"}, 202, `{}`},
		{"POST", "/api/v1/input/" + key + "?ddsource=nginx&service=web&hostname=h1&ddtags=env:prod", "plain one\nplain two\n", map[string]string{"Content-Type": "text/plain"}, 202, `{}`},
		{"POST", "/v1/input?dd-api-key=" + key, `[{"message":"v1 json"}]`, map[string]string{"Content-Type": "application/json"}, 202, `{}`},
		{"GET", "/api/v1/validate", ``, map[string]string{"DD-API-KEY": key}, 200, `{"valid":true}`},
		{"GET", "/api/v1/validate", ``, map[string]string{"DD-API-KEY": "nope"}, 403, `{"errors":[{"status":"403","title":"Forbidden"`},
		{"POST", "/api/v2/logs", `[{"message":"x"}]`, map[string]string{"Content-Type": "application/json"}, 403, `"title":"Forbidden","detail":"API key is missing or invalid`},
		{"POST", "/api/v2/logs", `[{"message":"x"}]`, map[string]string{"DD-API-KEY": "dd-reader-0123456789abcdef"}, 403, `"title":"Forbidden"`},
		{"POST", "/api/v2/logs", `[{"message":"ok"},"not an object"]`, hdr, 400, `{"errors":[{"status":"400","title":"Bad Request","detail":"log 2 is not a JSON object"}]}`},
		{"POST", "/api/v2/logs", `[{"message":"ok"},{"message":`, hdr, 400, `"status":"400"`},
		{"POST", "/api/v2/logs", `[]`, hdr, 400, `no logs in the payload`},
		{"GET", "/api/v2/logs", ``, hdr, 405, `"status":"405"`},
	} {
		req, _ := newRequest(c.method, d.URL+c.path, c.body, c.hdr)
		resp, err := d.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b := readAll(resp)
		if resp.StatusCode != c.code || !strings.Contains(b, c.want) {
			t.Errorf("%s %s %q: %d %s, want %d %s", c.method, c.path, c.body, resp.StatusCode, b, c.code, c.want)
		}
	}
	d.Stop()
	got := e2e.AllStored(t, dir)
	all := strings.Join(got, "\n")
	for _, want := range []string{
		`{"message":"one object","timestamp":1793700000123,"tags":{"env":["a","b"],"k":"v:w"}}`,
		`{"message":"vl path","tags":["x"],"ddtags":"kept:as-is",`,
		`{"message":"zipped","tags":{"a":"1"},`,
		`{"message":"plain one","ddsource":"nginx","service":"web","hostname":"h1","tags":{"env":"prod"}`,
		`{"message":"plain two","ddsource":"nginx"`,
		`{"message":"v1 json"`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("stored records lack %s:\n%s", want, all)
		}
	}
	if len(got) != 6 {
		t.Errorf("stored %d records, want 6 (nothing of the refused requests):\n%s", len(got), all)
	}
}

func newRequest(method, url, body string, hdr map[string]string) (*http.Request, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return req, err
}

func readAll(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
