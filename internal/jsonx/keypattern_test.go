package jsonx

import (
	"bytes"
	"math/rand"
	"testing"
)

// KeyPattern.Match agrees with the plain comparison (name's bytes, then a
// quote) for names of every length from 0 to 40 around the 8- and 16-byte
// word edges, against keys that equal the name, extend it, cut it short or
// differ in one byte, at every distance from the end of the input.
func TestKeyPatternMatchesPlainComparison(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	alphabet := []byte(`ab"\`)
	for n := 0; n <= 40; n++ {
		name := make([]byte, n)
		for i := range name {
			name[i] = 'a' + byte(r.Intn(3))
		}
		p := NewKeyPattern(name)
		for trial := 0; trial < 60; trial++ {
			key := append([]byte(nil), name...)
			switch trial % 4 {
			case 1:
				key = append(key, alphabet[r.Intn(len(alphabet))])
			case 2:
				if len(key) > 0 {
					key = key[:r.Intn(len(key))]
				}
			case 3:
				if len(key) > 0 {
					key[r.Intn(len(key))] ^= 1
				}
			}
			for tail := 0; tail < 20; tail++ {
				b := append([]byte{'"'}, key...)
				if tail > 0 {
					b = append(b, '"')
					b = append(b, bytes.Repeat([]byte{'x'}, tail-1)...)
				}
				want := -1
				if 1+len(name) < len(b) && bytes.Equal(b[1:1+len(name)], name) && b[1+len(name)] == '"' {
					want = len(name) + 2
				}
				if got := p.Match(b, 0); got != want {
					t.Fatalf("name %q, input %q: Match %d, want %d", name, b, got, want)
				}
			}
		}
	}
	var zero KeyPattern
	if zero.Match([]byte(`""`), 0) != -1 {
		t.Fatal("the zero pattern matched")
	}
}
