package datadog

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ingestd/ingestd/ingest/adapter"
)

func TestLogs(t *testing.T) {
	for _, c := range []struct{ in, query, want, err string }{
		{in: `[{"message":"a","ddtags":"env:prod,team:x"}]`, want: `{"message":"a","tags":{"env":"prod","team":"x"}}`},
		{in: `{"message":"one"}`, want: `{"message":"one"}`},
		{in: ` [ {"message":"a"} , {"message":"b","status":"warn"} ] `, want: `{"message":"a"}` + "\n" + `{"message":"b","status":"warn"}`},
		{in: `[{"ddtags":"b:2, a:1 ,,flag,b:3","message":"m"}]`, want: `{"message":"m","tags":{"a":"1","b":["2","3"],"flag":""}}`},
		{in: `[{"message":"m"}]`, query: "q:1,q:2", want: `{"message":"m","tags":{"q":["1","2"]}}`},
		{in: `[{"message":"m","ddtags":"k:v"}]`, query: "a:b", want: `{"message":"m","tags":{"a":"b","k":"v"}}`},
		{in: `[{"tags":{"own":1},"ddtags":"k:v"}]`, query: "a:b", want: `{"tags":{"own":1},"ddtags":"k:v"}`},
		{in: `[{"ddtags":["not","a","string"]}]`, want: `{"ddtags":["not","a","string"]}`},
		{in: `[{"ddtags":"q:\"x\\y\",u:\u00e9"}]`, want: `{"tags":{"q":"\"x\\y\"","u":"é"}}`},
		{in: `[{"ddtags":""}]`, want: `{}`},
		{in: `[]`, err: "no logs"},
		{in: ``, err: "must be a JSON array"},
		{in: `"x"`, err: "must be a JSON array"},
		{in: `[{"a":1},2]`, err: "log 2 is not a JSON object"},
		{in: `[{"a":1},{"b":]`, err: "log 2 is not valid JSON"},
		{in: `[{"a":1}] x`, err: "data after"},
	} {
		w := &Writer{QueryTags: []byte(c.query)}
		out, e := w.Logs(nil, []byte(c.in))
		if c.err != "" {
			if e == nil || !strings.Contains(e.Message, c.err) || e.Status != 400 {
				t.Errorf("%s: %v, want 400 %q", c.in, e, c.err)
			}
			continue
		}
		if e != nil || string(out) != c.want+"\n" {
			t.Errorf("%s ?ddtags=%s:\n got %q %v\nwant %q", c.in, c.query, out, e, c.want+"\n")
		}
	}
}

func TestLines(t *testing.T) {
	w := &Writer{Source: []byte("nginx"), Hostname: []byte(`h"1`), QueryTags: []byte("env:prod")}
	out, e := w.Lines(nil, []byte("GET / 200\r\n\n  \nsecond \"quoted\"\n"))
	want := `{"message":"GET / 200","ddsource":"nginx","hostname":"h\"1","tags":{"env":"prod"}}` + "\n" +
		`{"message":"second \"quoted\"","ddsource":"nginx","hostname":"h\"1","tags":{"env":"prod"}}` + "\n"
	if e != nil || string(out) != want {
		t.Fatalf("got %s %v\nwant %s", out, e, want)
	}
	if _, e := w.Lines(nil, []byte("\n \n")); e == nil {
		t.Fatal("blank lines: no error")
	}
}

func TestErrorShapes(t *testing.T) {
	for _, c := range []struct {
		e      adapter.Error
		status int
		body   string
		retry  bool
	}{
		{adapter.Error{Status: 401, Code: adapter.CodeUnauthorized, Message: "no token"}, 403, `{"errors":[{"status":"403","title":"Forbidden","detail":"API key is missing or invalid: no token"}]}`, false},
		{adapter.Error{Status: 429, Code: adapter.CodeRateLimited, Message: "slow down", RetryAfter: 2}, 429, `{"errors":[{"status":"429","title":"Too Many Requests","detail":"slow down"}]}`, true},
		{adapter.Error{Status: 413, Code: adapter.CodeTooLarge, Message: "big"}, 413, `"title":"Payload Too Large"`, false},
		{adapter.Error{Status: 507, Code: adapter.CodeDiskFull, Message: "full"}, 507, `"title":"Insufficient Storage"`, false},
	} {
		r := Error(&c.e)
		if r.Status != c.status || !strings.Contains(string(r.Body), c.body) || (len(r.Header) > 0) != c.retry {
			t.Errorf("%+v: %d %s %v", c.e, r.Status, r.Body, r.Header)
		}
	}
}

// Logs allocates nothing per log once its buffers have grown: the tags are
// parsed in place into the Writer's scratch.
func TestLogsAllocs(t *testing.T) {
	var body bytes.Buffer
	body.WriteString("[")
	for i := 0; i < 100; i++ {
		if i > 0 {
			body.WriteString(",")
		}
		body.WriteString(`{"message":"GET /api/v1/items 200","ddsource":"nginx","service":"web","hostname":"h1","ddtags":"env:prod,team:core,version:1.2.3,canary","status":"info"}`)
	}
	body.WriteString("]")
	w := &Writer{QueryTags: []byte("region:eu")}
	dst := make([]byte, 0, 64<<10)
	if n := testing.AllocsPerRun(20, func() {
		var e *adapter.Error
		if dst, e = w.Logs(dst[:0], body.Bytes()); e != nil {
			t.Fatal(e)
		}
	}); n > 1 {
		t.Fatalf("%.0f allocations for 100 logs", n)
	}
}

// FuzzLogs: whatever the payload, Logs either refuses it or writes one
// line per log, each a JSON object when the log was valid JSON.
func FuzzLogs(f *testing.F) {
	for _, s := range []string{`[{"message":"a","ddtags":"env:prod,team:x"}]`, `{"message":"one"}`,
		`[{"ddtags":"b:2, a:1 ,,flag,b:3"}]`, `[{"ddtags":"q:\"x\\y\""}]`, `[{"tags":1,"ddtags":"a"}]`, `[]`, `[1]`} {
		f.Add([]byte(s), "q:1")
	}
	f.Fuzz(func(t *testing.T, body []byte, query string) {
		w := &Writer{QueryTags: []byte(query)}
		out, e := w.Logs(nil, body)
		if e != nil {
			return
		}
		var v any
		if json.Unmarshal(body, &v) != nil {
			return // the lexer does not validate; the core's record scanner does
		}
		for _, line := range bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n")) {
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatalf("%q → invalid record %q: %v", body, line, err)
			}
		}
	})
}
