package jsonx

import (
	"encoding/json"
	"testing"
)

// NumberEnd accepts exactly the strings encoding/json takes as one number,
// for every string of up to 4 bytes over the bytes numbers are made of, and
// reports where a bad one breaks.
func TestNumberEndMatchesEncodingJSON(t *testing.T) {
	alphabet := []byte("-+.eE019x")
	var walk func(s []byte)
	walk = func(s []byte) {
		end, ok := NumberEnd(s, 0)
		whole := ok && end == len(s)
		want := len(s) > 0 && (s[0] == '-' || s[0] >= '0' && s[0] <= '9') && json.Valid(s)
		if whole != want {
			t.Fatalf("%q: NumberEnd %d %v, encoding/json says valid=%v", s, end, ok, want)
		}
		if !ok && (end > len(s) || end < 0) {
			t.Fatalf("%q: error position %d out of range", s, end)
		}
		if ok && end < len(s) && !json.Valid(s[:end]) {
			t.Fatalf("%q: prefix %q taken as a number", s, s[:end])
		}
		if str, sok := NumberEnd(string(s), 0); str != end || sok != ok {
			t.Fatalf("%q: string and []byte disagree", s)
		}
		if len(s) < 4 {
			for _, c := range alphabet {
				walk(append(s, c))
			}
		}
	}
	walk(nil)
}
