// Package otlp is the adapter for OTLP/HTTP logs (POST /v1/logs), the
// OpenTelemetry protocol every SDK and the Collector speak. Bodies are an
// ExportLogsServiceRequest in protobuf or JSON, decoded with the
// Collector's own pdata types (plogotlp), which also handle the JSON quirks
// (hex ids, int64 as strings, enums as integers, unknown fields). Each
// LogRecord becomes one stored JSON object:
//
//	{"timestamp":"<time_unix_nano, else observed, RFC 3339 ns>","observed_timestamp":…,
//	 "severity_text":…,"severity_number":N,"body":<AnyValue as JSON>,"attributes":{…},
//	 "resource":{…},"scope":{"name":…,"version":…,"attributes":{…}},
//	 "trace_id":"<hex>","span_id":"<hex>","flags":N,"event_name":…}
//
// (fields that are empty are left out; bytes values are base64). A success is
// an ExportLogsServiceResponse in the request's content type, with the
// records the core refused in partial_success; a refusal is a
// google.rpc.Status. It knows nothing of HTTP servers, the WAL or the store.
package otlp

import (
	"encoding/base64"
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/ingestd/ingestd/ingest/adapter"
	"github.com/ingestd/ingestd/internal/jsonx"
	"github.com/ingestd/ingestd/record"
)

// Options are the core's options for an export: a record the rules refuse
// is reported in partial_success and kept in the rejected-lines store; the
// others are stored.
var Options = adapter.Options{Skip: true, KeepBad: true}

// Encoding is a request's body encoding, which the answer uses too.
type Encoding int

// Encodings.
const (
	Protobuf Encoding = iota
	JSON
)

// ContentType returns the encoding of a Content-Type, or an error for one
// OTLP does not define.
func ContentType(ct string) (Encoding, *adapter.Error) {
	mt := strings.TrimSpace(strings.ToLower(strings.SplitN(ct, ";", 2)[0]))
	switch mt {
	case "application/x-protobuf", "application/protobuf":
		return Protobuf, nil
	case "application/json":
		return JSON, nil
	}
	return Protobuf, &adapter.Error{Status: 415, Code: adapter.CodeUnsupported,
		Message: "OTLP/HTTP takes application/x-protobuf or application/json, not " + strconvQuote(ct)}
}

func strconvQuote(s string) string {
	if s == "" {
		return "no Content-Type"
	}
	return strconv.Quote(s)
}

// Mapping says how log records become stored records.
type Mapping struct {
	// Max bounds the records' bytes (413 beyond; 0 = no bound): every
	// record repeats its resource and scope, so a small body can ask for
	// much more.
	Max int
	// FlatResource stores the resource attributes as top-level members
	// named "resource.<key>" (otlp.resource: flat) instead of one
	// "resource" object (nested, the default).
	FlatResource bool
}

// Records decodes an export request and appends one record per LogRecord
// to dst. Protobuf is decoded straight from the wire (wire.go); JSON, with
// its quirks, by pdata.
func Records(dst, body []byte, enc Encoding, m Mapping) ([]byte, *adapter.Error) {
	if enc == Protobuf {
		out, err := RecordsProto(dst, body, m)
		if err != nil {
			return out, decodeError(err, m.Max)
		}
		return out, nil
	}
	req := plogotlp.NewExportRequest()
	if err := req.UnmarshalJSON(body); err != nil {
		return dst, decodeError(err, m.Max)
	}
	out, err := appendLogs(dst, req.Logs(), m)
	if err != nil {
		return out, decodeError(err, m.Max)
	}
	return out, nil
}

// appendLogs appends one record per LogRecord of logs decoded by pdata:
// the mapping the protobuf decoder (wire.go) must equal byte for byte.
func appendLogs(dst []byte, logs plog.Logs, m Mapping) ([]byte, error) {
	start := len(dst)
	rls := logs.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		res := rl.Resource().Attributes()
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			lrs := sl.LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				dst = appendRecord(dst, lrs.At(k), res, sl.Scope(), m.FlatResource)
				if m.Max > 0 && len(dst)-start > m.Max {
					return dst[:start], errTooLarge
				}
			}
		}
	}
	return dst, nil
}

