package otlp

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"strconv"

	"github.com/ingestd/ingestd/internal/jsonx"
)

// AnyValue and KeyValue: the attribute and body values, written as JSON
// (string, number, bool, array, object; bytes as base64; NaN and ±Inf as
// strings), nested up to recursionLimit.

// keyValue appends a KeyValue as "<prefix>key":value (a missing value is
// null).
func (d *decoder) keyValue(dst, b []byte, prefix string, depth int) ([]byte, error) {
	if depth >= recursionLimit {
		return dst, errDepth
	}
	depth++
	if out, ok := d.simpleKeyValue(dst, b, prefix); ok {
		return out, nil
	}
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

// simpleKeyValue renders the KeyValue almost every sender writes — a key
// and a value holding one string, int, bool or double, each once, in either
// order (Go's protobuf writes the key first, pdata the value), with
// one-byte lengths — without the general walk; ok is false for any other
// shape, which keyValue then decodes field by field (to the same JSON).
func (d *decoder) simpleKeyValue(dst, b []byte, prefix string) (_ []byte, ok bool) {
	if len(b) < 4 || b[1] >= 0x80 {
		return dst, false
	}
	p := 2 + int(b[1])
	if p+2 > len(b) || b[p+1] >= 0x80 || p+2+int(b[p+1]) != len(b) {
		return dst, false
	}
	var key, v []byte
	switch {
	case b[0] == fKVKey<<3|wtLen && b[p] == fKVValue<<3|wtLen:
		key, v = b[2:p], b[p+2:]
	case b[0] == fKVValue<<3|wtLen && b[p] == fKVKey<<3|wtLen:
		v, key = b[2:p], b[p+2:]
	default:
		return dst, false
	}
	if len(v) == 0 {
		return dst, false
	}
	mark := len(dst)
	dst = append(dst, '"')
	dst = append(dst, prefix...)
	dst = appendEscaped(dst, key)
	dst = append(dst, '"', ':')
	switch v[0] {
	case fAnyString<<3 | wtLen:
		if len(v) >= 2 && v[1] < 0x80 && int(v[1]) == len(v)-2 {
			return appendString(dst, v[2:]), true
		}
	case fAnyInt<<3 | wtVarint, fAnyBool<<3 | wtVarint:
		if x, n, err := varint(v, 1); err == nil && n == len(v) {
			if v[0] == fAnyBool<<3|wtVarint {
				return strconv.AppendBool(dst, x != 0), true
			}
			return strconv.AppendInt(dst, int64(x), 10), true
		}
	case fAnyDouble<<3 | wtI64:
		if len(v) == 9 {
			f := field{num: fAnyDouble, v: binary.LittleEndian.Uint64(v[1:])}
			out, _ := d.value(dst, &f, 0)
			return out, true
		}
	}
	return dst[:mark], false
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
// escaping are copied whole, found eight bytes at a time and then byte by
// byte through a table (most keys and values are shorter than eight).
func appendEscaped(dst, b []byte) []byte {
	const hexd = "0123456789abcdef"
	start, i := 0, 0
	for {
		for ; i+8 <= len(b) && !needsEscape(binary.LittleEndian.Uint64(b[i:])); i += 8 {
		}
		for ; i < len(b) && !escapes[b[i]]; i++ {
		}
		if i >= len(b) {
			break
		}
		c := b[i]
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

// escapes marks the bytes a JSON string must escape: control characters,
// the quote and the backslash.
var escapes = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

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
