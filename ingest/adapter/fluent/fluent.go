// Package fluent is the adapter for Fluentd's forward protocol (v1), which
// Fluent Bit, Fluentd and the Fluent loggers speak between nodes: a stream
// of MessagePack arrays, each in one of four modes,
//
//   - Message:  [tag, time, record, option?]
//   - Forward:  [tag, [[time, record], …], option?]
//   - PackedForward: [tag, bin or str holding [time, record] entries one
//     after another, option?]
//   - CompressedPackedForward: the same, gzip-compressed, with option
//     {"compressed": "gzip"}.
//
// Each event is stored as {"timestamp":"<RFC 3339 ns, UTC>","tag":"<tag>",
// "record":{…}}: the event time (EventTime, an integer or a float of Unix
// seconds), the tag, and the record converted to JSON (strings as strings,
// invalid UTF-8 replaced by U+FFFD; binary as a string when it is UTF-8,
// else base64; NaN and infinities as
// strings; the MessagePack timestamp extension and EventTime as RFC 3339;
// other extensions as base64; keys that are not strings as their JSON text).
// An option's "chunk" asks for an acknowledgement, {"ack": chunk}, which the
// listener sends once the events are durable (Ack). Helo, ParsePing, Digest
// and Pong are the shared-key handshake. It knows nothing of sockets, the
// WAL or the store.
package fluent

import (
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/tinylib/msgp/msgp"

	"github.com/ingestd/ingestd/ingest/adapter"
	"github.com/ingestd/ingestd/internal/jsonx"
)

// Options are the core's options: a record the rules refuse (a key twice,
// a timestamp out of the window) is left out and counted, the rest stored,
// since forward has no way to refuse one event of a chunk.
var Options = adapter.Options{Skip: true, KeepBad: true}

// maxDepth bounds the nesting of a record (the record rules bound it again,
// tighter, after conversion).
const maxDepth = 512

// ErrShort is returned by Next while the buffer holds no whole message.
var ErrShort = errors.New("fluent: incomplete message")

// Next returns the length of the first whole MessagePack value in b, or
// ErrShort when b ends inside it.
func Next(b []byte) (int, error) {
	rest, err := msgp.Skip(b)
	if err != nil {
		if errors.Is(err, msgp.ErrShortBytes) {
			return 0, ErrShort
		}
		return 0, fmt.Errorf("fluent: not MessagePack: %w", err)
	}
	return len(b) - len(rest), nil
}

// Message is one decoded forward message.
type Message struct {
	Tag    []byte // points into the message
	Chunk  []byte // the option's chunk id: answer Ack(Chunk) once durable; nil for none
	Events int    // events converted
}

// Decoder converts messages; it keeps its scratch space (a gzip reader and
// the inflated entries) across messages of one connection.
type Decoder struct {
	// MaxInflated bounds a CompressedPackedForward message's entries once
	// inflated.
	MaxInflated int

	gz       *gzip.Reader
	inflated []byte
}

