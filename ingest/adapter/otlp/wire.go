package otlp

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
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

// Wire types.
const (
	wtVarint     = 0
	wtI64        = 1
	wtLen        = 2
	wtStartGroup = 3
	wtEndGroup   = 4
	wtI32        = 5
)

// recursionLimit is pdata's bound on nested values.
const recursionLimit = 100

var (
	errEOF       = errors.New("unexpected end of message")
	errOverflow  = errors.New("varint overflows 64 bits")
	errEndGroup  = errors.New("unexpected end of group")
	errDepth     = errors.New("values nested deeper than 100")
	errTraceID   = errors.New("trace_id is not 16 bytes")
	errSpanID    = errors.New("span_id is not 8 bytes")
	errTooLarge  = errors.New("the records exceed the size limit")
	errLenLength = errors.New("negative length")
)

// field is one decoded field: its number and wire type, and its value (v
// for varint, i64 and i32; s for length-delimited).
type field struct {
	num int32
	typ int8
	v   uint64
	s   []byte
}

// msg walks the fields of one message.
type msg struct {
	b   []byte
	pos int
}

func varint(b []byte, pos int) (uint64, int, error) {
	if pos < len(b) && b[pos] < 0x80 { // most lengths and tags
		return uint64(b[pos]), pos + 1, nil
	}
	var n uint64
	for shift := uint(0); ; shift += 7 {
		if shift >= 64 {
			return 0, 0, errOverflow
		}
		if pos >= len(b) {
			return 0, 0, errEOF
		}
		c := b[pos]
		pos++
		n |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return n, pos, nil
		}
	}
}

func tag(b []byte, pos int) (int32, int8, int, error) {
	t, pos, err := varint(b, pos)
	if err != nil {
		return 0, 0, 0, err
	}
	num := int32(t >> 3)
	if num <= 0 {
		return 0, 0, 0, fmt.Errorf("illegal field number %d", num)
	}
	return num, int8(t & 7), pos, nil
}

// consume reads the value of a field of wire type typ at pos, as pdata's
// ConsumeUnknown does: a group ends at its first scalar field (what
// follows is read as fields of the enclosing message, so its end tag then
// fails it) or at its matching end when it holds only groups.
func consume(b []byte, pos int, typ int8, f *field) (int, error) {
	depth := 0
	for pos < len(b) {
		switch typ {
		case wtVarint, wtI64, wtLen, wtI32:
			return value(b, pos, typ, f)
		case wtStartGroup:
			depth++
		case wtEndGroup:
			if depth == 0 {
				return 0, errEndGroup
			}
			depth--
		default:
			return 0, fmt.Errorf("illegal wire type %d", typ)
		}
		if depth == 0 {
			return pos, nil
		}
		_, t, p, err := tag(b, pos)
		if err != nil {
			return 0, err
		}
		typ, pos = t, p
	}
	return 0, errEOF
}

// value reads the value of a scalar or length-delimited field at pos.
func value(b []byte, pos int, typ int8, f *field) (int, error) {
	var err error
	switch typ {
	case wtVarint:
		f.v, pos, err = varint(b, pos)
		return pos, err
	case wtI64:
		if len(b)-pos < 8 {
			return 0, errEOF
		}
		f.v = binary.LittleEndian.Uint64(b[pos:])
		return pos + 8, nil
	case wtI32:
		if len(b)-pos < 4 {
			return 0, errEOF
		}
		f.v = uint64(binary.LittleEndian.Uint32(b[pos:]))
		return pos + 4, nil
	case wtLen:
		var n uint64
		if n, pos, err = varint(b, pos); err != nil {
			return 0, err
		}
		if int(n) < 0 {
			return 0, errLenLength
		}
		if uint64(len(b)-pos) < n {
			return 0, errEOF
		}
		f.s = b[pos : pos+int(n)]
		return pos + int(n), nil
	}
	return 0, fmt.Errorf("illegal wire type %d", typ)
}

// next reads the next field; ok is false at the end of the message.
func (m *msg) next(f *field) (ok bool, err error) {
	if m.pos >= len(m.b) {
		return false, nil
	}
	num, typ, pos, err := tag(m.b, m.pos)
	if err != nil {
		return false, err
	}
	f.num, f.typ, f.v, f.s = num, typ, 0, nil
	if typ == wtLen || typ == wtVarint || typ == wtI64 || typ == wtI32 {
		m.pos, err = value(m.b, pos, typ, f) // what consume does for these
	} else {
		m.pos, err = consume(m.b, pos, typ, f)
	}
	return err == nil, err
}

// want checks a known field's wire type.
func want(f *field, typ int8) error {
	if f.typ != typ {
		return fmt.Errorf("field %d has wire type %d, want %d", f.num, f.typ, typ)
	}
	return nil
}

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

// keyValue appends a KeyValue as "<prefix>key":value (a missing value is
// null).
func (d *decoder) keyValue(dst, b []byte, prefix string, depth int) ([]byte, error) {
	if depth >= recursionLimit {
		return dst, errDepth
	}
	depth++
	var key []byte
	m := msg{b: b}
	var f field
	first := len(d.vals)
	for {
		ok, err := m.next(&f)
		if err != nil {
			d.vals = d.vals[:first]
			return dst, err
		}
		if !ok {
			break
		}
		switch f.num {
		case fKVKey:
			if err := want(&f, wtLen); err != nil {
				d.vals = d.vals[:first]
				return dst, err
			}
			key = f.s
		case fKVValue:
			if err := want(&f, wtLen); err != nil {
				d.vals = d.vals[:first]
				return dst, err
			}
			d.vals = append(d.vals, f.s)
		case fKVStrindex:
			if err := want(&f, wtVarint); err != nil {
				d.vals = d.vals[:first]
				return dst, err
			}
		}
	}
	dst = append(dst, '"')
	dst = append(dst, prefix...)
	dst = appendEscaped(dst, key)
	dst = append(dst, '"', ':')
	// The spans stay on d.vals (a stack: nested KeyValues push above them)
	// until the value is rendered.
	mark := len(dst)
	dst, err := d.anyValue(dst, d.vals[first:], depth)
	d.vals = d.vals[:first]
	if err == nil && len(dst) == mark {
		dst = append(dst, "null"...)
	}
	return dst, err
}

