// Package datadog is the adapter for Datadog's log intake, which the
// Datadog Agent, Vector's datadog_logs sink and Datadog's own API clients
// speak:
//
//   - POST /api/v2/logs: a JSON array of log objects (or one object),
//     gzip or deflate; the answer is 202 with {}.
//   - POST /api/v1/input[/<API key>] (and /v1/input): the same JSON, or
//     text/plain whose every line is a log's message.
//   - GET|POST /api/v1/validate: {"valid":true} for a known key.
//
// A log object is stored as it came, with one change: a "ddtags" string
// ("env:prod,team:a,canary") becomes a "tags" object ({"canary":"",
// "env":"prod","team":"a"}: keys sorted, a tag without a colon has the value
// "", a key given twice gets an array of its values in order), appended
// last, with the query's ddtags merged in. An object that already has a
// "tags" member keeps "ddtags" as its string. "message", "ddsource",
// "service", "hostname" and "status" are stored under those names; the
// record's time is the core's rule (a "timestamp" in epoch milliseconds, as
// the Agent sends, or the receive time).
//
// Errors are Datadog's JSON:API shape, {"errors":[{"status":"400",
// "title":"Bad Request","detail":"…"}]}. It knows nothing of HTTP servers,
// the WAL or the store.
package datadog

import (
	"bytes"
	"slices"
	"strconv"

	"github.com/ingestd/ingestd/ingest/adapter"
	"github.com/ingestd/ingestd/internal/jsonx"
	"github.com/ingestd/ingestd/record"
)

// Options are the core's options: one bad log refuses the request, as the
// intake answers a malformed payload with 400.
var Options = adapter.Options{}

// Answer is the answer to a stored request.
func Answer() adapter.Reply {
	return adapter.Reply{Status: 202, ContentType: "application/json", Body: []byte("{}")}
}

// Valid is the answer of /api/v1/validate to a known key.
func Valid() adapter.Reply {
	return adapter.Reply{Status: 200, ContentType: "application/json", Body: []byte(`{"valid":true}`)}
}

// titles are the JSON:API titles of the statuses the intake answers.
var titles = map[int]string{400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
	405: "Method Not Allowed", 413: "Payload Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Entity",
	429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable", 507: "Insufficient Storage"}

// Error renders a refusal as the intake does. A missing or unknown key is
// 403 (Datadog never answers 401 for a key), throttling 429, an unavailable
// store 503, both with Retry-After; a full disk is 507, which clients keep
// retrying like any 5xx.
func Error(e *adapter.Error) adapter.Reply {
	status := e.Status
	detail := e.Message
	switch e.Code {
	case adapter.CodeUnauthorized:
		status, detail = 403, "API key is missing or invalid: "+e.Message
	case adapter.CodeForbidden:
		status = 403
	}
	title := titles[status]
	if title == "" {
		title = "Error"
	}
	b := []byte(`{"errors":[{"status":"`)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `","title":`...)
	b = jsonx.AppendString(b, title)
	b = append(b, `,"detail":`...)
	b = jsonx.AppendString(b, detail)
	b = append(b, "}]}"...)
	r := adapter.Reply{Status: status, ContentType: "application/json", Body: b}
	if e.RetryAfter > 0 && (status == 429 || status == 503) {
		r.Header = []string{"Retry-After", strconv.Itoa(e.RetryAfter)}
	}
	return r
}

func invalid(n int, msg string) *adapter.Error {
	return &adapter.Error{Status: 400, Code: adapter.CodeInvalid, Line: n, Reason: record.ReasonInvalidJSON, Message: msg}
}

// Writer turns one request's payload into records. It holds the scratch
// space of the tags it parses, so a request allocates it once.
type Writer struct {
	// QueryTags is the request's ?ddtags=, merged into every log's tags.
	QueryTags []byte
	// Source, Service and Hostname are the query's ddsource, service and
	// hostname, given to text/plain lines (/api/v1/input).
	Source, Service, Hostname []byte

	tags []tag
}

type tag struct{ k, v []byte }

// Logs appends the records of a JSON payload (an array of log objects, or
// one object) to dst.
func (w *Writer) Logs(dst, body []byte) ([]byte, *adapter.Error) {
	l := jsonx.Lexer{B: body}
	n := 0
	notObject := false
	one := func() {
		n++
		if l.Peek() != '{' {
			notObject = true
			l.Err = jsonx.ErrMalformed
			return
		}
		dst = w.log(dst, &l)
	}
	switch l.Peek() {
	case '[':
		l.Array(func(int) { one() })
	case '{':
		one()
	default:
		return dst, invalid(0, "the payload must be a JSON array of log objects, or one log object")
	}
	switch {
	case notObject:
		return dst, invalid(n, "log "+strconv.Itoa(n)+" is not a JSON object")
	case l.Err != nil:
		return dst, invalid(n, "log "+strconv.Itoa(n)+" is not valid JSON")
	case l.Peek() != 0:
		return dst, invalid(n, "data after the payload's JSON value")
	case n == 0:
		return dst, invalid(0, "no logs in the payload")
	}
	return dst, nil
}

