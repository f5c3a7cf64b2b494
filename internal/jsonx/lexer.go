// Package jsonx holds the JSON cursors the protocol adapters share: a small
// lexer over one document for request envelopes, and the string writer.
package jsonx

import (
	"encoding/json"
	"errors"
)

// Lexer is a small cursor over one JSON document, for the shipper
// endpoints' envelopes (bulk action lines, Loki push bodies). It neither
// allocates per value nor uses reflection; records themselves still go
// through the strict Parser.
type Lexer struct {
	B   []byte // the document
	I   int    // the cursor
	Err error  // the first error; every call after it does nothing
}

// ErrMalformed is the lexer's error for a document that is not JSON.
var ErrMalformed = errors.New("malformed JSON")

// WS skips white space.
func (l *Lexer) WS() { l.I = SkipWS(l.B, l.I) }

// Peek returns the next non-space byte, or 0 at the end.
func (l *Lexer) Peek() byte {
	l.WS()
	if l.I >= len(l.B) {
		return 0
	}
	return l.B[l.I]
}

// Expect consumes byte c after white space, or fails.
func (l *Lexer) Expect(c byte) bool {
	if l.Err != nil {
		return false
	}
	if l.Peek() != c {
		l.Err = ErrMalformed
		return false
	}
	l.I++
	return true
}

// Str reads a JSON string and returns its raw bytes, quotes included.
func (l *Lexer) Str() []byte {
	if l.Err != nil || l.Peek() != '"' {
		l.Err = ErrMalformed
		return nil
	}
	return l.take(StringEnd(l.B, l.I))
}

// Value skips any JSON value and returns its raw bytes.
func (l *Lexer) Value() []byte {
	if l.Err != nil {
		return nil
	}
	l.WS()
	return l.take(ValueEnd(l.B, l.I))
}

// take returns the bytes up to end (-1: malformed) and moves past them.
func (l *Lexer) take(end int) []byte {
	if end < 0 {
		l.Err = ErrMalformed
		return nil
	}
	v := l.B[l.I:end]
	l.I = end
	return v
}

// Object calls fn for each key of an object; fn must consume the value.
func (l *Lexer) Object(fn func(key []byte)) {
	if !l.Expect('{') {
		return
	}
	if l.Peek() == '}' {
		l.I++
		return
	}
	for l.Err == nil {
		k := l.Str()
		if !l.Expect(':') {
			return
		}
		fn(k)
		switch l.Peek() {
		case ',':
			l.I++
		case '}':
			l.I++
			return
		default:
			l.Err = ErrMalformed
		}
	}
}

// Array calls fn for each element; fn must consume it.
func (l *Lexer) Array(fn func(i int)) {
	if !l.Expect('[') {
		return
	}
	if l.Peek() == ']' {
		l.I++
		return
	}
	for n := 0; l.Err == nil; n++ {
		fn(n)
		switch l.Peek() {
		case ',':
			l.I++
		case ']':
			l.I++
			return
		default:
			l.Err = ErrMalformed
		}
	}
}

// Unquote decodes a raw JSON string (quotes included); false when raw is
// not one.
func Unquote(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	for _, c := range raw[1 : len(raw)-1] {
		if c == '\\' { // rare: let encoding/json apply JSON's escapes
			var s string
			err := json.Unmarshal(raw, &s)
			return s, err == nil
		}
	}
	return string(raw[1 : len(raw)-1]), true
}

// AppendString appends s (a string or bytes, so that neither is converted)
// as a JSON string literal: runs that need no escape are copied whole.
func AppendString[S ~string | ~[]byte](dst []byte, s S) []byte {
	const hexd = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		if c == '"' || c == '\\' {
			dst = append(dst, '\\', c)
		} else {
			dst = append(dst, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendKey appends the member name name (plain: no escaping needed) and its
// colon to the object being built in dst, after a comma unless it is the
// object's first member (dst ends in '{').
func AppendKey(dst []byte, name string) []byte {
	if len(dst) > 0 && dst[len(dst)-1] != '{' {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, name...)
	return append(dst, '"', ':')
}
