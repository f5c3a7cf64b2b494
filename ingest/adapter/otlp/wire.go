package otlp

import (
	"strconv"
	"sync"
	"time"

	"github.com/ingestd/ingestd/internal/jsonx"
)

// The protobuf path: an ExportLogsServiceRequest decoded straight from the
// wire into JSON records, one pass per message and no object per record.
// pdata (the JSON path, and the reference of the differential fuzz target
// FuzzProtoMatchesPdata) builds a tree of Go values first: ≈ 35 allocations
// per record, the larger part of the adapter's cost (docs/BENCHMARKS.md).
//
// It follows pdata's decoder to the byte, so that the two accept the same
// bodies and store the same records: a known field with the wrong wire
// type is an error; unknown fields (groups too) are skipped; for a scalar
// field seen twice the last wins; a message field seen twice merges (its
// repeated fields add up, its scalars and oneof take the last); trace and
// span ids are 0 or 16/8 bytes; nesting of values stops at 100; a
// ResourceLogs without scope_logs takes the deprecated field 1000. Strings
// are copied as they are: invalid UTF-8 reaches the core's record rules,
// which refuse that record into partial_success.

// Field numbers of the OTLP logs schema (opentelemetry-proto v1).
const (
	fRequestResourceLogs = 1

	fResourceLogsResource  = 1
	fResourceLogsScopeLogs = 2
	fResourceLogsSchemaURL = 3
	fResourceLogsOldScope  = 1000

	fResourceAttributes = 1
	fResourceDropped    = 2
	fResourceEntityRefs = 3

	fScopeLogsScope     = 1
	fScopeLogsRecords   = 2
	fScopeLogsSchemaURL = 3

	fScopeName       = 1
	fScopeVersion    = 2
	fScopeAttributes = 3
	fScopeDropped    = 4

	fLogTime       = 1
	fLogSevNumber  = 2
	fLogSevText    = 3
	fLogBody       = 5
	fLogAttributes = 6
	fLogDropped    = 7
	fLogFlags      = 8
	fLogTraceID    = 9
	fLogSpanID     = 10
	fLogObserved   = 11
	fLogEventName  = 12

	fKVKey      = 1
	fKVValue    = 2
	fKVStrindex = 3

	fAnyString   = 1
	fAnyBool     = 2
	fAnyInt      = 3
	fAnyDouble   = 4
	fAnyArray    = 5
	fAnyKvlist   = 6
	fAnyBytes    = 7
	fAnyStrindex = 8
)

// decoder holds one request's scratch, pooled.
type decoder struct {
	max      int      // refuse when the records pass this many bytes; 0 = no limit
	flat     bool     // resource attributes as top-level "resource.<key>" members
	start    int      // where the records begin in dst
	resource []byte   // the current ResourceLogs' attributes as a JSON object, or empty
	scope    []byte   // the current ScopeLogs' scope as a JSON object, or empty
	spans    [][]byte // resource or scope spans being merged
	attrs    [][]byte // the current record's attribute spans
	body     [][]byte // the current record's body spans
	vals     [][]byte // the value spans of the KeyValues being rendered (a stack)
	attrBuf  []byte   // a scope's attributes, rendered before its name and version
}

var decoders = sync.Pool{New: func() any { return new(decoder) }}

// RecordsProto decodes a protobuf ExportLogsServiceRequest and appends one
// record per LogRecord to dst, mapped as m says.
func RecordsProto(dst, body []byte, m Mapping) ([]byte, error) {
	d := decoders.Get().(*decoder)
	d.max, d.flat, d.start = m.Max, m.FlatResource, len(dst)
	start := len(dst)
	out, err := d.request(dst, body)
	d.resource, d.scope, d.vals = d.resource[:0], d.scope[:0], d.vals[:0]
	decoders.Put(d)
	if err != nil {
		return dst[:start], err
	}
	return out, nil
}

func (d *decoder) request(dst, b []byte) ([]byte, error) {
	m := msg{b: b}
	var f field
	for {
		ok, err := m.next(&f)
		if err != nil || !ok {
			return dst, err
		}
		if f.num != fRequestResourceLogs {
			continue
		}
		if err := want(&f, wtLen); err != nil {
			return dst, err
		}
		if dst, err = d.resourceLogs(dst, f.s); err != nil {
			return dst, err
		}
	}
}

