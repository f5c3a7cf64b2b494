// Package loki is the adapter for Loki's push API (POST /loki/api/v1/push),
// in protobuf (what Promtail, Grafana Alloy and most clients send: a
// snappy-compressed PushRequest, decoded with Loki's own Apache-2.0 push
// types, github.com/grafana/loki/pkg/push, not the AGPL main module) or JSON:
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

	"github.com/grafana/loki/pkg/push"
	"github.com/klauspost/compress/snappy"

	"github.com/ingestd/ingestd/ingest/adapter"
	"github.com/ingestd/ingestd/internal/jsonx"
	"github.com/ingestd/ingestd/record"
)

// Options are the core's options for a push: one bad entry refuses it.
var Options = adapter.Options{}

// Check refuses another method than POST.
func Check(method string) *adapter.Error {
	if method != "POST" {
		return &adapter.Error{Status: 405, Message: "method not allowed; use POST"}
	}
	return nil
}

// IsProtobuf reports whether a Content-Type names the protobuf push format.
func IsProtobuf(contentType string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(contentType)), "application/x-protobuf")
}

// RecordsProto appends the entries of a snappy-compressed protobuf
// PushRequest to dst as records, shaped as the JSON push's. maxDecoded
// bounds the decompressed size.
func RecordsProto(dst, body []byte, merge bool, maxDecoded int) ([]byte, *adapter.Error) {
	bad := func(msg string) *adapter.Error {
		return &adapter.Error{Status: 400, Code: adapter.CodeInvalid, Reason: record.ReasonInvalidJSON, Message: msg}
	}
	n, err := snappy.DecodedLen(body)
	if err != nil {
		return dst, bad("snappy: " + err.Error())
	}
	if n > maxDecoded {
		return dst, &adapter.Error{Status: 413, Code: adapter.CodeTooLarge, Message: "push request over the limit of " + strconv.Itoa(maxDecoded) + " bytes after decompression (http.max_body)"}
	}
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		return dst, bad("snappy: " + err.Error())
	}
	var req push.PushRequest
	if err := req.Unmarshal(raw); err != nil {
		return dst, bad("cannot decode the PushRequest: " + err.Error())
	}
	var labels, meta, ts, line []byte
	for si := range req.Streams {
		st := &req.Streams[si]
		var ok bool
		if labels, ok = appendLabelSet(labels[:0], st.Labels); !ok {
			return dst, bad("stream " + strconv.Itoa(si+1) + ": labels " + strconv.Quote(st.Labels) + " are not a label set like {job=\"app\"}")
		}
		for ei := range st.Entries {
			e := &st.Entries[ei]
			ts = append(ts[:0], '"')
			ts = strconv.AppendInt(ts, e.Timestamp.UnixNano(), 10)
			ts = append(ts, '"')
			line = jsonx.AppendString(line[:0], e.Line)
			meta = meta[:0]
			if len(e.StructuredMetadata) > 0 {
				meta = append(meta, '{')
				for i, l := range e.StructuredMetadata {
					if i > 0 {
						meta = append(meta, ',')
					}
					meta = jsonx.AppendString(meta, l.Name)
					meta = append(meta, ':')
					meta = jsonx.AppendString(meta, l.Value)
				}
				meta = append(meta, '}')
			}
			dst = appendRecord(dst, ts, line, labels, meta, merge)
		}
	}
	return dst, nil
}

// appendLabelSet appends a Prometheus label set ({a="1", b="x\"y"}) as a
// JSON object; false when s is not one.
func appendLabelSet(dst []byte, s string) ([]byte, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return dst, false
	}
	s = strings.TrimSpace(s[1 : len(s)-1])
	dst = append(dst, '{')
	for first := true; s != ""; first = false {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return dst, false
		}
		name := strings.TrimSpace(s[:eq])
		s = strings.TrimSpace(s[eq+1:])
		if name == "" || s == "" || s[0] != '"' {
			return dst, false
		}
		end := 1
		for end < len(s) && s[end] != '"' {
			if s[end] == '\\' {
				end++
			}
			end++
		}
		if end >= len(s) {
			return dst, false
		}
		value, err := strconv.Unquote(s[:end+1])
		if err != nil {
			return dst, false
		}
		if !first {
			dst = append(dst, ',')
		}
		dst = jsonx.AppendString(dst, name)
		dst = append(dst, ':')
		dst = jsonx.AppendString(dst, value)
		s = strings.TrimSpace(s[end+1:])
		if s != "" {
			if s[0] != ',' {
				return dst, false
			}
			s = strings.TrimSpace(s[1:])
		}
	}
	return append(dst, '}'), true
}

// Records appends the push body's entries to dst as records.
func Records(dst, body []byte, merge bool) ([]byte, *adapter.Error) {
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
		return dst, &adapter.Error{Status: 400, Code: adapter.CodeInvalid, Reason: record.ReasonInvalidJSON, Message: "malformed JSON body at byte " + strconv.Itoa(l.I)}
	}
	return dst, nil
}

// Answer is Loki's answer to a stored push.
func Answer(*adapter.Result) adapter.Reply { return adapter.Reply{Status: 204} }

// Error renders a refusal as Loki does: the status with a plain-text reason.
func Error(e *adapter.Error) adapter.Reply {
	msg := e.Message
	if e.Line > 0 {
		msg = "entry " + strconv.Itoa(e.Line) + ": " + msg
	}
	r := adapter.Reply{Status: e.Status, ContentType: "text/plain; charset=utf-8", Body: []byte("loki push: " + msg + "\n")}
	if e.RetryAfter > 0 {
		r.Header = []string{"Retry-After", strconv.Itoa(e.RetryAfter)}
	}
	return r
}

// appendRecord appends one record for a Loki entry. A timestamp that is not
// a string of digits is kept as it is: the record rules read a number as an
// epoch and refuse anything else.
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
	} else if len(ts) > 0 { // not a string: kept, for the record rules to read or refuse
		dst = append(dst, ts...)
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
