package record

import (
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
