package record

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/ingestd/ingestd/internal/jsonx"
)

// SyntaxError is a JSON grammar, encoding or limit violation in one record.
type SyntaxError struct {
	Msg    string
	Offset int  // byte offset within the record's source
	EOF    bool // the input ended inside a value
}

func (e *SyntaxError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("%s at offset %d", e.Msg, e.Offset)
	}
	return e.Msg
}

// strSafe marks bytes that may appear in a string unescaped and need no
// further look: printable ASCII except '"' and '\\'.
var strSafe = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanner validates one JSON value strictly (RFC 8259 grammar, UTF-8, no raw
// control characters, bounded nesting) and appends its compact form to dst
// (exactly what encoding/json.Compact produces: insignificant whitespace
// removed, nothing else changed). At the top level it records where the
// best-ranked timestamp field's value is.
//
// A scanner is reused; it holds no pointers into src after scan returns.
type scanner struct {
	src      []byte
	pos      int
	run      int // start of the not-yet-copied run of src
	dst      []byte
	maxDepth int
	fields   [][]byte // timestamp field names, best first
	// fieldLens has bit n set when a timestamp field name is n bytes long
	// (bit 63: 63 or more), so most keys are ruled out without a comparison.
	fieldLens uint64

	// found timestamp field (top level): rank in fields, value span in src
	tsRank         int
	tsStart, tsEnd int
	keyBuf         []byte // unescaped key when a key has escapes

	// keys of the objects being scanned, innermost last, for the duplicate
	// check; reused, so it stops growing after the widest record
	keys       []keySpan
	dupA, dupB []byte // unescaped keys being compared
	esc        bool   // the last string scanned had an escape

	// The member names of the last top-level object scanned whole, in
	// order: their spans in predBuf, a copy of that object. Records of one
	// source repeat their keys: a key whose bytes equal the predicted one's,
	// followed by a quote, is that same valid string, so it needs no scan;
	// and while every key of an object is predicted, the object's names are
	// those of one valid object, so they need no duplicate check.
	pred    []predKey
	predBuf []byte
	// useless counts the top-level objects whose prediction failed before
	// half their keys, since the last that failed later. Past a few, keys
	// change from record to record, and a new prediction is kept only now
	// and then: copying each would cost more than it saves. An object whose
	// keys were all predicted keeps nothing new and leaves the count as it
	// is (resetting it there costs 25 % on interleaved shapes,
	// BenchmarkParseMixedShapes).
	useless int
}

// maxPredicted bounds the copy a prediction keeps: in a larger record, keys
// are a small share of the work.
const maxPredicted = 64 << 10

// predKey is a predicted member name (in predBuf), whether it has an
// escape, its signature, and the signature mask of the names up to it.
type predKey struct {
	pat     jsonx.KeyPattern
	escaped bool
	sig     uint32
	mask    uint64
}

// keySpan is a member name in src (without its quotes) and a cheap
// signature of its decoded form (sigOf).
type keySpan struct {
	start, end int
	sig        uint32
	escaped    bool
}

func (s *scanner) fail(msg string) error {
	return &SyntaxError{Msg: msg, Offset: s.pos, EOF: s.pos >= len(s.src)}
}

func (s *scanner) unexpected() error {
	if s.pos >= len(s.src) {
		return &SyntaxError{Msg: "unexpected end of JSON input", Offset: s.pos, EOF: true}
	}
	c := s.src[s.pos]
	if c < 0x20 || c >= 0x7f {
		return &SyntaxError{Msg: fmt.Sprintf("invalid byte 0x%02x", c), Offset: s.pos}
	}
	return &SyntaxError{Msg: fmt.Sprintf("invalid character %q", c), Offset: s.pos}
}

// ws skips whitespace, cutting it out of the compact output. It is small
// enough to inline: compact input, the common case, costs one comparison.
func (s *scanner) ws() {
	if s.pos < len(s.src) && s.src[s.pos] > ' ' {
		return
	}
	s.wsRun()
}

// wsRun skips a run of whitespace (or nothing). Not inlined, so ws is.
//
//go:noinline
func (s *scanner) wsRun() {
	p := s.pos
	for p < len(s.src) {
		c := s.src[p]
		if c > ' ' || c != ' ' && c != '\n' && c != '\r' && c != '\t' { // the first test settles most bytes
			break
		}
		p++
	}
	if p != s.pos {
		s.dst = append(s.dst, s.src[s.run:s.pos]...)
		s.pos, s.run = p, p
	}
}

// scanObjectAt scans one value starting at s.pos (after whitespace) that
// must be an object; it leaves s.pos after it and flushes the output run.
func (s *scanner) scanTop() error {
	s.tsRank = -1
	s.keys = s.keys[:0]
	s.run = s.pos
	if s.pos >= len(s.src) {
		return s.unexpected()
	}
	if s.src[s.pos] != '{' {
		if err := s.value(1); err != nil {
			return err
		}
		return errNotObject
	}
	if err := s.object(1, true); err != nil {
		return err
	}
	s.dst = append(s.dst, s.src[s.run:s.pos]...)
	s.run = s.pos
	return nil
}

func (s *scanner) value(depth int) error {
	if s.pos >= len(s.src) {
		return s.unexpected()
	}
	switch c := s.src[s.pos]; c {
	case '{':
		return s.object(depth, false)
	case '[':
		return s.array(depth)
	case '"':
		return s.str()
	case 't':
		return s.lit("true")
	case 'f':
		return s.lit("false")
	case 'n':
		return s.lit("null")
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return s.number()
		}
		return s.unexpected()
	}
}