// Records appends the records of the forward message msg (one whole value,
// as Next found it) to dst.
func (d *Decoder) Records(dst, msg []byte) ([]byte, Message, error) {
	var m Message
	n, b, err := msgp.ReadArrayHeaderBytes(msg)
	if err != nil || n < 2 || n > 4 {
		return dst, m, fmt.Errorf("fluent: a message is an array of 2 to 4 elements (got %d, %v)", n, err)
	}
	if m.Tag, b, err = readStr(b); err != nil {
		return dst, m, fmt.Errorf("fluent: tag: %w", err)
	}
	entries := b
	if b, err = msgp.Skip(b); err != nil {
		return dst, m, fmt.Errorf("fluent: events: %w", err)
	}
	entries = entries[:len(entries)-len(b)]
	// Message mode has time and record, then maybe the option.
	var record []byte
	mode := msgp.NextType(entries)
	if mode != msgp.ArrayType && mode != msgp.StrType && mode != msgp.BinType {
		if n < 3 {
			return dst, m, errors.New("fluent: a Message mode event needs a time and a record")
		}
		record = b
		if b, err = msgp.Skip(b); err != nil {
			return dst, m, fmt.Errorf("fluent: record: %w", err)
		}
		record = record[:len(record)-len(b)]
		n--
	}
	compressed := false
	if n == 3 { // the option map
		if compressed, m.Chunk, err = option(b); err != nil {
			return dst, m, err
		}
	}
	switch {
	case record != nil:
		ts, _, err := readTime(entries)
		if err != nil {
			return dst, m, err
		}
		if dst, err = appendEvent(dst, m.Tag, ts, record); err != nil {
			return dst, m, err
		}
		m.Events = 1
	case mode == msgp.ArrayType:
		k, e, err := msgp.ReadArrayHeaderBytes(entries)
		if err != nil {
			return dst, m, fmt.Errorf("fluent: events: %w", err)
		}
		for i := uint32(0); i < k; i++ {
			if dst, e, err = d.entry(dst, m.Tag, e); err != nil {
				return dst, m, fmt.Errorf("fluent: event %d: %w", i+1, err)
			}
			m.Events++
		}
	default: // PackedForward: the entries one after another in a str or bin
		packed, _, err := readStr(entries)
		if err != nil {
			return dst, m, fmt.Errorf("fluent: packed events: %w", err)
		}
		if compressed {
			if packed, err = d.inflate(packed); err != nil {
				return dst, m, err
			}
		}
		for len(packed) > 0 {
			if dst, packed, err = d.entry(dst, m.Tag, packed); err != nil {
				return dst, m, fmt.Errorf("fluent: event %d: %w", m.Events+1, err)
			}
			m.Events++
		}
	}
	return dst, m, nil
}

// entry appends the record of one [time, record] entry.
func (d *Decoder) entry(dst, tag, b []byte) ([]byte, []byte, error) {
	n, b, err := msgp.ReadArrayHeaderBytes(b)
	if err != nil || n != 2 {
		return dst, nil, fmt.Errorf("an entry is [time, record] (got %d elements, %v)", n, err)
	}
	ts, b, err := readTime(b)
	if err != nil {
		return dst, nil, err
	}
	rec := b
	if b, err = msgp.Skip(b); err != nil {
		return dst, nil, fmt.Errorf("record: %w", err)
	}
	dst, err = appendEvent(dst, tag, ts, rec[:len(rec)-len(b)])
	return dst, b, err
}

// inflate gunzips a CompressedPackedForward payload (several gzip members
// may follow each other) into the decoder's buffer.
func (d *Decoder) inflate(z []byte) ([]byte, error) {
	var err error
	if d.gz == nil {
		d.gz, err = gzip.NewReader(bytes.NewReader(z))
	} else {
		err = d.gz.Reset(bytes.NewReader(z))
	}
	if err != nil {
		return nil, fmt.Errorf("fluent: compressed events: %w", err)
	}
	d.gz.Multistream(true)
	limit := d.MaxInflated
	if limit <= 0 {
		limit = 64 << 20
	}
	buf := bytes.NewBuffer(d.inflated[:0])
	n, err := io.Copy(buf, io.LimitReader(d.gz, int64(limit)+1))
	d.inflated = buf.Bytes()
	switch {
	case err != nil:
		return nil, fmt.Errorf("fluent: compressed events: %w", err)
	case n > int64(limit):
		return nil, fmt.Errorf("fluent: compressed events inflate to more than %d bytes", limit)
	}
	return d.inflated, nil
}

