package jsonx

import "encoding/binary"

// KeyPattern is a raw member name (as written between its quotes, escapes
// included) compiled for matching at a key's opening quote: its first 16
// bytes and the closing quote after them as two 8-byte words and masks, so a
// name under 16 bytes is matched with two loads and compares. Equal raw bytes
// followed by a quote are that same string, so a match needs no search for
// the key's end. A zero KeyPattern matches nothing.
type KeyPattern struct {
	w, m [2]uint64
	name []byte
}

// NewKeyPattern compiles name; the pattern keeps name (no copy).
func NewKeyPattern(name []byte) KeyPattern {
	p := KeyPattern{name: name}
	var b [16]byte
	n := copy(b[:], name)
	if n < 16 {
		b[n] = '"'
		n++
	}
	p.w[0], p.w[1] = binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])
	switch {
	case n == 16:
		p.m = [2]uint64{^uint64(0), ^uint64(0)}
	case n >= 8:
		p.m = [2]uint64{^uint64(0), 1<<(8*(n-8)) - 1}
	default:
		p.m = [2]uint64{1<<(8*n) - 1, 0}
	}
	return p
}

// Match returns the index after the closing quote when the key whose
// opening quote is at b[i] is the pattern's name, else -1. A name under 16
// bytes, with 16 bytes of input after the quote, is settled by the two
// words, its closing quote included; other cases take matchLong.
func (p *KeyPattern) Match(b []byte, i int) int {
	if n := len(p.name); n < 16 && i >= 0 && i+17 <= len(b) && p.m[0] != 0 {
		if p.words(b[i+1 : i+17]) {
			return i + 2 + n
		}
		return -1
	}
	return p.matchLong(b, i)
}

// matchLong is Match for names of 16 bytes or more, and near the end of b.
func (p *KeyPattern) matchLong(b []byte, i int) int {
	if p.m[0] == 0 || i < 0 {
		return -1
	}
	e := i + 1 + len(p.name) // where the closing quote must be
	if e >= len(b) || b[e] != '"' {
		return -1
	}
	if i+17 <= len(b) {
		if p.words(b[i+1:i+17]) && string(b[i+17:e]) == string(p.name[16:]) {
			return e + 1
		}
		return -1
	}
	if string(b[i+1:e]) == string(p.name) {
		return e + 1
	}
	return -1
}

// words reports whether the 16 bytes k (after a key's opening quote) agree
// with the pattern's words where its masks count.
func (p *KeyPattern) words(k []byte) bool {
	return (binary.LittleEndian.Uint64(k)^p.w[0])&p.m[0]|(binary.LittleEndian.Uint64(k[8:])^p.w[1])&p.m[1] == 0
}

// Name returns the raw name the pattern matches.
func (p *KeyPattern) Name() []byte { return p.name }