// wantAny checks the wire type of an AnyValue's value field.
func wantAny(f *field) error {
	switch f.num {
	case fAnyString, fAnyArray, fAnyKvlist, fAnyBytes:
		return want(f, wtLen)
	case fAnyBool, fAnyInt, fAnyStrindex:
		return want(f, wtVarint)
	case fAnyDouble:
		return want(f, wtI64)
	}
	return nil
}

// anyValue appends the AnyValue made of spans (one message's occurrences,
// merged: the last value field wins) as JSON; nothing for an empty one.
func (d *decoder) anyValue(dst []byte, spans [][]byte, depth int) ([]byte, error) {
	if depth >= recursionLimit {
		return dst, errDepth
	}
	depth++
	// The last value field wins; earlier nested ones are still decoded (a
	// broken one fails the request, as in pdata).
	var last field
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
			if f.num < fAnyString || f.num > fAnyStrindex {
				continue
			}
			if err := wantAny(&f); err != nil {
				return dst, err
			}
			if last.num == fAnyArray || last.num == fAnyKvlist {
				// Replaced: decode it for its errors only (a crafted
				// body; the buffer is not pooled).
				if _, err := d.value(nil, &last, depth); err != nil {
					return dst, err
				}
			}
			last = f
		}
	}
	return d.value(dst, &last, depth)
}

// value renders one AnyValue field.
func (d *decoder) value(dst []byte, f *field, depth int) ([]byte, error) {
	switch f.num {
	case fAnyString:
		return appendString(dst, f.s), nil
	case fAnyBool:
		return strconv.AppendBool(dst, f.v != 0), nil
	case fAnyInt:
		return strconv.AppendInt(dst, int64(f.v), 10), nil
	case fAnyDouble:
		x := math.Float64frombits(f.v)
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return jsonx.AppendString(dst, strconv.FormatFloat(x, 'g', -1, 64)), nil
		}
		return strconv.AppendFloat(dst, x, 'g', -1, 64), nil
	case fAnyBytes:
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, f.s)
		return append(dst, '"'), nil
	case fAnyStrindex:
		// A profiles dictionary index: no value in logs (pdata: empty).
		return dst, nil
	case fAnyArray:
		return d.list(dst, f.s, depth, false)
	case fAnyKvlist:
		return d.list(dst, f.s, depth, true)
	}
	return dst, nil // no value field: empty
}

// list renders the repeated field 1 of an ArrayValue (kv false: [...],
// each an AnyValue, an empty one null) or of a KeyValueList (kv true:
// {...}, each a KeyValue).
func (d *decoder) list(dst, b []byte, depth int, kv bool) ([]byte, error) {
	if depth >= recursionLimit {
		return dst, errDepth
	}
	depth++
	open, close := byte('['), byte(']')
	if kv {
		open, close = '{', '}'
	}
	dst = append(dst, open)
	m := msg{b: b}
	var f field
	n := 0
	for {
		ok, err := m.next(&f)
		if err != nil {
			return dst, err
		}
		if !ok {
			break
		}
		if f.num != 1 {
			continue
		}
		if err := want(&f, wtLen); err != nil {
			return dst, err
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		if kv {
			dst, err = d.keyValue(dst, f.s, "", depth)
		} else {
			mark := len(dst)
			one := [1][]byte{f.s}
			if dst, err = d.anyValue(dst, one[:], depth); len(dst) == mark {
				dst = append(dst, "null"...)
			}
		}
		if err != nil {
			return dst, err
		}
	}
	return append(dst, close), nil
}

// appendString appends b as a JSON string literal.
func appendString(dst, b []byte) []byte {
	dst = append(dst, '"')
	dst = appendEscaped(dst, b)
	return append(dst, '"')
}

// appendEscaped appends b escaped for a JSON string; runs that need no
// escaping are copied whole, eight bytes tested at a time.
func appendEscaped(dst, b []byte) []byte {
	const hexd = "0123456789abcdef"
	start, i := 0, 0
	for {
		for ; i+8 <= len(b) && !needsEscape(binary.LittleEndian.Uint64(b[i:])); i += 8 {
		}
		if i >= len(b) {
			break
		}
		c := b[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			i++
			continue
		}
		dst = append(dst, b[start:i]...)
		if c < 0x20 {
			dst = append(dst, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&0xf])
		} else {
			dst = append(dst, '\\', c)
		}
		i++
		start = i
	}
	return append(dst, b[start:]...)
}

// needsEscape reports whether one of x's bytes is a control character, a
// quote or a backslash (SWAR; bytes ≥ 0x80 never match).
func needsEscape(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	lt := (x - ones*0x20) &^ x // high bit set for a byte < 0x20 (a borrow may flag more: the byte loop checks)
	q := x ^ (ones * '"')      // zero bytes where x is '"'
	bs := x ^ (ones * '\\')    // zero bytes where x is '\\'
	zq := (q - ones) &^ q      // high bit set where q has a zero byte
	zb := (bs - ones) &^ bs
	return (lt|zq|zb)&highs != 0
}
