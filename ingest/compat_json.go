package ingest

import (
	"encoding/json"
	"errors"
)

// lexer is a small cursor over one JSON document, for the shipper
// endpoints' envelopes (bulk action lines, Loki push bodies). It neither
// allocates per value nor uses reflection; records themselves still go
// through the strict Parser.
type lexer struct {
	b   []byte
	i   int
	err error
}

var errEnvelope = errors.New("malformed JSON")

func (l *lexer) ws() {
	for l.i < len(l.b) && (l.b[l.i] == ' ' || l.b[l.i] == '\t' || l.b[l.i] == '\n' || l.b[l.i] == '\r') {
		l.i++
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (l *lexer) peek() byte {
	l.ws()
	if l.i >= len(l.b) {
		return 0
	}
	return l.b[l.i]
}

func (l *lexer) expect(c byte) bool {
	if l.err != nil {
		return false
	}
	if l.peek() != c {
		l.err = errEnvelope
		return false
	}
	l.i++
	return true
}

// str reads a JSON string and returns its raw bytes, quotes included.
func (l *lexer) str() []byte {
	if l.err != nil || l.peek() != '"' {
		l.err = errEnvelope
		return nil
	}
	start := l.i
	l.i++
	for l.i < len(l.b) {
		switch l.b[l.i] {
		case '"':
			l.i++
			return l.b[start:l.i]
		case '\\':
			l.i += 2
		default:
			l.i++
		}
	}
	l.err = errEnvelope
	return nil
}

// value skips any JSON value and returns its raw bytes.
func (l *lexer) value() []byte {
	if l.err != nil {
		return nil
	}
	c := l.peek()
	start := l.i
	switch c {
	case '"':
		return l.str()
	case '{', '[':
		depth := 0
		for l.i < len(l.b) {
			switch l.b[l.i] {
			case '"':
				if l.str() == nil {
					return nil
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					l.i++
					return l.b[start:l.i]
				}
			}
			l.i++
		}
	case 0:
	default:
		for l.i < len(l.b) {
			switch l.b[l.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return l.b[start:l.i]
			}
			l.i++
		}
		return l.b[start:l.i]
	}
	l.err = errEnvelope
	return nil
}

// object calls fn for each key of an object; fn must consume the value.
func (l *lexer) object(fn func(key []byte)) {
	if !l.expect('{') {
		return
	}
	if l.peek() == '}' {
		l.i++
		return
	}
	for l.err == nil {
		k := l.str()
		if !l.expect(':') {
			return
		}
		fn(k)
		switch l.peek() {
		case ',':
			l.i++
		case '}':
			l.i++
			return
		default:
			l.err = errEnvelope
		}
	}
}

// array calls fn for each element; fn must consume it.
func (l *lexer) array(fn func(i int)) {
	if !l.expect('[') {
		return
	}
	if l.peek() == ']' {
		l.i++
		return
	}
	for n := 0; l.err == nil; n++ {
		fn(n)
		switch l.peek() {
		case ',':
			l.i++
		case ']':
			l.i++
			return
		default:
			l.err = errEnvelope
		}
	}
}

// unquote returns the text of a raw JSON string.
func unquote(raw []byte) (string, bool) {
	if len(raw) < 2 {
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
