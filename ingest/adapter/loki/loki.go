// Package loki is the adapter for Loki's JSON push API
// (POST /loki/api/v1/push):
//
//	{"streams":[{"stream":{"label":"value",...},"values":[["<unix ns>","<line>"(,{metadata})],...]}]}
//
// Each value becomes one record:
//
//	{"timestamp":"<RFC 3339, ns>","labels":{...},"line":"<line>"(,"metadata":{...})}
//
// With merge (loki.merge_json_lines), a line that is itself a JSON object has
// its fields merged into the record instead of "line". Success is 204, as
// Loki's; errors are plain text, as Loki's. It knows nothing of HTTP
// servers, the WAL or the store.
package loki

import (
	"strconv"
	"strings"
	"time"

	"github.com/ingestd/ingestd/ingest/intake"
	"github.com/ingestd/ingestd/internal/jsonx"
	"github.com/ingestd/ingestd/record"
)

// Options are the core's options for a push: one bad entry refuses it.
var Options = intake.Options{}

// Check refuses what this adapter cannot read before the body is: another
// method, or a protobuf body.
func Check(method, contentType string) *intake.Error {
	if method != "POST" {
		return &intake.Error{Status: 405, Message: "method not allowed; use POST"}
	}
	if strings.HasPrefix(contentType, "application/x-protobuf") {
		return &intake.Error{Status: 415, Code: intake.CodeUnsupported, Message: "ingestd takes Loki's JSON push format; configure the client for JSON (application/json)"}
	}
	return nil
}

// Records appends the push body's entries to dst as records.
func Records(dst, body []byte, merge bool) ([]byte, *intake.Error) {
	l := jsonx.Lexer{B: body}
	l.Object(func(k []byte) {
		if string(k) != `"streams"` {
			l.Value()
			return
		}
		l.Array(func(int) {
			var labels []byte
			l.Object(func(k []byte) {
				switch string(k) {
				case `"stream"`:
					labels = l.Value()
				case `"values"`:
					l.Array(func(int) {
						var ts, line, meta []byte
						l.Array(func(i int) {
							v := l.Value()
							switch i {
							case 0:
								ts = v
							case 1:
								line = v
							case 2:
								meta = v
							}
						})
						if l.Err == nil {
							dst = appendRecord(dst, ts, line, labels, meta, merge)
						}
					})
				default:
					l.Value()
				}
			})
		})
	})
	if l.Err == nil && l.Peek() != 0 {
		l.Err = jsonx.ErrMalformed
	}
	if l.Err != nil {
		return dst, &intake.Error{Status: 400, Code: intake.CodeInvalid, Reason: record.ReasonInvalidJSON, Message: "malformed JSON body at byte " + strconv.Itoa(l.I)}
	}
	return dst, nil
}

// Answer is Loki's answer to a stored push.
func Answer(*intake.Result) intake.Reply { return intake.Reply{Status: 204} }

// Error renders a refusal as Loki does: the status with a plain-text reason.
func Error(e *intake.Error) intake.Reply {
	msg := e.Message
	if e.Line > 0 {
		msg = "entry " + strconv.Itoa(e.Line) + ": " + msg
	}
	r := intake.Reply{Status: e.Status, ContentType: "text/plain; charset=utf-8", Body: []byte("loki push: " + msg + "\n")}
	if e.RetryAfter > 0 {
		r.Header = []string{"Retry-After", strconv.Itoa(e.RetryAfter)}
	}
	return r
}

// appendRecord appends one record for a Loki entry. A timestamp that is not
// a string of digits is kept as it is, so the parser refuses the entry.
func appendRecord(dst, ts, line, labels, meta []byte, merge bool) []byte {
	dst = append(dst, `{"timestamp":`...)
	if ns, ok := jsonx.Unquote(ts); ok {
		if n, err := strconv.ParseInt(ns, 10, 64); err == nil {
			dst = append(dst, '"')
			dst = time.Unix(0, n).UTC().AppendFormat(dst, time.RFC3339Nano)
			dst = append(dst, '"')
		} else {
			dst = append(dst, ts...)
		}
	} else {
		dst = append(dst, "null"...)
	}
	if len(labels) > 0 {
		dst = append(dst, `,"labels":`...)
		dst = append(dst, labels...)
	}
	if len(meta) > 0 {
		dst = append(dst, `,"metadata":`...)
		dst = append(dst, meta...)
	}
	text, ok := jsonx.Unquote(line)
	if merge && ok && len(text) > 2 && text[0] == '{' && text[len(text)-1] == '}' {
		dst = append(dst, ',')
		dst = append(dst, text[1:]...) // the line's own fields; the parser validates them
	} else {
		dst = append(dst, `,"line":`...)
		if line == nil {
			line = []byte("null")
		}
		dst = append(dst, line...)
		dst = append(dst, '}')
	}
	return append(dst, '\n')
}