func (s *scanner) lit(w string) error {
	for i := 0; i < len(w); i++ {
		if s.pos >= len(s.src) || s.src[s.pos] != w[i] {
			return s.unexpected()
		}
		s.pos++
	}
	return nil
}

func (s *scanner) object(depth int, top bool) error {
	if depth > s.maxDepth {
		return s.fail(fmt.Sprintf("nesting deeper than %d (records.max_depth)", s.maxDepth))
	}
	start := s.pos
	s.pos++ // '{'
	s.ws()
	if s.pos < len(s.src) && s.src[s.pos] == '}' {
		s.pos++
		return nil
	}
	// I-JSON (RFC 7493): member names are unique. The names of this object
	// go on s.keys; a 64-bit mask of their signatures lets most names pass
	// without a comparison.
	base := len(s.keys)
	var mask uint64
	// A top-level object's keys are predicted from the previous one's (see
	// scanner.pred) and skip the duplicate check while each is the predicted
	// one; from the first other key on, names are checked against those
	// before (whose signatures and mask the prediction holds) and the
	// prediction ends.
	predicting, hits := top && len(s.pred) > 0, 0
	for n := 0; ; n++ {
		if s.pos >= len(s.src) || s.src[s.pos] != '"' {
			return s.unexpected()
		}
		ks := s.pos
		var k keySpan
		if predicting {
			end := -1
			if n < len(s.pred) {
				end = s.pred[n].pat.Match(s.src, ks)
			}
			if predicting = end >= 0; predicting {
				p := &s.pred[n]
				k = keySpan{start: ks + 1, end: end - 1, sig: p.sig, escaped: p.escaped}
				s.pos = end
				hits++
			} else if n > 0 { // the keys so far are checked against from here on
				mask = s.pred[n-1].mask
			}
		}
		if !predicting {
			if err := s.str(); err != nil {
				return err
			}
			k = s.keySpan(ks+1, s.pos-1)
			if bit := sigBit(k.sig); mask&bit != 0 {
				for _, o := range s.keys[base:] {
					if o.sig == k.sig && s.sameKey(o, k) {
						s.pos = ks
						return s.fail(fmt.Sprintf("duplicate member name %s (I-JSON wants unique names; DuckDB refuses the record and readers disagree on which value counts)", s.src[ks:k.end+1]))
					}
				}
			} else {
				mask |= bit
			}
		}
		ke := s.pos
		s.keys = append(s.keys, k)
		s.ws()
		if s.pos >= len(s.src) || s.src[s.pos] != ':' {
			return s.unexpected()
		}
		s.pos++
		s.ws()
		vs := s.pos
		if err := s.value(depth + 1); err != nil {
			return err
		}
		// A key can be a timestamp field when one of that length exists
		// (or it has escapes) and the best-ranked one is not found yet.
		// A null value counts as no timestamp: the next field is looked for.
		if top && s.tsRank != 0 && (k.escaped || s.fieldLens&(1<<min(ke-ks-2, 63)) != 0) && s.src[vs] != 'n' {
			s.noteKey(s.src[ks+1:ke-1], k.escaped, vs, s.pos)
		}
		s.ws()
		if s.pos >= len(s.src) {
			return s.unexpected()
		}
		switch s.src[s.pos] {
		case ',':
			s.pos++
			s.ws()
		case '}':
			s.pos++
			if top && !predicting { // a key was not the predicted one
				if s.useless++; 2*hits >= len(s.keys)-base {
					s.useless = 0
				}
				if (s.useless < 8 || s.useless%32 == 0) && s.pos-start <= maxPredicted {
					s.remember(s.keys[base:], start, s.pos)
				}
			}
			s.keys = s.keys[:base] // an error leaves them: scanTop resets
			return nil
		default:
			return s.unexpected()
		}
	}
}

