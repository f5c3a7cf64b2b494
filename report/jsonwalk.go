package report

import (
	"errors"

	"github.com/ingestd/ingestd/internal/jsonx"
)

var errNoTS = errors.New("no timestamp field")

// The walker reads records that intake already validated and compacted, so it
// only finds value boundaries (jsonx's cursor); it still never reads out of
// bounds and reports malformed input, which the scan counts as a bad line.

// TypeOf is the type bit (FieldStat.Types) of the JSON value starting
// with byte c.
func TypeOf(c byte) uint8 {
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
//
// parent is the slot of the object (nil at the top level, w.lost for an
// object past the inventory's cap). A field is first matched against the
// slot the previous record had at its position by parent and key, without
// building its path; w.path holds the object's path only when a field
// missed or when the object is entered.
func (w *worker) object(b []byte, i, depth, plen int, parent *slot) (int, bool) {
	i = jsonx.SkipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for {
		// Records are compact: white space is looked for only where the
		// expected byte is not found.
		if i >= len(b) || b[i] != '"' {
			if i = jsonx.SkipWS(b, i); i >= len(b) || b[i] != '"' {
				return 0, false
			}
		}
		// Prediction: the key is matched against the slot the previous
		// record had at this field's position (records of one source mostly
		// list the same fields in the same order). A hit gives that slot and
		// the index after the closing quote without a search for the key's
		// end: the slot's key is a whole raw member name, so equal bytes
		// followed by a quote are that same key. Written out here, not in a
		// function: it runs for every key.
		var s *slot
		ke := 0
		if w.pos < len(w.order) {
			if p := w.order[w.pos]; p != nil && p.parent == parent {
				if e := p.key.Match(b, i); e >= 0 {
					w.pos++
					s, ke = p, e
				}
			}
		}
		hit := ke > 0
		if !hit {
			if ke = jsonx.StringEnd(b, i); ke < 0 {
				return 0, false
			}
		}
		kq := i // the key's opening quote
		if i = ke; i >= len(b) || b[i] != ':' {
			if i = jsonx.SkipWS(b, i); i >= len(b) || b[i] != ':' {
				return 0, false
			}
		}
		if i = jsonx.SkipWS(b, i+1); i >= len(b) {
			return 0, false
		}
		if !hit {
			key := b[kq+1 : ke-1]
			w.path = w.path[:plen]
			if plen > 0 {
				w.path = append(w.path, '.')
			}
			w.path = append(w.path, key...)
			s = w.lookup(depth, parent, key)
		}
		t := TypeOf(b[i])
		var end int
		esc := false // a string value with an escape
		if t == TypeObject && depth+1 < w.cfg.MaxDepth {
			child := s
			if s == nil {
				child = w.lost
			} else if hit { // the children's misses need the path
				w.path = append(w.path[:0], s.path...)
			}
			var ok bool
			if end, ok = w.object(b, i, depth+1, len(w.path), child); !ok {
				return 0, false
			}
		} else if t == TypeString {
			if end, esc = jsonx.StringEndEsc(b, i); end < 0 {
				return 0, false
			}
		} else if end = jsonx.ValueEnd(b, i); end < 0 {
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
				c.val, c.set, c.esc = b[i:end], true, esc
			}
			if w.cfg.Auto && !s.autoTried {
				w.autoColumn(s, t)
			}
			if s.acol >= 0 {
				c := w.autoCols[s.acol]
				c.val, c.set, c.esc = b[i:end], true, esc
			}
			if s.mcol >= 0 {
				c := w.cols[s.mcol]
				c.val, c.set = b[i:end], true
			}
			if s.fcol >= 0 {
				c := w.fcols[s.fcol]
				c.val, c.set = b[i:end], true
			}
			if s.tsRank >= 0 && depth == 0 && s.tsRank < w.tsRank && t != TypeNull { // as intake: null is no timestamp
				w.tsRank, w.tsVal = s.tsRank, b[i:end]
			}
		}
		if i = end; i >= len(b) || (b[i] != ',' && b[i] != '}') {
			if i = jsonx.SkipWS(b, i); i >= len(b) {
				return 0, false
			}
		}
		switch b[i] {
		case ',':
			i++
		case '}':
			return i + 1, true
		default:
			return 0, false
		}
	}
}
