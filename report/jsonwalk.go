package report

import (
	"encoding/binary"
	"errors"
	"math/bits"
)

var errNoTS = errors.New("no timestamp field")

// The walker reads records that intake already validated and compacted, so it
// only finds value boundaries; it still never reads out of bounds and
// reports malformed input, which the scan counts as a bad line.

func skipWS(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// stringEnd returns the index after the closing quote of the string whose
// opening quote is at b[i], or -1. It looks at 8 bytes at a time for a quote
// or a backslash (SWAR: the lowest flagged byte is exact).
func stringEnd(b []byte, i int) int {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	i++
	for {
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			q, e := x^(lo*'"'), x^(lo*'\\')
			if m := ((q - lo) &^ q & hi) | ((e - lo) &^ e & hi); m != 0 {
				i += bits.TrailingZeros64(m) / 8
				break
			}
			i += 8
		}
		for i < len(b) && b[i] != '"' && b[i] != '\\' {
			i++
		}
		if i >= len(b) {
			return -1
		}
		if b[i] == '"' {
			return i + 1
		}
		i += 2 // an escape: skip the escaped byte
	}
}

// valueEnd returns the index after the JSON value at b[i] (objects and
// arrays skipped whole), or -1.
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = stringEnd(b, i)
				if i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	default: // number, true, false, null
		j := i
		for j < len(b) {
			c := b[j]
			if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\r' || c == '\n' {
				break
			}
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}

func typeOf(c byte) uint8 {
	switch c {
	case '"':
		return TypeString
	case '{':
		return TypeObject
	case '[':
		return TypeArray
	case 't', 'f':
		return TypeBool
	case 'n':
		return TypeNull
	default:
		return TypeNumber
	}
}

// object walks the object at b[i] ('{'), whose path prefix is w.path[:plen],
// counting every field in the inventory and noting typed columns and the
// timestamp. It returns the index after the object.
func (w *worker) object(b []byte, i, depth, plen int) (int, bool) {
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, false
		}
		ke := stringEnd(b, i)
		if ke < 0 {
			return 0, false
		}
		key := b[i+1 : ke-1]
		i = skipWS(b, ke)
		if i >= len(b) || b[i] != ':' {
			return 0, false
		}
		i = skipWS(b, i+1)
		if i >= len(b) {
			return 0, false
		}
		w.path = w.path[:plen]
		if plen > 0 {
			w.path = append(w.path, '.')
		}
		w.path = append(w.path, key...)
		s := w.lookup(depth)
		t := typeOf(b[i])
		var end int
		if t == TypeObject && depth+1 < w.cfg.MaxDepth {
			var ok bool
			if end, ok = w.object(b, i, depth+1, len(w.path)); !ok {
				return 0, false
			}
		} else if end = valueEnd(b, i); end < 0 {
			return 0, false
		}
		if s == nil {
			w.agg.Quality.FieldsOverflow++
		} else {
			if s.stat == nil {
				s.stat = &FieldStat{}
				w.agg.Fields[s.path] = s.stat
			}
			if s.seen != w.serial { // a record counts once per path, whatever it repeats
				s.seen = w.serial
				s.stat.Records++
			}
			s.stat.Types |= t
			if s.col >= 0 {
				c := w.cols[s.col]
				c.val, c.set = b[i:end], true
			}
			if s.tsRank >= 0 && depth == 0 && s.tsRank < w.tsRank {
				w.tsRank, w.tsVal = s.tsRank, b[i:end]
			}
		}
		i = skipWS(b, end)
		if i >= len(b) {
			return 0, false
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return i + 1, true
		default:
			return 0, false
		}
	}
}