// option reads the option map: whether the entries are gzip-compressed, and
// the chunk id to acknowledge.
func option(b []byte) (compressed bool, chunk []byte, err error) {
	if msgp.IsNil(b) {
		return false, nil, nil
	}
	n, b, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		return false, nil, fmt.Errorf("fluent: option: %w", err)
	}
	for i := uint32(0); i < n; i++ {
		var k, v []byte
		if k, b, err = readStr(b); err != nil {
			return false, nil, fmt.Errorf("fluent: option key: %w", err)
		}
		switch string(k) {
		case "chunk":
			if chunk, b, err = readStr(b); err != nil {
				return false, nil, fmt.Errorf("fluent: option chunk: %w", err)
			}
			continue
		case "compressed":
			if v, b, err = readStr(b); err != nil {
				return false, nil, fmt.Errorf("fluent: option compressed: %w", err)
			}
			switch string(v) {
			case "gzip":
				compressed = true
			case "text", "":
			default:
				return false, nil, fmt.Errorf("fluent: option compressed: %q (gzip or text)", v)
			}
			continue
		}
		if b, err = msgp.Skip(b); err != nil {
			return false, nil, fmt.Errorf("fluent: option: %w", err)
		}
	}
	return compressed, chunk, nil
}

// Helo appends the server's greeting of the shared-key handshake:
// ["HELO", {"nonce": nonce, "auth": "", "keepalive": true}] (no user
// authentication: the shared key is the credential).
func Helo(dst, nonce []byte) []byte {
	dst = msgp.AppendArrayHeader(dst, 2)
	dst = msgp.AppendString(dst, "HELO")
	dst = msgp.AppendMapHeader(dst, 3)
	dst = msgp.AppendString(dst, "nonce")
	dst = msgp.AppendBytes(dst, nonce)
	dst = msgp.AppendString(dst, "auth")
	dst = msgp.AppendBytes(dst, nil)
	dst = msgp.AppendString(dst, "keepalive")
	return msgp.AppendBool(dst, true)
}

// Ping is a client's answer to HELO.
type Ping struct {
	Hostname, Salt, Digest []byte
}

// ParsePing reads ["PING", hostname, shared_key_salt, digest, username,
// password].
func ParsePing(b []byte) (Ping, error) {
	var p Ping
	n, b, err := msgp.ReadArrayHeaderBytes(b)
	if err != nil || n != 6 {
		return p, fmt.Errorf("fluent: a PING is an array of 6 (got %d, %v)", n, err)
	}
	var typ []byte
	if typ, b, err = readStr(b); err != nil || string(typ) != "PING" {
		return p, fmt.Errorf("fluent: expected PING, got %q (%v)", typ, err)
	}
	if p.Hostname, b, err = readStr(b); err == nil {
		if p.Salt, b, err = readStr(b); err == nil {
			p.Digest, _, err = readStr(b)
		}
	}
	if err != nil {
		return p, fmt.Errorf("fluent: PING: %w", err)
	}
	return p, nil
}

// Digest is the handshake's proof of a shared key: the hex SHA-512 of
// salt, hostname, nonce and key.
func Digest(salt, hostname, nonce, key []byte) []byte {
	h := sha512.New()
	h.Write(salt)
	h.Write(hostname)
	h.Write(nonce)
	h.Write(key)
	return hex.AppendEncode(nil, h.Sum(nil))
}

// Pong appends the server's answer: ["PONG", ok, reason, hostname,
// digest], the digest proving the server knows the key too.
func Pong(dst []byte, ok bool, reason string, hostname, digest []byte) []byte {
	dst = msgp.AppendArrayHeader(dst, 5)
	dst = msgp.AppendString(dst, "PONG")
	dst = msgp.AppendBool(dst, ok)
	dst = msgp.AppendString(dst, reason)
	dst = msgp.AppendStringFromBytes(dst, hostname)
	return msgp.AppendStringFromBytes(dst, digest)
}

// Ack appends the acknowledgement of chunk: {"ack": chunk}.
func Ack(dst, chunk []byte) []byte {
	dst = msgp.AppendMapHeader(dst, 1)
	dst = msgp.AppendString(dst, "ack")
	return msgp.AppendStringFromBytes(dst, chunk)
}

// readStr reads a str or bin.
func readStr(b []byte) ([]byte, []byte, error) {
	if msgp.NextType(b) == msgp.BinType {
		return msgp.ReadBytesZC(b)
	}
	return msgp.ReadStringZC(b)
}