// decodeError is the refusal of a body that does not decode.
func decodeError(err error, max int) *adapter.Error {
	if err == errTooLarge {
		return &adapter.Error{Status: 413, Code: adapter.CodeTooLarge,
			Message: "OTLP: the log records, as JSON with their resource and scope, exceed " + strconv.Itoa(max) + " bytes; send fewer per request"}
	}
	return &adapter.Error{Status: 400, Code: adapter.CodeInvalid, Reason: record.ReasonInvalidJSON, Message: "OTLP: cannot decode the ExportLogsServiceRequest: " + err.Error()}
}

func appendTime(dst []byte, ts pcommon.Timestamp) []byte {
	dst = append(dst, '"')
	dst = time.Unix(0, int64(ts)).UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

// appendRecord appends one LogRecord as a JSON object and a newline.
func appendRecord(dst []byte, lr plog.LogRecord, res pcommon.Map, scope pcommon.InstrumentationScope, flat bool) []byte {
	dst = append(dst, '{')
	field := func(name string) { dst = jsonx.AppendKey(dst, name) }
	ts := lr.Timestamp()
	if ts == 0 {
		ts = lr.ObservedTimestamp()
	}
	if ts != 0 { // else the core adds the receive time
		field("timestamp")
		dst = appendTime(dst, ts)
	}
	if o := lr.ObservedTimestamp(); o != 0 && o != ts {
		field("observed_timestamp")
		dst = appendTime(dst, o)
	}
	if s := lr.SeverityText(); s != "" {
		field("severity_text")
		dst = jsonx.AppendString(dst, s)
	}
	if n := lr.SeverityNumber(); n != 0 {
		field("severity_number")
		dst = strconv.AppendInt(dst, int64(n), 10)
	}
	if b := lr.Body(); b.Type() != pcommon.ValueTypeEmpty {
		field("body")
		dst = appendValue(dst, b)
	}
	if a := lr.Attributes(); a.Len() > 0 {
		field("attributes")
		dst = appendMap(dst, a)
	}
	if res.Len() > 0 && flat {
		res.Range(func(k string, v pcommon.Value) bool {
			if dst[len(dst)-1] != '{' {
				dst = append(dst, ',')
			}
			dst = jsonx.AppendString(dst, "resource."+k)
			dst = append(dst, ':')
			dst = appendValue(dst, v)
			return true
		})
	} else if res.Len() > 0 {
		field("resource")
		dst = appendMap(dst, res)
	}
	if scope.Name() != "" || scope.Version() != "" || scope.Attributes().Len() > 0 {
		field("scope")
		dst = append(dst, '{')
		sep := ""
		if n := scope.Name(); n != "" {
			dst = append(dst, `"name":`...)
			dst = jsonx.AppendString(dst, n)
			sep = ","
		}
		if v := scope.Version(); v != "" {
			dst = append(dst, sep+`"version":`...)
			dst = jsonx.AppendString(dst, v)
			sep = ","
		}
		if a := scope.Attributes(); a.Len() > 0 {
			dst = append(dst, sep+`"attributes":`...)
			dst = appendMap(dst, a)
		}
		dst = append(dst, '}')
	}
	if id := lr.TraceID(); !id.IsEmpty() {
		field("trace_id")
		dst = appendHex(dst, id[:])
	}
	if id := lr.SpanID(); !id.IsEmpty() {
		field("span_id")
		dst = appendHex(dst, id[:])
	}
	if f := lr.Flags(); f != 0 {
		field("flags")
		dst = strconv.AppendUint(dst, uint64(f), 10)
	}
	if n := lr.EventName(); n != "" {
		field("event_name")
		dst = jsonx.AppendString(dst, n)
	}
	return append(dst, "}\n"...)
}

func appendHex(dst, b []byte) []byte {
	dst = append(dst, '"')
	dst = hex.AppendEncode(dst, b)
	return append(dst, '"')
}

func appendMap(dst []byte, m pcommon.Map) []byte {
	dst = append(dst, '{')
	first := true
	// A key twice (OTLP forbids it, the wire allows it) makes the record
	// break I-JSON: the core refuses it into partial_success.
	m.Range(func(k string, v pcommon.Value) bool {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = jsonx.AppendString(dst, k)
		dst = append(dst, ':')
		dst = appendValue(dst, v)
		return true
	})
	return append(dst, '}')
}

// appendValue appends an AnyValue as JSON: strings, numbers, booleans,
// arrays and objects as themselves, bytes as base64, a non-finite double as
// its name in a string.
func appendValue(dst []byte, v pcommon.Value) []byte {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return jsonx.AppendString(dst, v.Str())
	case pcommon.ValueTypeInt:
		return strconv.AppendInt(dst, v.Int(), 10)
	case pcommon.ValueTypeDouble:
		f := v.Double()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return jsonx.AppendString(dst, strconv.FormatFloat(f, 'g', -1, 64))
		}
		return strconv.AppendFloat(dst, f, 'g', -1, 64)
	case pcommon.ValueTypeBool:
		return strconv.AppendBool(dst, v.Bool())
	case pcommon.ValueTypeMap:
		return appendMap(dst, v.Map())
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		dst = append(dst, '[')
		for i := 0; i < s.Len(); i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendValue(dst, s.At(i))
		}
		return append(dst, ']')
	case pcommon.ValueTypeBytes:
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, v.Bytes().AsRaw())
		return append(dst, '"')
	}
	return append(dst, "null"...)
}

