package jsonx

import (
	"bytes"
	"encoding/json"
	"testing"
)

// walk visits every value of a document through the lexer, as the adapters
// do: objects by key, arrays by element, anything else as a raw value.
func walk(l *Lexer, depth int) {
	if depth > 50 {
		l.Value()
		return
	}
	switch l.Peek() {
	case '{':
		l.Object(func([]byte) { walk(l, depth+1) })
	case '[':
		l.Array(func(int) { walk(l, depth+1) })
	default:
		l.Value()
	}
}

// FuzzLexer: the lexer never reads out of bounds or panics, and on a valid
// JSON document the walk and Value both consume it whole without error.
func FuzzLexer(f *testing.F) {
	for _, s := range []string{`{"streams":[{"stream":{"a":"b"},"values":[["1","x",{"m":1}]]}]}`, `{"index":{"_index":"x","_id":"\"q\\"}}`,
		`[1,2.5e3,true,null,"\u00e9"]`, `{"a":}`, `"unterminated`, `{"a":[1,{"b":[2]}]}   `, ``, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l := Lexer{B: b}
		walk(&l, 0)
		if l.I < 0 || l.I > len(b) {
			t.Fatalf("cursor %d outside [0,%d]", l.I, len(b))
		}
		if !json.Valid(b) {
			return
		}
		if l.Err != nil || l.Peek() != 0 {
			t.Fatalf("valid JSON %q: walk stopped at %d with %v", b, l.I, l.Err)
		}
		v := (&Lexer{B: b}).Value()
		if !bytes.Equal(v, bytes.TrimSpace(b)) {
			t.Fatalf("Value of %q is %q", b, v)
		}
	})
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", "q\"b\\s", "\x00\x1f\n", "é ✓"} {
		var back string
		if err := json.Unmarshal(AppendString(nil, s), &back); err != nil || back != s {
			t.Errorf("%q: %q %v", s, back, err)
		}
	}
}

// Unquote takes only a JSON string: a number or literal is not one (it used
// to be cut at both ends, so a Loki timestamp sent as a number lost digits).
func TestUnquote(t *testing.T) {
	for raw, want := range map[string]string{`"abc"`: "abc", `""`: "", `"a\"b"`: `a"b`, `"\u00e9"`: "é"} {
		if got, ok := Unquote([]byte(raw)); !ok || got != want {
			t.Errorf("%s: %q %v, want %q", raw, got, ok, want)
		}
	}
	for _, raw := range []string{`1793700001`, `true`, `null`, `"open`, `x"`, `{}`} {
		if got, ok := Unquote([]byte(raw)); ok {
			t.Errorf("%s: %q, want not a string", raw, got)
		}
	}
}