// readTime reads an event time: EventTime (ext 0: seconds and nanoseconds,
// big-endian uint32 each), an integer or a float of Unix seconds.
func readTime(b []byte) (time.Time, []byte, error) {
	switch msgp.NextType(b) {
	case msgp.IntType, msgp.UintType:
		s, o, err := msgp.ReadInt64Bytes(b)
		return time.Unix(s, 0), o, err
	case msgp.Float64Type, msgp.Float32Type:
		f, o, err := msgp.ReadFloat64Bytes(b)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return time.Time{}, nil, fmt.Errorf("fluent: time %v is no time (%v)", f, err)
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)), o, nil
	case msgp.ExtensionType, msgp.TimeType:
		typ, data, o, err := readExt(b)
		if err != nil {
			return time.Time{}, nil, err
		}
		if t, ok := extTime(typ, data); ok {
			return t, o, nil
		}
		return time.Time{}, nil, fmt.Errorf("fluent: time is extension type %d, not EventTime", typ)
	}
	return time.Time{}, nil, fmt.Errorf("fluent: time is a %s, not EventTime or a number", msgp.NextType(b))
}

// extTime decodes EventTime (type 0) and MessagePack's timestamp (type -1).
func extTime(typ int8, data []byte) (time.Time, bool) {
	switch {
	case typ == 0 && len(data) == 8:
		return time.Unix(int64(binary.BigEndian.Uint32(data)), int64(binary.BigEndian.Uint32(data[4:]))), true
	case typ == -1 && len(data) == 4:
		return time.Unix(int64(binary.BigEndian.Uint32(data)), 0), true
	case typ == -1 && len(data) == 8:
		v := binary.BigEndian.Uint64(data)
		return time.Unix(int64(v&(1<<34-1)), int64(v>>34)), true
	case typ == -1 && len(data) == 12:
		return time.Unix(int64(binary.BigEndian.Uint64(data[4:])), int64(binary.BigEndian.Uint32(data))), true
	}
	return time.Time{}, false
}

// readExt reads an extension's type and data.
func readExt(b []byte) (int8, []byte, []byte, error) {
	if len(b) < 2 {
		return 0, nil, nil, msgp.ErrShortBytes
	}
	var size, hdr int
	switch b[0] {
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16
		size, hdr = 1<<(b[0]-0xd4), 1
	case 0xc7:
		size, hdr = int(b[1]), 2
	case 0xc8:
		if len(b) < 3 {
			return 0, nil, nil, msgp.ErrShortBytes
		}
		size, hdr = int(binary.BigEndian.Uint16(b[1:])), 3
	case 0xc9:
		if len(b) < 5 {
			return 0, nil, nil, msgp.ErrShortBytes
		}
		size, hdr = int(binary.BigEndian.Uint32(b[1:])), 5
	default:
		return 0, nil, nil, fmt.Errorf("fluent: 0x%02x is no extension", b[0])
	}
	if len(b) < hdr+1+size {
		return 0, nil, nil, msgp.ErrShortBytes
	}
	return int8(b[hdr]), b[hdr+1 : hdr+1+size], b[hdr+1+size:], nil
}

// appendEvent appends {"timestamp":…,"tag":…,"record":…}\n.
func appendEvent(dst, tag []byte, ts time.Time, record []byte) ([]byte, error) {
	start := len(dst)
	dst = append(dst, `{"timestamp":"`...)
	dst = ts.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","tag":`...)
	dst = appendText(dst, tag)
	dst = append(dst, `,"record":`...)
	var err error
	if dst, _, err = appendJSON(dst, record, 0); err != nil {
		return dst[:start], fmt.Errorf("record: %w", err)
	}
	return append(dst, "}\n"...), nil
}

