// Package hec is the adapter for Splunk's HTTP Event Collector, which Splunk
// logging libraries, Vector's splunk_hec sink, the OpenTelemetry Collector's
// Splunk exporter and Kinesis Firehose speak:
//
//   - POST /services/collector[/event[/1.0]]: one or more concatenated event
//     objects {"time","host","source","sourcetype","index","event","fields"};
//     each is stored as it is, except a "time" sent as a string holding a
//     JSON number, which is stored as the number (epoch seconds with a
//     fraction).
//   - POST /services/collector/raw[/1.0]: each line is an event, stored as
//     {"event":"<line>"} with host, source, sourcetype and index from the
//     query.
//   - GET /services/collector/health, POST /services/collector/ack.
//
// Answers are HEC's: {"text":"Success","code":0}, with an "ackId" when the
// request names a channel (X-Splunk-Request-Channel or ?channel=); since a
// success means fsynced, every ack is true at once. It knows nothing of HTTP
// servers, the WAL or the store.
package hec

import (
	"bytes"
	"strconv"
	"sync/atomic"

	"github.com/ingestd/ingestd/ingest/adapter"
	"github.com/ingestd/ingestd/internal/jsonx"
	"github.com/ingestd/ingestd/record"
)

// Options are the core's options: one bad event refuses the request, as
// HEC does ("Invalid data format").
var Options = adapter.Options{}

// HEC's status codes.
const (
	codeSuccess      = 0
	codeDisabled     = 1
	codeTokenNeeded  = 2
	codeInvalidToken = 4
	codeNoData       = 5
	codeInvalidData  = 6
	codeInternal     = 8
	codeBusy         = 9
	codeNoEvent      = 12
	codeBlankEvent   = 13
	codeHealthy      = 17
)

var ackSeq atomic.Int64

func reply(status, code int, text string, extra string) adapter.Reply {
	b := append([]byte(`{"text":`), jsonx.AppendString(nil, text)...)
	b = append(b, `,"code":`...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, extra...)
	b = append(b, '}')
	return adapter.Reply{Status: status, ContentType: "application/json", Body: b}
}

// Health is the answer of GET /services/collector/health.
func Health() adapter.Reply { return reply(200, codeHealthy, "HEC is healthy", "") }

// Answer is the answer to a stored request; channel "" means no ack.
func Answer(channel string) adapter.Reply {
	if channel == "" {
		return reply(200, codeSuccess, "Success", "")
	}
	return reply(200, codeSuccess, "Success", `,"ackId":`+strconv.FormatInt(ackSeq.Add(1)-1, 10))
}

// Ack answers POST /services/collector/ack: {"acks":[ids]} → every id true,
// since an acknowledged request was fsynced before its answer.
func Ack(body []byte) adapter.Reply {
	var ids [][]byte
	l := jsonx.Lexer{B: body}
	l.Object(func(k []byte) {
		if string(k) != `"acks"` {
			l.Value()
			return
		}
		l.Array(func(int) { ids = append(ids, l.Value()) })
	})
	if l.Err != nil {
		return reply(400, codeInvalidData, "Invalid data format", "")
	}
	b := []byte(`{"acks":{`)
	for i, id := range ids {
		if _, err := strconv.ParseUint(string(id), 10, 63); err != nil {
			return reply(400, codeInvalidData, "Invalid data format", "")
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, id...)
		b = append(b, `":true`...)
	}
	b = append(b, "}}"...)
	return adapter.Reply{Status: 200, ContentType: "application/json", Body: b}
}

