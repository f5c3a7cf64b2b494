package jsonx

import (
	"encoding/binary"
	"math/bits"
)

// The cursor finds the boundaries of JSON values without validating them,
// for input whose grammar is checked elsewhere (records the strict record
// scanner accepted; envelopes whose records it checks after): it never
// reads out of bounds and returns -1 for what cannot be JSON.

// SkipWS returns the index of the first byte at or after i that is not JSON
// white space.
func SkipWS(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// StringEnd returns the index after the closing quote of the string whose
// opening quote is at b[i], or -1. It looks at 8 bytes at a time for a quote
// or a backslash (SWAR: the lowest flagged byte is exact).
func StringEnd(b []byte, i int) int {
	end, _ := StringEndEsc(b, i)
	return end
}

// StringEndEsc is StringEnd that also says whether the string has an escape.
func StringEndEsc(b []byte, i int) (end int, esc bool) {
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
			return -1, esc
		}
		if b[i] == '"' {
			return i + 1, esc
		}
		i += 2 // an escape: skip the escaped byte
		esc = true
	}
}

// ValueEnd returns the index after the JSON value at b[i] (objects and
// arrays skipped whole), or -1.
func ValueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return StringEnd(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = StringEnd(b, i)
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
		for j < len(b) && !scalarEnd[b[j]] {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}

// scalarEnd marks the bytes that end a number or literal: a separator, a
// closing bracket or whitespace (one table load a byte instead of seven
// comparisons).
var scalarEnd = [256]bool{',': true, '}': true, ']': true, ' ': true, '\t': true, '\r': true, '\n': true}