func (d *decoder) resourceLogs(dst, b []byte) ([]byte, error) {
	// First pass: the resource (merged from every occurrence, wherever it
	// is) and whether scope_logs is present.
	m := msg{b: b}
	var f field
	d.spans = d.spans[:0]
	hasScopeLogs := false
	for {
		ok, err := m.next(&f)
		if err != nil {
			return dst, err
		}
		if !ok {
			break
		}
		switch f.num {
		case fResourceLogsResource:
			if err := want(&f, wtLen); err != nil {
				return dst, err
			}
			d.spans = append(d.spans, f.s)
		case fResourceLogsScopeLogs:
			if err := want(&f, wtLen); err != nil {
				return dst, err
			}
			hasScopeLogs = true
		case fResourceLogsSchemaURL, fResourceLogsOldScope:
			if err := want(&f, wtLen); err != nil {
				return dst, err
			}
		}
	}
	res, err := d.resourceObject(d.resource[:0], d.spans)
	d.resource = res
	if err != nil {
		return dst, err
	}
	// Second pass: the scope logs; the deprecated field only when there is
	// no scope_logs (validated either way).
	m = msg{b: b}
	for {
		ok, _ := m.next(&f)
		if !ok {
			return dst, nil
		}
		switch {
		case f.num == fResourceLogsScopeLogs:
			dst, err = d.scopeLogs(dst, f.s)
		case f.num == fResourceLogsOldScope && !hasScopeLogs:
			dst, err = d.scopeLogs(dst, f.s)
		case f.num == fResourceLogsOldScope: // ignored, but must decode
			_, err = d.scopeLogs(nil, f.s)
		}
		if err != nil {
			return dst, err
		}
	}
}

// resourceObject renders the attributes of a Resource's occurrences as one
// JSON object, or with flat as "resource.<key>" members (nothing when there
// are none), validating the rest.
func (d *decoder) resourceObject(dst []byte, spans [][]byte) ([]byte, error) {
	prefix := ""
	if d.flat {
		prefix = "resource."
	}
	n := 0
	var f field
	for _, s := range spans {
		m := msg{b: s}
		for {
			ok, err := m.next(&f)
			if err != nil {
				return dst, err
			}
			if !ok {
				break
			}
			switch f.num {
			case fResourceAttributes:
				if err := want(&f, wtLen); err != nil {
					return dst, err
				}
				if n == 0 && !d.flat {
					dst = append(dst, '{')
				} else if n > 0 {
					dst = append(dst, ',')
				}
				n++
				if dst, err = d.keyValue(dst, f.s, prefix, 0); err != nil {
					return dst, err
				}
			case fResourceDropped:
				if err := want(&f, wtVarint); err != nil {
					return dst, err
				}
			case fResourceEntityRefs:
				if err := want(&f, wtLen); err != nil {
					return dst, err
				}
				if err := entityRef(f.s); err != nil {
					return dst, err
				}
			}
		}
	}
	if n > 0 && !d.flat {
		dst = append(dst, '}')
	}
	return dst, nil
}

// entityRef validates an EntityRef: every known field is a string.
func entityRef(b []byte) error {
	m := msg{b: b}
	var f field
	for {
		ok, err := m.next(&f)
		if err != nil || !ok {
			return err
		}
		if f.num >= 1 && f.num <= 4 {
			if err := want(&f, wtLen); err != nil {
				return err
			}
		}
	}
}

func (d *decoder) scopeLogs(dst, b []byte) ([]byte, error) {
	m := msg{b: b}
	var f field
	d.spans = d.spans[:0]
	for {
		ok, err := m.next(&f)
		if err != nil {
			return dst, err
		}
		if !ok {
			break
		}
		switch f.num {
		case fScopeLogsScope:
			if err := want(&f, wtLen); err != nil {
				return dst, err
			}
			d.spans = append(d.spans, f.s)
		case fScopeLogsRecords, fScopeLogsSchemaURL:
			if err := want(&f, wtLen); err != nil {
				return dst, err
			}
		}
	}
	sc, err := d.scopeObject(d.scope[:0], d.spans)
	d.scope = sc
	if err != nil {
		return dst, err
	}
	m = msg{b: b}
	for {
		ok, _ := m.next(&f)
		if !ok {
			return dst, nil
		}
		if f.num == fScopeLogsRecords {
			if dst, err = d.logRecord(dst, f.s); err != nil {
				return dst, err
			}
			if d.max > 0 && len(dst)-d.start > d.max {
				return dst, errTooLarge
			}
		}
	}
}

// scopeObject renders an InstrumentationScope (merged from its
// occurrences) as {"name","version","attributes"}, or nothing when all are
// empty.
func (d *decoder) scopeObject(dst []byte, spans [][]byte) ([]byte, error) {
	var name, version []byte
	var f field
	attrs := d.attrBuf[:0]
	defer func() { d.attrBuf = attrs[:0] }()
	n := 0
	for _, s := range spans {
		m := msg{b: s}
		for {
			ok, err := m.next(&f)
			if err != nil {
				return dst, err
			}
			if !ok {
				break
			}
			switch f.num {
			case fScopeName, fScopeVersion:
				if err := want(&f, wtLen); err != nil {
					return dst, err
				}
				if f.num == fScopeName {
					name = f.s
				} else {
					version = f.s
				}
			case fScopeAttributes:
				if err := want(&f, wtLen); err != nil {
					return dst, err
				}
				if n > 0 {
					attrs = append(attrs, ',')
				}
				n++
				if attrs, err = d.keyValue(attrs, f.s, "", 0); err != nil {
					return dst, err
				}
			case fScopeDropped:
				if err := want(&f, wtVarint); err != nil {
					return dst, err
				}
			}
		}
	}
	if len(name) == 0 && len(version) == 0 && n == 0 {
		return dst, nil
	}
	dst = append(dst, '{')
	if len(name) > 0 {
		dst = append(dst, `"name":`...)
		dst = appendString(dst, name)
	}
	if len(version) > 0 {
		dst = jsonx.AppendKey(dst, "version")
		dst = appendString(dst, version)
	}
	if n > 0 {
		dst = jsonx.AppendKey(dst, "attributes")
		dst = append(dst, '{')
		dst = append(dst, attrs...)
		dst = append(dst, '}')
	}
	return append(dst, '}'), nil
}

