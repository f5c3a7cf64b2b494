package otlp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The protobuf wire, at the level of one field: varints, tags and the
// length-delimited, fixed and group values, walked in place (the style of
// protowire), with pdata's errors for what does not decode.

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