// Error renders a refusal as HEC does. hasAuth says whether the request sent
// credentials (a missing token is 401 code 2, a wrong one 403 code 4).
// Throttling, an unavailable store and a full disk are HEC's retryable
// "Server is busy" (503, code 9).
func Error(e *adapter.Error, hasAuth bool) adapter.Reply {
	var r adapter.Reply
	switch {
	case e.Code == adapter.CodeUnauthorized && !hasAuth:
		r = reply(401, codeTokenNeeded, "Token is required", "")
	case e.Code == adapter.CodeUnauthorized:
		r = reply(403, codeInvalidToken, "Invalid token", "")
	case e.Code == adapter.CodeForbidden: // a read-only token: HEC's "Token disabled"
		r = reply(403, codeDisabled, "Token disabled", "")
	case e.Status == 429 || e.Status == 503 || e.Status == 507:
		r = reply(503, codeBusy, "Server is busy", "")
		if e.RetryAfter == 0 {
			e.RetryAfter = 30
		}
	case e.Status == 413:
		r = reply(413, codeInvalidData, "Content too large: "+e.Message, "")
	case e.Status >= 500:
		r = reply(e.Status, codeInternal, "Internal server error", "")
	case e.Type == "no_data":
		r = reply(400, codeNoData, "No data", "")
	case e.Type == "no_event":
		r = reply(400, codeNoEvent, "Event field is required", `,"invalid-event-number":`+strconv.Itoa(max(e.Line-1, 0)))
	case e.Type == "blank_event":
		r = reply(400, codeBlankEvent, "Event field cannot be blank", `,"invalid-event-number":`+strconv.Itoa(max(e.Line-1, 0)))
	default:
		extra := ""
		if e.Line > 0 {
			extra = `,"invalid-event-number":` + strconv.Itoa(e.Line-1)
		}
		r = reply(e.Status, codeInvalidData, "Invalid data format: "+e.Message, extra)
	}
	if e.RetryAfter > 0 && r.Status == 503 {
		r.Header = []string{"Retry-After", strconv.Itoa(e.RetryAfter)}
	}
	return r
}

func invalid(typ string, n int, msg string) *adapter.Error {
	return &adapter.Error{Status: 400, Code: adapter.CodeInvalid, Type: typ, Line: n, Reason: record.ReasonInvalidJSON, Message: msg}
}

// Events appends the records of concatenated HEC event objects to dst.
func Events(dst, body []byte) ([]byte, *adapter.Error) {
	l := jsonx.Lexer{B: body}
	n := 0
	for l.Peek() != 0 {
		n++
		if l.Peek() != '{' {
			return dst, invalid("", n, "an event must be a JSON object")
		}
		start := len(dst)
		dst = append(dst, '{')
		hasEvent := false
		first := true
		l.Object(func(k []byte) {
			v := l.Value()
			if l.Err != nil {
				return
			}
			switch string(k) {
			case `"event"`:
				hasEvent = true
				if len(v) == 0 || string(v) == `""` || string(v) == "null" {
					l.Err = errBlank
					return
				}
			case `"time"`:
				if s, ok := jsonx.Unquote(v); ok && epochNumber(s) { // "1426279439.123": store the number
					v = []byte(s)
				}
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, k...)
			dst = append(dst, ':')
			dst = append(dst, v...)
		})
		switch {
		case l.Err == errBlank:
			return dst[:start], invalid("blank_event", n, "event is blank")
		case l.Err != nil:
			return dst[:start], invalid("", n, "event "+strconv.Itoa(n)+" is not valid JSON")
		case !hasEvent:
			return dst[:start], invalid("no_event", n, "event "+strconv.Itoa(n)+" has no \"event\" field")
		}
		dst = append(dst, "}\n"...)
	}
	if n == 0 {
		return dst, invalid("no_data", 0, "no data")
	}
	return dst, nil
}

// epochNumber reports whether s is a JSON number without a sign, the only
// numeric strings a "time" may become: "00", "1." or "0x1p4" parse as floats
// but are no JSON, so they stay strings.
func epochNumber(s string) bool {
	end, ok := jsonx.NumberEnd(s, 0)
	return ok && end == len(s) && s[0] != '-'
}

var errBlank = &blankErr{}

type blankErr struct{}

func (*blankErr) Error() string { return "blank event" }

// Meta is the metadata of a raw request, from its query.
type Meta struct{ Host, Source, Sourcetype, Index string }

// Raw appends one record per non-empty line of a raw request to dst.
func Raw(dst, body []byte, m Meta) ([]byte, *adapter.Error) {
	n := 0
	for len(body) > 0 {
		var line []byte
		line, body, _ = bytes.Cut(body, []byte("\n"))
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		n++
		dst = append(dst, `{"event":`...)
		dst = jsonx.AppendString(dst, line)
		for _, f := range [...]struct{ k, v string }{{"host", m.Host}, {"source", m.Source}, {"sourcetype", m.Sourcetype}, {"index", m.Index}} {
			if f.v != "" {
				dst = append(dst, `,"`+f.k+`":`...)
				dst = jsonx.AppendString(dst, f.v)
			}
		}
		dst = append(dst, "}\n"...)
	}
	if n == 0 {
		return dst, invalid("no_data", 0, "no data")
	}
	return dst, nil
}