// logRecord appends one LogRecord as a JSON object and a newline.
func (d *decoder) logRecord(dst, b []byte) ([]byte, error) {
	var (
		ts, observed    uint64
		sevNum          int32
		flags           uint32
		sevText, evName []byte
		traceID, spanID []byte
		f               field
	)
	d.attrs, d.body = d.attrs[:0], d.body[:0]
	m := msg{b: b}
	for {
		ok, err := m.next(&f)
		if err != nil {
			return dst, err
		}
		if !ok {
			break
		}
		switch f.num {
		case fLogTime, fLogObserved:
			if err := want(&f, wtI64); err != nil {
				return dst, err
			}
			if f.num == fLogTime {
				ts = f.v
			} else {
				observed = f.v
			}
		case fLogSevNumber, fLogDropped:
			if err := want(&f, wtVarint); err != nil {
				return dst, err
			}
			if f.num == fLogSevNumber {
				sevNum = int32(f.v)
			}
		case fLogFlags:
			if err := want(&f, wtI32); err != nil {
				return dst, err
			}
			flags = uint32(f.v)
		case fLogSevText, fLogEventName, fLogBody, fLogAttributes, fLogTraceID, fLogSpanID:
			if err := want(&f, wtLen); err != nil {
				return dst, err
			}
			switch f.num {
			case fLogSevText:
				sevText = f.s
			case fLogEventName:
				evName = f.s
			case fLogBody:
				d.body = append(d.body, f.s)
			case fLogAttributes:
				d.attrs = append(d.attrs, f.s)
			case fLogTraceID:
				if len(f.s) != 0 && len(f.s) != 16 {
					return dst, errTraceID
				}
				traceID = f.s
			case fLogSpanID:
				if len(f.s) != 0 && len(f.s) != 8 {
					return dst, errSpanID
				}
				spanID = f.s
			}
		}
	}
	dst = append(dst, '{')
	t := ts
	if t == 0 {
		t = observed
	}
	if t != 0 { // else the core adds the receive time
		dst = jsonx.AppendKey(dst, "timestamp")
		dst = appendNanos(dst, t)
	}
	if observed != 0 && observed != t {
		dst = jsonx.AppendKey(dst, "observed_timestamp")
		dst = appendNanos(dst, observed)
	}
	if len(sevText) > 0 {
		dst = jsonx.AppendKey(dst, "severity_text")
		dst = appendString(dst, sevText)
	}
	if sevNum != 0 {
		dst = jsonx.AppendKey(dst, "severity_number")
		dst = strconv.AppendInt(dst, int64(sevNum), 10)
	}
	if len(d.body) > 0 {
		mark := len(dst)
		dst = jsonx.AppendKey(dst, "body")
		vmark := len(dst)
		var err error
		if dst, err = d.anyValue(dst, d.body, 0); err != nil {
			return dst, err
		}
		if len(dst) == vmark { // an empty AnyValue: no body
			dst = dst[:mark]
		}
	}
	if len(d.attrs) > 0 {
		dst = jsonx.AppendKey(dst, "attributes")
		dst = append(dst, '{')
		for i, a := range d.attrs {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = d.keyValue(dst, a, "", 0); err != nil {
				return dst, err
			}
		}
		dst = append(dst, '}')
	}
	if len(d.resource) > 0 && d.flat {
		if dst[len(dst)-1] != '{' {
			dst = append(dst, ',')
		}
		dst = append(dst, d.resource...)
	} else if len(d.resource) > 0 {
		dst = jsonx.AppendKey(dst, "resource")
		dst = append(dst, d.resource...)
	}
	if len(d.scope) > 0 {
		dst = jsonx.AppendKey(dst, "scope")
		dst = append(dst, d.scope...)
	}
	if len(traceID) > 0 && !allZero(traceID) {
		dst = jsonx.AppendKey(dst, "trace_id")
		dst = appendHex(dst, traceID)
	}
	if len(spanID) > 0 && !allZero(spanID) {
		dst = jsonx.AppendKey(dst, "span_id")
		dst = appendHex(dst, spanID)
	}
	if flags != 0 {
		dst = jsonx.AppendKey(dst, "flags")
		dst = strconv.AppendUint(dst, uint64(flags), 10)
	}
	if len(evName) > 0 {
		dst = jsonx.AppendKey(dst, "event_name")
		dst = appendString(dst, evName)
	}
	return append(dst, '}', '\n'), nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func appendNanos(dst []byte, ns uint64) []byte {
	dst = append(dst, '"')
	dst = time.Unix(0, int64(ns)).UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}