// appendJSON appends the MessagePack value at b as JSON and returns the
// rest of b.
func appendJSON(dst, b []byte, depth int) ([]byte, []byte, error) {
	if depth > maxDepth {
		return dst, nil, fmt.Errorf("nested deeper than %d", maxDepth)
	}
	var err error
	switch msgp.NextType(b) {
	case msgp.NilType:
		b, err = msgp.ReadNilBytes(b)
		dst = append(dst, "null"...)
	case msgp.BoolType:
		var v bool
		v, b, err = msgp.ReadBoolBytes(b)
		dst = strconv.AppendBool(dst, v)
	case msgp.IntType:
		var v int64
		v, b, err = msgp.ReadInt64Bytes(b)
		dst = strconv.AppendInt(dst, v, 10)
	case msgp.UintType:
		var v uint64
		v, b, err = msgp.ReadUint64Bytes(b)
		dst = strconv.AppendUint(dst, v, 10)
	case msgp.Float32Type, msgp.Float64Type:
		var v float64
		bits := 64
		if msgp.NextType(b) == msgp.Float32Type {
			var f float32
			f, b, err = msgp.ReadFloat32Bytes(b)
			v, bits = float64(f), 32
		} else {
			v, b, err = msgp.ReadFloat64Bytes(b)
		}
		switch {
		case math.IsNaN(v):
			dst = append(dst, `"NaN"`...)
		case math.IsInf(v, 1):
			dst = append(dst, `"Infinity"`...)
		case math.IsInf(v, -1):
			dst = append(dst, `"-Infinity"`...)
		default:
			dst = strconv.AppendFloat(dst, v, 'g', -1, bits)
		}
	case msgp.StrType:
		var v []byte
		if v, b, err = msgp.ReadStringZC(b); err == nil {
			dst = appendText(dst, v)
		}
	case msgp.BinType:
		var v []byte
		if v, b, err = msgp.ReadBytesZC(b); err == nil {
			dst = appendBin(dst, v)
		}
	case msgp.ExtensionType, msgp.TimeType:
		var typ int8
		var data []byte
		if typ, data, b, err = readExt(b); err == nil {
			if t, ok := extTime(typ, data); ok {
				dst = append(dst, '"')
				dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
				dst = append(dst, '"')
			} else {
				dst = append(dst, '"')
				dst = base64.StdEncoding.AppendEncode(dst, data)
				dst = append(dst, '"')
			}
		}
	case msgp.ArrayType:
		var n uint32
		if n, b, err = msgp.ReadArrayHeaderBytes(b); err != nil {
			break
		}
		dst = append(dst, '[')
		for i := uint32(0); i < n && err == nil; i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst, b, err = appendJSON(dst, b, depth+1)
		}
		dst = append(dst, ']')
	case msgp.MapType:
		var n uint32
		if n, b, err = msgp.ReadMapHeaderBytes(b); err != nil {
			break
		}
		dst = append(dst, '{')
		for i := uint32(0); i < n && err == nil; i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			switch msgp.NextType(b) {
			case msgp.StrType, msgp.BinType:
				var k []byte
				if k, b, err = readStr(b); err == nil {
					dst = appendText(dst, k)
				}
			default: // a key that is no string: its JSON text, as a string
				mark := len(dst)
				if dst, b, err = appendJSON(dst, b, depth+1); err == nil {
					text := string(dst[mark:])
					dst = jsonx.AppendString(dst[:mark], text)
				}
			}
			if err == nil {
				dst = append(dst, ':')
				dst, b, err = appendJSON(dst, b, depth+1)
			}
		}
		dst = append(dst, '}')
	default:
		return dst, nil, fmt.Errorf("unsupported MessagePack value 0x%02x", firstByte(b))
	}
	return dst, b, err
}

func firstByte(b []byte) byte {
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

// appendText appends s as a JSON string, escaped as JSON needs; invalid
// UTF-8 sequences become U+FFFD.
func appendText(dst, s []byte) []byte {
	if !utf8.Valid(s) {
		s = bytes.ToValidUTF8(s, []byte("\uFFFD"))
	}
	return jsonx.AppendString(dst, s)
}

// appendBin appends binary as a JSON string: as text when it is UTF-8,
// else base64.
func appendBin(dst, s []byte) []byte {
	if utf8.Valid(s) {
		return appendText(dst, s)
	}
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, s)
	return append(dst, '"')
}
