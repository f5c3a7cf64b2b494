// Package journald is the adapter for systemd's journal upload:
// systemd-journal-upload (and anything that speaks to
// systemd-journal-remote) POSTs the journal export format
// (Content-Type: application/vnd.fdo.journal) to /upload.
//
// The export format is a series of entries separated by an empty line; a
// field is "NAME=value\n", or, when the value may hold a newline or
// binary, "NAME\n" followed by its length (64-bit little-endian), the
// value and "\n". Each entry is stored as one JSON object with its fields
// under their journal names (MESSAGE, PRIORITY, _HOSTNAME,
// SYSLOG_IDENTIFIER, _SYSTEMD_UNIT, __CURSOR, …) as strings, in the
// entry's order; a value that is not UTF-8 is stored base64; a field given
// twice is an array of its values. __REALTIME_TIMESTAMP (microseconds since
// the epoch) becomes the record's "timestamp" (RFC 3339, UTC), first. The
// answer is 202 "OK.", as systemd-journal-remote gives; errors are plain
// text. It knows nothing of HTTP servers, the WAL or the store.
package journald

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/ingestd/ingestd/ingest/adapter"
	"github.com/ingestd/ingestd/internal/jsonx"
	"github.com/ingestd/ingestd/record"
)

// ContentType is the export format's media type.
const ContentType = "application/vnd.fdo.journal"

// MaxFields is journald's own limit of fields per entry.
const MaxFields = 1024

// Options are the core's options: one bad entry refuses the upload, which
// systemd-journal-upload then retries from the same cursor.
var Options = adapter.Options{}

// Answer is the answer to a stored upload.
func Answer() adapter.Reply {
	return adapter.Reply{Status: 202, ContentType: "text/plain; charset=utf-8", Body: []byte("OK.\n")}
}

// Error renders a refusal as plain text, as systemd-journal-remote does.
func Error(e *adapter.Error) adapter.Reply {
	r := adapter.Reply{Status: e.Status, ContentType: "text/plain; charset=utf-8", Body: []byte(e.Error() + "\n")}
	if e.RetryAfter > 0 && (e.Status == 429 || e.Status == 503) {
		r.Header = []string{"Retry-After", strconv.Itoa(e.RetryAfter)}
	}
	return r
}

func invalid(n int, msg string) *adapter.Error {
	return &adapter.Error{Status: 400, Code: adapter.CodeInvalid, Line: n, Reason: record.ReasonInvalidJSON, Message: msg}
}

// Decoder converts uploads; it keeps the fields of the entry being read.
type Decoder struct {
	fields []field
	order  []int
}

type field struct {
	name, value []byte
	first       int // index of the first field of this name
	count       int // on the first: how many fields have this name
}

// Records appends one record per entry of an export-format body to dst.
func (d *Decoder) Records(dst, body []byte) ([]byte, *adapter.Error) {
	n := 0
	for len(body) > 0 {
		// Skip the empty lines between entries.
		if body[0] == '\n' {
			body = body[1:]
			continue
		}
		n++
		d.fields = d.fields[:0]
		for len(body) > 0 && body[0] != '\n' {
			nl := bytes.IndexByte(body, '\n')
			if nl < 0 {
				nl = len(body) // the last field of a stream without a final newline
			}
			line := body[:nl]
			if eq := bytes.IndexByte(line, '='); eq >= 0 {
				if !validName(line[:eq]) {
					return dst, invalid(n, "entry "+strconv.Itoa(n)+": bad field name "+strconv.Quote(string(line[:eq])))
				}
				d.fields = append(d.fields, field{name: line[:eq], value: line[eq+1:]})
				body = body[min(nl+1, len(body)):]
			} else {
				// Binary form: NAME\n, 64-bit little-endian size, value, \n.
				if !validName(line) {
					return dst, invalid(n, "entry "+strconv.Itoa(n)+": bad field name "+strconv.Quote(string(line)))
				}
				rest := body[min(nl+1, len(body)):]
				if len(rest) < 8 {
					return dst, invalid(n, "entry "+strconv.Itoa(n)+": field "+string(line)+" is cut short")
				}
				size := binary.LittleEndian.Uint64(rest)
				rest = rest[8:]
				if size > uint64(len(rest)) || size == uint64(len(rest)) || rest[size] != '\n' {
					return dst, invalid(n, "entry "+strconv.Itoa(n)+": binary field "+string(line)+" is cut short or not followed by a newline")
				}
				d.fields = append(d.fields, field{name: line, value: rest[:size]})
				body = rest[size+1:]
			}
			if len(d.fields) > MaxFields {
				return dst, invalid(n, "entry "+strconv.Itoa(n)+": more than "+strconv.Itoa(MaxFields)+" fields")
			}
		}
		var e *adapter.Error
		if dst, e = d.appendEntry(dst, n); e != nil {
			return dst, e
		}
	}
	if n == 0 {
		return dst, invalid(0, "no journal entries in the upload")
	}
	return dst, nil
}

// validName: journal field names are upper-case letters, digits and
// underscores, not starting with a digit.
func validName(b []byte) bool {
	if len(b) == 0 || len(b) > 64 || b[0] >= '0' && b[0] <= '9' {
		return false
	}
	for _, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// appendEntry appends the record of d.fields.
func (d *Decoder) appendEntry(dst []byte, n int) ([]byte, *adapter.Error) {
	dst = append(dst, '{')
	first := true
	for _, f := range d.fields {
		if string(f.name) != "__REALTIME_TIMESTAMP" {
			continue
		}
		us, err := strconv.ParseInt(string(f.value), 10, 64)
		if err != nil || us < 0 {
			return dst, invalid(n, "entry "+strconv.Itoa(n)+": __REALTIME_TIMESTAMP "+strconv.Quote(string(f.value))+" is not microseconds")
		}
		dst = append(dst, `"timestamp":"`...)
		dst = time.UnixMicro(us).UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
		first = false
		break
	}
	d.group()
	for i, f := range d.fields {
		if string(f.name) == "__REALTIME_TIMESTAMP" || f.first != i {
			continue // a later field of a name goes with its first
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, '"')
		dst = append(dst, f.name...)
		dst = append(dst, `":`...)
		if f.count == 1 {
			dst = appendValue(dst, f)
			continue
		}
		dst = append(dst, '[')
		for k, g := range d.fields[i:] {
			if g.first == i {
				if k > 0 {
					dst = append(dst, ',')
				}
				dst = appendValue(dst, g)
			}
		}
		dst = append(dst, ']')
	}
	return append(dst, "}\n"...), nil
}

// group sets each field's first and count: a stable sort of their
// indexes by name puts a name's fields together, first occurrence first
// (O(n log n), and nothing allocated once the slice has grown).
func (d *Decoder) group() {
	d.order = d.order[:0]
	for i := range d.fields {
		d.order = append(d.order, i)
	}
	slices.SortStableFunc(d.order, func(a, b int) int { return bytes.Compare(d.fields[a].name, d.fields[b].name) })
	for r := 0; r < len(d.order); {
		e := r + 1
		for e < len(d.order) && bytes.Equal(d.fields[d.order[e]].name, d.fields[d.order[r]].name) {
			e++
		}
		head := d.order[r]
		for _, i := range d.order[r:e] {
			d.fields[i].first = head
		}
		d.fields[head].count = e - r
		r = e
	}
}

// appendValue appends a field's value as a JSON string: as text when it is
// UTF-8, else base64.
func appendValue(dst []byte, f field) []byte {
	if !utf8.Valid(f.value) {
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, f.value)
		return append(dst, '"')
	}
	return jsonx.AppendString(dst, f.value)
}