// log copies one log object from l to dst as a record line.
func (w *Writer) log(dst []byte, l *jsonx.Lexer) []byte {
	start := len(dst)
	dst = append(dst, '{')
	first := true
	var ddtags []byte
	hasTags := false
	l.Object(func(k []byte) {
		v := l.Value()
		if l.Err != nil {
			return
		}
		switch string(k) {
		case `"ddtags"`:
			if len(v) > 0 && v[0] == '"' {
				ddtags = v
				return
			}
		case `"tags"`:
			hasTags = true
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, k...)
		dst = append(dst, ':')
		dst = append(dst, v...)
	})
	if l.Err != nil {
		return dst[:start]
	}
	switch {
	case hasTags && ddtags != nil:
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, `"ddtags":`...)
		dst = append(dst, ddtags...)
	case !hasTags && (ddtags != nil || len(w.QueryTags) > 0):
		w.tags = w.tags[:0]
		w.split(ddtags, true)
		w.split(w.QueryTags, false)
		if len(w.tags) > 0 {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = w.appendTags(dst)
		}
	}
	return append(dst, "}\n"...)
}

// split adds the tags of s (a raw JSON string when quoted, else the bytes
// of a query parameter) to w.tags.
func (w *Writer) split(s []byte, quoted bool) {
	if quoted {
		if len(s) < 2 {
			return
		}
		if bytes.IndexByte(s, '\\') >= 0 {
			u, ok := jsonx.Unquote(s) // rare: escapes inside the tags
			if !ok {
				return
			}
			s = []byte(u)
		} else {
			s = s[1 : len(s)-1]
		}
	}
	for len(s) > 0 {
		t := s
		if i := bytes.IndexByte(s, ','); i >= 0 {
			t, s = s[:i], s[i+1:]
		} else {
			s = nil
		}
		t = bytes.TrimSpace(t)
		if len(t) == 0 {
			continue
		}
		k, v, _ := bytes.Cut(t, []byte(":"))
		w.tags = append(w.tags, tag{k, v})
	}
}

// appendTags appends "tags":{…} for w.tags: keys sorted, a repeated key's
// values as an array in their order.
func (w *Writer) appendTags(dst []byte) []byte {
	slices.SortStableFunc(w.tags, func(a, b tag) int { return bytes.Compare(a.k, b.k) })
	dst = append(dst, `"tags":{`...)
	for i := 0; i < len(w.tags); {
		j := i + 1
		for j < len(w.tags) && bytes.Equal(w.tags[j].k, w.tags[i].k) {
			j++
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonx.AppendString(dst, w.tags[i].k)
		dst = append(dst, ':')
		if j-i == 1 {
			dst = jsonx.AppendString(dst, w.tags[i].v)
		} else {
			dst = append(dst, '[')
			for x := i; x < j; x++ {
				if x > i {
					dst = append(dst, ',')
				}
				dst = jsonx.AppendString(dst, w.tags[x].v)
			}
			dst = append(dst, ']')
		}
		i = j
	}
	return append(dst, '}')
}

// Lines appends one record per non-empty line of a text/plain payload
// (/api/v1/input): {"message":"<line>"} with the query's ddsource,
// service, hostname and ddtags.
func (w *Writer) Lines(dst, body []byte) ([]byte, *adapter.Error) {
	n := 0
	for len(body) > 0 {
		var line []byte
		line, body, _ = bytes.Cut(body, []byte("\n"))
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		n++
		dst = append(dst, `{"message":`...)
		dst = jsonx.AppendString(dst, line)
		for _, f := range [...]struct {
			k string
			v []byte
		}{{"ddsource", w.Source}, {"service", w.Service}, {"hostname", w.Hostname}} {
			if len(f.v) > 0 {
				dst = append(dst, `,"`+f.k+`":`...)
				dst = jsonx.AppendString(dst, f.v)
			}
		}
		if len(w.QueryTags) > 0 {
			w.tags = w.tags[:0]
			w.split(w.QueryTags, false)
			if len(w.tags) > 0 {
				dst = append(dst, ',')
				dst = w.appendTags(dst)
			}
		}
		dst = append(dst, "}\n"...)
	}
	if n == 0 {
		return dst, invalid(0, "no logs in the payload")
	}
	return dst, nil
}