func contentType(enc Encoding) string {
	if enc == JSON {
		return "application/json"
	}
	return "application/x-protobuf"
}

// Answer renders the ExportLogsServiceResponse: the records the core
// refused (they are in the rejected-lines store) in partial_success.
func Answer(res *adapter.Result, enc Encoding) adapter.Reply {
	resp := plogotlp.NewExportResponse()
	if res.Rejected > 0 {
		ps := resp.PartialSuccess()
		ps.SetRejectedLogRecords(int64(res.Rejected))
		msg := strconv.Itoa(res.Rejected) + " log records refused"
		if len(res.Errors) > 0 {
			msg += "; the first, record " + strconv.Itoa(res.Errors[0].Line) + ": " + res.Errors[0].Err
		}
		ps.SetErrorMessage(msg)
	}
	var b []byte
	var err error
	if enc == JSON {
		b, err = resp.MarshalJSON()
	} else {
		b, err = resp.MarshalProto()
	}
	if err != nil { // cannot happen for this message; say so rather than lie
		return Error(&adapter.Error{Status: 500, Message: "OTLP: encode the response: " + err.Error()}, enc)
	}
	return adapter.Reply{Status: 200, ContentType: contentType(enc), Body: b}
}

// gRPC status codes of google.rpc.Status.
const (
	codeInvalidArgument   = 3
	codePermissionDenied  = 7
	codeResourceExhausted = 8
	codeInternal          = 13
	codeUnavailable       = 14
	codeUnauthenticated   = 16
)

// Error renders a refusal as a google.rpc.Status in the request's encoding.
// OTLP/HTTP retries only 429, 502, 503 and 504, so a full disk (507) is
// answered 503 with Retry-After: the data is not lost, only delayed.
func Error(e *adapter.Error, enc Encoding) adapter.Reply {
	status, code := e.Status, codeInvalidArgument
	switch {
	case e.Status == 401:
		code = codeUnauthenticated
	case e.Status == 403:
		code = codePermissionDenied
	case e.Status == 413 || e.Status == 429:
		code = codeResourceExhausted
	case e.Status == 503 || e.Status == 507:
		status, code = 503, codeUnavailable
	case e.Status >= 500:
		code = codeInternal
	}
	r := adapter.Reply{Status: status, ContentType: contentType(enc)}
	msg := e.Error()
	if enc == JSON {
		r.Body = append([]byte(`{"code":`+strconv.Itoa(code)+`,"message":`), jsonx.AppendString(nil, msg)...)
		r.Body = append(r.Body, '}')
	} else {
		r.Body = protowire.AppendTag(nil, 1, protowire.VarintType)
		r.Body = protowire.AppendVarint(r.Body, uint64(code))
		r.Body = protowire.AppendTag(r.Body, 2, protowire.BytesType)
		r.Body = protowire.AppendString(r.Body, msg)
	}
	retry := e.RetryAfter
	if status == 503 && retry == 0 {
		retry = 30 // a full disk: come back later
	}
	if retry > 0 && (status == 429 || status == 503) {
		r.Header = []string{"Retry-After", strconv.Itoa(retry)}
	}
	if e.Code == adapter.CodeUnauthorized {
		r.Header = append(r.Header, "WWW-Authenticate", `Bearer realm="ingestd"`)
	}
	return r
}
