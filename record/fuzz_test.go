package record

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func asSyntax(err error, se **SyntaxError) bool { return errors.As(err, se) }

// FuzzScanner: validation and compaction agree with encoding/json.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{`{"ts":1,"a":[1,{"b":null}],"c":"\u00e9"}`, `{ "ts" : "2026-11-03T00:00:00Z" }`, `{"a":1.5e-3}`, "{\"ts\":1,\"s\":\"\xff\"}", `[]`, `{"ts":1,"a":"\ud800"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, d []byte) {
		checkAgainstStdlib(t, d)
	})
}

// FuzzParseBody: the request decoder never panics, every accepted record is
// a valid compact JSON object ending in a newline, and skip mode never
// accepts fewer records than strict mode.
func FuzzParseBody(f *testing.F) {
	for _, s := range []string{"{\"ts\":1}\n{\"ts\":2}\n", "[{\"ts\":1},{\"a\":2}]", "{\n \"ts\": 1\n}\n{\n\"ts\":2}", "{\"ts\":1}\r\n\r\nbad\n", "{\"ts\":\"2026-11-03T00:00:00Z\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, skip := range []bool{false, true} {
			b := &Batch{}
			re := NewParser(DefaultRules()).Parse(body, testNow, skip, b)
			if re != nil {
				continue
			}
			for _, r := range b.Recs {
				rec := b.Buf[r.Off : r.Off+r.Len]
				if b.Buf[r.Off+r.Len] != '\n' || rec[0] != '{' {
					t.Fatalf("bad record %q", rec)
				}
				checkAgainstStdlib(t, rec)
			}
		}
	})
}

// FuzzTimestamp: never panics; accepted RFC 3339 strings agree with time.Parse.
func FuzzTimestamp(f *testing.F) {
	for _, s := range []string{`"2026-11-03T10:00:00Z"`, `"2026-11-03T10:00:00.123+05:30"`, `1762128000`, `1762128000.5`, `1.7e18`, `-5`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		ns, err := ParseTimestamp(v)
		if err != nil || len(v) < 2 || v[0] != '"' || hasByte(v, '\\') {
			return
		}
		s := string(v[1 : len(v)-1])
		if s[10] != 'T' || s[len(s)-1] == 'z' {
			return
		}
		tm, perr := parseStd(s)
		if perr != nil {
			t.Fatalf("%s accepted, time.Parse says %v", s, perr)
		}
		if tm.UnixNano() != ns {
			t.Fatalf("%s: %d vs time.Parse %d", s, ns, tm.UnixNano())
		}
	})
}

func parseStd(s string) (interface{ UnixNano() int64 }, error) {
	return time.Parse(time.RFC3339Nano, s)
}

// BenchmarkParseTimestamp: an RFC 3339 timestamp with nanoseconds, the
// common case of intake and of every report scan.
func BenchmarkParseTimestamp(b *testing.B) {
	v := []byte(`"2026-10-01T16:33:11.947779410Z"`)
	for i := 0; i < b.N; i++ {
		if _, err := ParseTimestamp(v); err != nil {
			b.Fatal(err)
		}
	}
}

// Fractions of every length from 1 to 12 digits (nanoseconds: the digits
// past the ninth are dropped) and offsets agree with time.Parse; a dot
// without digits or a non-digit in any date or time field is refused.
func TestRFC3339Fractions(t *testing.T) {
	digits := "123456789987"
	for n := 1; n <= len(digits); n++ {
		for _, zone := range []string{"Z", "+05:30", "-11:00"} {
			s := "2024-02-29T23:59:58." + digits[:n] + zone
			ns, err := ParseTimestamp([]byte(`"` + s + `"`))
			if err != nil {
				t.Fatalf("%s: %v", s, err)
			}
			tm, err := time.Parse(time.RFC3339Nano, "2024-02-29T23:59:58."+digits[:min(n, 9)]+zone)
			if err != nil {
				t.Fatal(err)
			}
			if ns != tm.UnixNano() {
				t.Fatalf("%s: %d, time.Parse %d", s, ns, tm.UnixNano())
			}
		}
	}
	good := "2024-02-29T23:59:58Z"
	for i := range good {
		if good[i] < '0' || good[i] > '9' {
			continue
		}
		for _, c := range []byte{'/', ':', 'a', ' '} {
			b := []byte(good)
			b[i] = c
			if _, err := ParseTimestamp([]byte(`"` + string(b) + `"`)); err == nil {
				t.Errorf("%s accepted", b)
			}
		}
	}
	for i := 0; i < 9; i++ { // a non-digit anywhere in the fraction
		for _, c := range []byte{'/', ':', 'a', ' ', '.', 0x80} {
			b := []byte("2024-02-29T23:59:58.123456789Z")
			b[20+i] = c
			if _, err := ParseTimestamp([]byte(`"` + string(b) + `"`)); err == nil {
				t.Errorf("%q accepted", b)
			}
		}
	}
	if _, err := ParseTimestamp([]byte(`"2024-02-29T23:59:58.Z"`)); err == nil {
		t.Error("a dot without digits accepted")
	}
}

// FuzzKeyPrediction: the scanner predicts a record's keys from the record
// before it; a sequence of lines through one parser is judged line by line
// exactly as encoding/json judges each line alone (validity, duplicate
// names, compact form).
func FuzzKeyPrediction(f *testing.F) {
	for _, s := range withPadding(keyPredictionSeeds) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p := NewParser(DefaultRules())
		for _, line := range bytes.Split(body, []byte("\n")) {
			checkWith(t, p, line)
		}
	})
}
