// Package jsonline is VictoriaLogs' JSON stream API, POST /insert/jsonline:
// one JSON object per line, with query parameters (or VL-* headers) that
// name the special fields. ingestd keeps records as sent and honours them
// by these rules:
//
//   - _time_field (VL-Time-Field): the record's time is read from that
//     top-level field alone, in the formats of the record rules; a record
//     without it, or whose value is "0" or 0 (VictoriaLogs' "now"; the
//     member is then left out), gets the receive time.
//   - _msg_field (VL-Msg-Field, names separated by commas, the first
//     present wins): that top-level member is renamed "_msg", VictoriaLogs'
//     name for the message, unless the record has a "_msg" already.
//   - _stream_fields (VL-Stream-Fields): ingestd keeps no streams; a
//     "_stream" member is added as VictoriaLogs shows it,
//     {name="value",…}, from those top-level members present, in the
//     order named (unless the record has a "_stream" already).
//
// Nested fields are not flattened, so the names are top-level names.
// Lines that are not JSON objects are left out and kept in the rejected
// store, the rest stored (VictoriaLogs skips them too); the answer is
// {"accepted":N,"rejected":M,…} as on /v1/ingest.
package jsonline

import (
	"bytes"
	"strconv"

	"github.com/ingestd/ingestd/ingest/adapter"
	"github.com/ingestd/ingestd/internal/jsonx"
)

// Writer rewrites one request's lines.
type Writer struct {
	TimeField    []byte
	MsgFields    []byte // comma-separated
	StreamFields []byte // comma-separated

	members []member
}

type member struct{ k, v []byte } // raw key (quoted) and value

// Options are the core's options for the request.
func (w *Writer) Options(answer func(*adapter.Result) []byte) adapter.Options {
	return adapter.Options{Skip: true, KeepBad: true, TimeField: string(w.TimeField), Answer: answer}
}

// Records appends the request's lines, rewritten by the rules, to dst.
func (w *Writer) Records(dst, body []byte) ([]byte, *adapter.Error) {
	plain := len(w.MsgFields) == 0 && len(w.StreamFields) == 0 && len(w.TimeField) == 0
	for len(body) > 0 {
		var line []byte
		line, body, _ = bytes.Cut(body, []byte("\n"))
		if plain {
			dst = append(append(dst, line...), '\n')
			continue
		}
		dst = w.line(dst, line)
	}
	return dst, nil
}

// line rewrites one line; one that is not a JSON object goes through as it
// is, for the record rules to refuse with their reason.
func (w *Writer) line(dst, line []byte) []byte {
	l := jsonx.Lexer{B: line}
	if l.Peek() != '{' {
		return append(append(dst, line...), '\n')
	}
	w.members = w.members[:0]
	l.Object(func(k []byte) {
		v := l.Value()
		w.members = append(w.members, member{k, v})
	})
	if l.Err != nil || l.Peek() != 0 {
		return append(append(dst, line...), '\n')
	}
	msg := -1
	if len(w.MsgFields) > 0 && w.find("_msg") < 0 {
		for f := range fields(w.MsgFields) {
			if msg = w.find(string(f)); msg >= 0 {
				break
			}
		}
	}
	dst = append(dst, '{')
	n := 0
	for i, m := range w.members {
		if len(w.TimeField) > 0 && unquoted(m.k, w.TimeField) && (string(m.v) == `"0"` || string(m.v) == "0") {
			continue // VictoriaLogs' "now": the receive time is added
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		if i == msg {
			dst = append(dst, `"_msg"`...)
		} else {
			dst = append(dst, m.k...)
		}
		dst = append(dst, ':')
		dst = append(dst, m.v...)
	}
	if len(w.StreamFields) > 0 && w.find("_stream") < 0 {
		var sb []byte
		for f := range fields(w.StreamFields) {
			i := w.find(string(f))
			if i < 0 {
				continue
			}
			if len(sb) > 0 {
				sb = append(sb, ',')
			}
			sb = append(sb, f...)
			sb = append(sb, '=')
			v := w.members[i].v
			if s, ok := jsonx.Unquote(v); ok {
				sb = strconv.AppendQuote(sb, s)
			} else {
				sb = strconv.AppendQuote(sb, string(v))
			}
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `"_stream":`...)
		dst = jsonx.AppendString(dst, "{"+string(sb)+"}")
	}
	return append(dst, "}\n"...)
}

// find returns the index of the top-level member name, or -1.
func (w *Writer) find(name string) int {
	for i, m := range w.members {
		if unquoted(m.k, []byte(name)) {
			return i
		}
	}
	return -1
}

// unquoted reports whether the raw key k (quotes included, no escapes
// assumed) is name.
func unquoted(k, name []byte) bool {
	return len(k) == len(name)+2 && string(k[1:len(k)-1]) == string(name)
}

// fields yields the names of a comma-separated list.
func fields(list []byte) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(list) > 0 {
			f := list
			if i := bytes.IndexByte(list, ','); i >= 0 {
				f, list = list[:i], list[i+1:]
			} else {
				list = nil
			}
			if f = bytes.TrimSpace(f); len(f) > 0 && !yield(f) {
				return
			}
		}
	}
}
