// Package native is the adapter for ingestd's own API, POST /v1/ingest: the
// body is the records (NDJSON, a JSON array, or one object), the answer
// {"accepted":N} (with ?invalid=skip also "rejected" and "errors"), and a
// refusal {"error":"…"(,"line":K)}. It knows nothing of HTTP servers, the
// WAL or the store.
package native

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/ingestd/ingestd/ingest/adapter"
	"github.com/ingestd/ingestd/internal/jsonx"
)

// Options are the core's options: with skip, the valid records are kept and
// the bad ones filed in the rejected-lines store.
func Options(skip bool, answer func(*adapter.Result) []byte) adapter.Options {
	return adapter.Options{Skip: skip, KeepBad: skip, Answer: answer}
}

// AppendAnswer appends the success answer to dst.
func AppendAnswer(dst []byte, res *adapter.Result, skip bool) []byte {
	r := append(dst, `{"accepted":`...)
	r = strconv.AppendInt(r, int64(res.Accepted), 10)
	if skip {
		r = append(r, `,"rejected":`...)
		r = strconv.AppendInt(r, int64(res.Rejected), 10)
		r = append(r, `,"errors":[`...)
		for i, e := range res.Errors {
			if i > 0 {
				r = append(r, ',')
			}
			r = append(r, `{"line":`...)
			r = strconv.AppendInt(r, int64(e.Line), 10)
			r = append(r, `,"error":`...)
			r = jsonx.AppendString(r, e.Err)
			r = append(r, '}')
		}
		r = append(r, ']')
	}
	return append(r, '}')
}

// Answer is the reply for a stored write whose answer body is body.
func Answer(body []byte) adapter.Reply {
	return adapter.Reply{Status: 200, ContentType: "application/json", Body: body}
}

// FormHint adds a hint to a refusal of a body sent form-encoded (Content-Type
// application/x-www-form-urlencoded, as curl -d sends it) that reads as
// records run together on one line: curl -d strips the file's newlines.
func FormHint(e *adapter.Error, contentType []byte) *adapter.Error {
	if e.Status != 400 || !bytes.HasPrefix(bytes.TrimSpace(contentType), []byte("application/x-www-form-urlencoded")) ||
		!strings.Contains(e.Message, "unexpected data after the JSON object on the same line") {
		return e
	}
	h := *e
	h.Message += "; the body came form-encoded, as curl -d sends it, and curl -d removes newlines: send NDJSON with curl --data-binary @file"
	return &h
}

// Error renders a refusal: {"error":"…"} with the record's "line" when known.
func Error(e *adapter.Error) adapter.Reply {
	b := append([]byte(`{"error":`), jsonx.AppendString(nil, e.Message)...)
	if e.Line > 0 {
		b = append(b, `,"line":`...)
		b = strconv.AppendInt(b, int64(e.Line), 10)
	}
	b = append(b, '}')
	r := adapter.Reply{Status: e.Status, ContentType: "application/json", Body: b}
	if e.RetryAfter > 0 {
		r.Header = append(r.Header, "Retry-After", strconv.Itoa(e.RetryAfter))
	}
	if e.Code == adapter.CodeUnauthorized {
		r.Header = append(r.Header, "WWW-Authenticate", `Bearer realm="ingestd"`)
	}
	return r
}
