package record

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"unsafe"
)

// Timestamp errors.
var (
	errTSType   = errors.New("timestamp is not a string or a number")
	errTSFormat = errors.New("timestamp is not RFC 3339")
	errTSRange  = errors.New("timestamp out of range: the span of int64 Unix nanoseconds, 1677-09-21T00:12:44Z to 2262-04-11T23:47:16Z")
)

// ParseTimestamp parses a JSON value (its raw bytes) as a record timestamp
// and returns Unix nanoseconds. Accepted: an RFC 3339 string with any
// fraction and "Z" or an offset; a JSON number of Unix epoch time whose unit
// follows from its magnitude (< 1e11 seconds, < 1e14 ms, < 1e17 µs, else
// ns), fractions allowed.
func ParseTimestamp(v []byte) (int64, error) {
	if len(v) == 0 {
		return 0, errTSType
	}
	switch c := v[0]; {
	case c == '"':
		if len(v) < 2 {
			return 0, errTSFormat
		}
		inner := v[1 : len(v)-1]
		if hasByte(inner, '\\') {
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return 0, errTSFormat
			}
			inner = []byte(s)
		}
		return parseRFC3339(inner)
	case c == '-' || (c >= '0' && c <= '9'):
		return parseEpoch(v)
	}
	return 0, errTSType
}

// daysFromCivil returns days since 1970-01-01 of a proleptic Gregorian date.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// two reads the two decimal digits at b[i:i+2] (the caller checked the
// length), or -1.
func two(b []byte, i int) int {
	a, c := b[i]-'0', b[i+1]-'0'
	if a > 9 || c > 9 {
		return -1
	}
	return int(a)*10 + int(c)
}

// pow10i scales a fraction of n digits to nanoseconds: × pow10i[9-n].
var pow10i = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// parseRFC3339 parses YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM); 't', 'z' and a
// space separator are accepted as RFC 3339 allows.
func parseRFC3339(b []byte) (int64, error) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[13] != ':' || b[16] != ':' {
		return 0, errTSFormat
	}
	if c := b[10]; c != 'T' && c != 't' && c != ' ' {
		return 0, errTSFormat
	}
	y1, y2, mo, d := two(b, 0), two(b, 2), two(b, 5), two(b, 8)
	h, mi, sec := two(b, 11), two(b, 14), two(b, 17)
	if y1|y2|mo|d|h|mi|sec < 0 {
		return 0, errTSFormat
	}
	y := y1*100 + y2
	if mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || sec > 59 {
		return 0, errTSFormat
	}
	rest := b[19:]
	var frac int64
	if len(rest) > 0 && rest[0] == '.' {
		i := 1
		if len(rest) >= 9 { // the first eight digits at once, when they are eight digits
			if x := binary.LittleEndian.Uint64(rest[1:]); eightDigits(x) {
				frac, i = int64(eightDigitsValue(x)), 9
			}
		}
		for ; i < len(rest); i++ { // nanoseconds: digits past the ninth are dropped
			c := rest[i] - '0'
			if c > 9 {
				break
			}
			if i <= 9 {
				frac = frac*10 + int64(c)
			}
		}
		if i == 1 {
			return 0, errTSFormat
		}
		if i < 10 {
			frac *= pow10i[10-i]
		}
		rest = rest[i:]
	}
	var off int
	switch {
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, om := two(rest, 1), two(rest, 4)
		if oh < 0 || om < 0 || oh > 23 || om > 59 {
			return 0, errTSFormat
		}
		off = oh*3600 + om*60
		if rest[0] == '-' {
			off = -off
		}
	default:
		return 0, errTSFormat
	}
	secs := daysFromCivil(y, mo, d)*86400 + int64(h*3600+mi*60+sec) - int64(off)
	// int64 nanoseconds span 1677-09-21 .. 2262-04-11.
	if secs <= math.MinInt64/1_000_000_000+1 || secs >= math.MaxInt64/1_000_000_000-1 {
		return 0, errTSRange
	}
	return secs*1e9 + frac, nil
}

// eightDigits reports whether the eight bytes of x (first byte lowest) are
// all ASCII digits.
func eightDigits(x uint64) bool {
	return x&0xF0F0F0F0F0F0F0F0 == 0x3030303030303030 &&
		(x+0x0606060606060606)&0xF0F0F0F0F0F0F0F0 == 0x3030303030303030
}

// eightDigitsValue is the number eight ASCII digits spell, first byte
// lowest (as fast_float does it: three multiplications instead of eight).
func eightDigitsValue(x uint64) uint64 {
	x = (x & 0x0F0F0F0F0F0F0F0F) * 2561 >> 8
	x = (x & 0x00FF00FF00FF00FF) * 6553601 >> 16
	return (x & 0x0000FFFF0000FFFF) * 42949672960001 >> 32
}

// parseEpoch parses a JSON number as epoch time, unit by magnitude.
func parseEpoch(b []byte) (int64, error) {
	neg := b[0] == '-'
	p := b
	if neg {
		p = p[1:]
	}
	// Exact path: digits[.digits]
	var ip uint64
	i := 0
	for i < len(p) && p[i] >= '0' && p[i] <= '9' {
		if ip > (math.MaxUint64-9)/10 {
			return 0, errTSRange
		}
		ip = ip*10 + uint64(p[i]-'0')
		i++
	}
	fracDigits := p[i:]
	if len(fracDigits) > 0 && fracDigits[0] == '.' {
		fracDigits = fracDigits[1:]
		for _, c := range fracDigits {
			if c < '0' || c > '9' {
				return epochFloat(b)
			}
		}
	} else if len(fracDigits) > 0 {
		return epochFloat(b) // exponent
	}
	var mul uint64 // ns per unit
	switch {
	case ip < 1e11:
		mul = 1e9
	case ip < 1e14:
		mul = 1e6
	case ip < 1e17:
		mul = 1e3
	default:
		mul = 1
	}
	if ip > math.MaxInt64/mul {
		return 0, errTSRange
	}
	ns := ip * mul
	// fraction of a unit
	scale := mul / 10
	for _, c := range fracDigits {
		if scale == 0 {
			break
		}
		ns += uint64(c-'0') * scale
		scale /= 10
	}
	if ns > math.MaxInt64 {
		return 0, errTSRange
	}
	if neg {
		return -int64(ns), nil
	}
	return int64(ns), nil
}

func epochFloat(b []byte) (int64, error) {
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, errTSRange
	}
	a := math.Abs(f)
	switch {
	case a < 1e11:
		f *= 1e9
	case a < 1e14:
		f *= 1e6
	case a < 1e17:
		f *= 1e3
	}
	if f >= math.MaxInt64 || f <= math.MinInt64 {
		return 0, errTSRange
	}
	return int64(math.Round(f)), nil
}