// remember makes keys, the names of the top-level object src[start:end]
// just scanned whole, the prediction for the next one.
func (s *scanner) remember(keys []keySpan, start, end int) {
	s.predBuf = append(s.predBuf[:0], s.src[start:end]...)
	s.pred = s.pred[:0]
	var mask uint64
	for _, k := range keys {
		name := s.predBuf[k.start-start : k.end-start]
		mask |= sigBit(k.sig)
		s.pred = append(s.pred, predKey{pat: jsonx.NewKeyPattern(name), escaped: k.escaped, sig: k.sig, mask: mask})
	}
}

// keySpan describes the member name src[start:end], just scanned.
func (s *scanner) keySpan(start, end int) keySpan {
	name := s.src[start:end]
	if s.esc {
		name = s.unescapeKey(name)
	}
	return keySpan{start: start, end: end, escaped: s.esc, sig: sigOf(name)}
}

// sigOf is a cheap signature of a member name's decoded form: its length
// and its first and last byte.
func sigOf(name []byte) uint32 {
	if len(name) == 0 {
		return 0
	}
	return uint32(len(name))<<16 | uint32(name[0])<<8 | uint32(name[len(name)-1])
}

// sigBit is a signature's bit in an object's 64-bit mask of names seen.
func sigBit(sig uint32) uint64 { return 1 << ((sig>>16*31 + sig>>8&0xff*7 + sig&0xff) & 63) }

// sameKey compares two member names by their decoded text.
func (s *scanner) sameKey(a, b keySpan) bool {
	x, y := s.src[a.start:a.end], s.src[b.start:b.end]
	if !a.escaped && !b.escaped {
		return bytes.Equal(x, y)
	}
	if a.escaped {
		s.dupA = append(s.dupA[:0], s.unescapeKey(x)...)
		x = s.dupA
	}
	if b.escaped {
		s.dupB = append(s.dupB[:0], s.unescapeKey(y)...)
		y = s.dupB
	}
	return bytes.Equal(x, y)
}

// noteKey remembers the value span of a top-level key that is a timestamp
// field ranked better than any seen so far.
func (s *scanner) noteKey(key []byte, escaped bool, vs, ve int) {
	for i, f := range s.fields {
		if s.tsRank >= 0 && i >= s.tsRank {
			return
		}
		if string(key) == string(f) || (escaped && string(s.unescapeKey(key)) == string(f)) {
			if s.tsRank < 0 || i < s.tsRank {
				s.tsRank, s.tsStart, s.tsEnd = i, vs, ve
			}
			return
		}
	}
}

// unescapeKey decodes a (valid) escaped key; rare, so simple.
func (s *scanner) unescapeKey(k []byte) []byte {
	out := s.keyBuf[:0]
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		switch k[i] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := rune(hex4(k[i+1 : i+5]))
			i += 4
			if r >= 0xD800 && r <= 0xDBFF && i+6 < len(k) && k[i+1] == '\\' && k[i+2] == 'u' {
				r = utf16.DecodeRune(r, rune(hex4(k[i+3:i+7]))) // a pair (str checked it)
				i += 6
			}
			out = utf8.AppendRune(out, r)
		default:
			out = append(out, k[i])
		}
	}
	s.keyBuf = out
	return out
}

func hex4(b []byte) int {
	v := 0
	for _, c := range b {
		v <<= 4
		switch {
		case c >= '0' && c <= '9':
			v |= int(c - '0')
		case c >= 'a' && c <= 'f':
			v |= int(c-'a') + 10
		case c >= 'A' && c <= 'F':
			v |= int(c-'A') + 10
		default:
			return -1
		}
	}
	return v
}

func (s *scanner) array(depth int) error {
	if depth > s.maxDepth {
		return s.fail(fmt.Sprintf("nesting deeper than %d (records.max_depth)", s.maxDepth))
	}
	s.pos++ // '['
	s.ws()
	if s.pos < len(s.src) && s.src[s.pos] == ']' {
		s.pos++
		return nil
	}
	for {
		if err := s.value(depth + 1); err != nil {
			return err
		}
		s.ws()
		if s.pos >= len(s.src) {
			return s.unexpected()
		}
		switch s.src[s.pos] {
		case ',':
			s.pos++
			s.ws()
		case ']':
			s.pos++
			return nil
		default:
			return s.unexpected()
		}
	}
}

// str scans a string starting at '"'; s.esc says whether it had escapes.
func (s *scanner) str() error {
	p := s.pos + 1
	src := s.src
	s.esc = false
	for {
		// 8 bytes at a time to the first byte that needs a look: '"', '\\',
		// a control character or a non-ASCII byte (SWAR; the lowest
		// flagged byte of each test is exact, so the lowest of all is).
		const lo, hi = 0x0101010101010101, 0x8080808080808080
		found := false
		for p+8 <= len(src) {
			x := binary.LittleEndian.Uint64(src[p:])
			q, e := x^(lo*'"'), x^(lo*'\\')
			m := (q-lo)&^q | (e-lo)&^e | (x-lo*0x20)&^x
			if m = m&hi | x&hi; m != 0 {
				p += bits.TrailingZeros64(m) / 8
				found = true
				break
			}
			p += 8
		}
		for !found && p < len(src) && strSafe[src[p]] { // the last bytes, one at a time
			p++
		}
		if p >= len(src) {
			s.pos = p
			return &SyntaxError{Msg: "unexpected end of JSON input in string", Offset: p, EOF: true}
		}
		switch c := src[p]; {
		case c == '"':
			s.pos = p + 1
			return nil
		case c == '\\':
			s.esc = true
			if p+1 >= len(src) {
				s.pos = p + 1
				return s.unexpected()
			}
			switch src[p+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p += 2
			case 'u':
				if p+6 > len(src) {
					s.pos = len(src)
					return s.unexpected()
				}
				v := hex4(src[p+2 : p+6])
				if v < 0 {
					s.pos = p
					return s.fail("invalid \\u escape in string")
				}
				// I-JSON: a surrogate escape must be half of a pair.
				if v >= 0xD800 && v <= 0xDFFF {
					if v >= 0xDC00 || p+12 > len(src) || src[p+6] != '\\' || src[p+7] != 'u' {
						s.pos = p
						return s.fail(fmt.Sprintf("lone surrogate \\u%s in string (not valid Unicode; DuckDB and jq refuse it)", src[p+2:p+6]))
					}
					if w := hex4(src[p+8 : p+12]); w < 0xDC00 || w > 0xDFFF {
						s.pos = p
						return s.fail(fmt.Sprintf("lone surrogate \\u%s in string (not valid Unicode; DuckDB and jq refuse it)", src[p+2:p+6]))
					}
					p += 6
				}
				p += 6
			default:
				s.pos = p
				return s.fail("invalid escape in string")
			}
		case c < 0x20:
			s.pos = p
			return s.fail(fmt.Sprintf("control character 0x%02x in string", c))
		default: // >= 0x80
			r, n := utf8.DecodeRune(src[p:])
			if r == utf8.RuneError && n <= 1 {
				s.pos = p
				return s.fail("invalid UTF-8 in string")
			}
			p += n
		}
	}
}

func (s *scanner) number() error {
	p, ok := jsonx.NumberEnd(s.src, s.pos)
	s.pos = p
	if !ok {
		return s.unexpected()
	}
	return nil
}

func hasByte(b []byte, c byte) bool { return bytes.IndexByte(b, c) >= 0 }
