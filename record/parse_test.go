package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ingestd/ingestd/internal/jsonx"
)

var testNow = time.Date(2026, 11, 26, 12, 0, 0, 123456789, time.UTC)

func parse(t *testing.T, body string, skip bool) (*Batch, *RequestError) {
	t.Helper()
	b := &Batch{}
	re := NewParser(DefaultRules()).Parse([]byte(body), testNow, skip, b)
	return b, re
}

func recs(b *Batch) []string {
	var out []string
	for _, r := range b.Recs {
		out = append(out, string(b.Buf[r.Off:r.Off+r.Len]))
	}
	return out
}

func TestParseShapes(t *testing.T) {
	cases := []struct {
		name, body string
		want       []string
	}{
		{"ndjson", "{\"ts\":1,\"a\":1}\n{\"ts\":2}\n", []string{`{"ts":1,"a":1}`, `{"ts":2}`}},
		{"crlf blank lines no final newline", "\r\n{\"ts\":1}\r\n\r\n  \n{\"ts\":2}", []string{`{"ts":1}`, `{"ts":2}`}},
		{"array", `[ {"ts":1} , {"ts": 2} ]`, []string{`{"ts":1}`, `{"ts":2}`}},
		{"empty array", " [ ] ", nil},
		{"single object", `{"ts":1}`, []string{`{"ts":1}`}},
		{"pretty object", "{\n  \"ts\": 1,\n  \"b\": [1, 2]\n}\n", []string{`{"ts":1,"b":[1,2]}`}},
		{"two pretty objects", "{\n \"ts\": 1\n}\n{\n \"ts\": 2\n}", []string{`{"ts":1}`, `{"ts":2}`}},
		{"numbers and escapes kept", `{"ts":1,"x":1.50,"big":12345678901234567890123,"s":"a\u00e9\n\"","u":"é"}`,
			[]string{`{"ts":1,"x":1.50,"big":12345678901234567890123,"s":"a\u00e9\n\"","u":"é"}`}},
		{"empty body", "  \n ", nil},
		{"missing timestamp added", `{"a":1}`, []string{`{"a":1,"timestamp":"2026-11-26T12:00:00.123456789Z"}`}},
		{"missing timestamp on empty object", `{ }`, []string{`{"timestamp":"2026-11-26T12:00:00.123456789Z"}`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, re := parse(t, c.body, false)
			if re != nil {
				t.Fatalf("error %v", re)
			}
			if got := recs(b); strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Fatalf("got %q want %q", got, c.want)
			}
			if !bytes.HasSuffix(b.Buf, []byte("\n")) && len(b.Buf) > 0 {
				t.Fatal("buffer lines not newline-terminated")
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, body string
		line       int
		msg        string
	}{
		{"bad json line 2", "{\"ts\":1}\n{\"ts\":2,}\n", 2, "invalid character"},
		{"not object", "{\"ts\":1}\n[1]\n", 2, "not a JSON object"},
		{"string record", `"x"`, 1, "not a JSON object"},
		{"array element not object", `[{"ts":1}, 3]`, 2, "not a JSON object"},
		{"invalid utf8", "{\"ts\":1,\"s\":\"\xff\"}", 1, "UTF-8"},
		{"control char", "{\"ts\":1,\"s\":\"a\x01\"}", 1, "control character"},
		{"too deep", `{"ts":1,"a":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`, 1, "nesting deeper"},
		{"bad timestamp", `{"ts":"yesterday"}`, 1, "RFC 3339"},
		{"bool timestamp", `{"ts":true}`, 1, "not a string or a number"},
		{"future", `{"ts":"2026-11-28T12:00:00Z"}`, 1, "in the future"},
		{"two objects one line", `{"ts":1} {"ts":2}`, 1, "after the JSON object"},
		{"truncated", "{\"ts\":1}\n{\"ts\":", 2, "unexpected end"},
		{"truncated first line", "{\"ts\":1,\n", 1, "unexpected end"},
		{"trailing garbage after array", `[{"ts":1}] x`, 1, "after the JSON array"},
		{"pretty with bad ts", "{\n\"ts\": \"no\"\n}", 1, "RFC 3339"},
		{"leading zero", `{"ts":01}`, 1, "invalid character"},
		{"bad escape", `{"ts":1,"s":"\x"}`, 1, "invalid escape"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, re := parse(t, c.body, false)
			if re == nil || re.Line != c.line || !strings.Contains(re.Msg, c.msg) {
				t.Fatalf("got %v, want line %d %q", re, c.line, c.msg)
			}
		})
	}
}

func TestParseSkipKeepsValid(t *testing.T) {
	b, re := parse(t, "{\"ts\":1}\nnope\n{\"ts\":\"bad\"}\n{\"ts\":2}\n[]\n", true)
	if re != nil {
		t.Fatal(re)
	}
	if got := recs(b); strings.Join(got, "|") != `{"ts":1}|{"ts":2}` || b.Rejected != 3 {
		t.Fatalf("got %q rejected %d", got, b.Rejected)
	}
	if b.Errs[0].Line != 2 || b.Errs[1].Line != 3 || b.Errs[2].Line != 5 {
		t.Fatalf("error lines %+v", b.Errs)
	}
	// A well-formed non-object element in an array is skipped like any bad record.
	b, re = parse(t, `[{"ts":1}, 7, {"ts":2}]`, true)
	if re != nil || len(b.Recs) != 2 || b.Rejected != 1 || b.Errs[0].Line != 2 || b.ByReason[1] != 1 {
		t.Fatalf("array with non-object, skip: %v %+v", re, b.Errs)
	}
	// A grammar error inside an array cannot be skipped.
	if _, re := parse(t, `[{"ts":1}, {"ts":}]`, true); re == nil || re.Line != 2 {
		t.Fatalf("array grammar error with skip: %v", re)
	}
}

func TestTimestampFieldPriorityAndFormats(t *testing.T) {
	day := func(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }
	cases := []struct{ body, want string }{
		{`{"time":"2026-11-01T00:00:00Z","ts":"2026-11-02T00:00:00Z"}`, "2026-11-02T00:00:00Z"},
		{`{"_time":"2026-11-01T00:00:00Z","timestamp":"2026-11-03T05:00:00+02:00"}`, "2026-11-03T03:00:00Z"},
		{`{"@timestamp":"2026-11-03T23:30:00.123456789-01:00"}`, "2026-11-04T00:30:00.123456789Z"},
		{`{"ts":"2026-11-03t10:00:00.5z"}`, "2026-11-03T10:00:00.5Z"},
		{`{"ts":1762128000}`, "2025-11-03T00:00:00Z"},
		{`{"ts":1762128000.25}`, "2025-11-03T00:00:00.25Z"},
		{`{"ts":1762128000123}`, "2025-11-03T00:00:00.123Z"},
		{`{"ts":1762128000123456}`, "2025-11-03T00:00:00.123456Z"},
		{`{"ts":1762128000123456789}`, "2025-11-03T00:00:00.123456789Z"},
		{`{"ts":1.762128e9}`, "2025-11-03T00:00:00Z"},
		{`{"ts":0}`, "1970-01-01T00:00:00Z"},
		{`{"t\u0073":"2026-11-03T00:00:00Z"}`, "2026-11-03T00:00:00Z"},
		{`{"nested":{"ts":5},"ts":"2026-01-01T00:00:00Z"}`, "2026-01-01T00:00:00Z"},
	}
	for _, c := range cases {
		b, re := parse(t, c.body, false)
		if re != nil {
			t.Fatalf("%s: %v", c.body, re)
		}
		if got := day(b.Recs[0].TS); got != c.want {
			t.Errorf("%s: got %s want %s", c.body, got, c.want)
		}
	}
	for _, bad := range []string{`"2026-02-30T00:00:00Z"`, `"2026-11-03T24:00:00Z"`, `"2026-11-03T10:00:00"`, `"2026-11-03"`,
		`"2026-11-03T10:00:00.Z"`, `"2026-11-03T10:00:00+0200"`, `null`, `{}`, `1e400`} {
		if _, err := ParseTimestamp([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestMissingTimestampReject(t *testing.T) {
	r := DefaultRules()
	r.MissingTimestamp = "reject"
	b := &Batch{}
	if re := NewParser(r).Parse([]byte(`{"a":1}`), testNow, false, b); re == nil || !strings.Contains(re.Msg, "no timestamp") {
		t.Fatalf("got %v", re)
	}
}

// TestAgreesWithEncodingJSON checks validation and compaction against the
// standard library on a set of tricky documents.
func TestAgreesWithEncodingJSON(t *testing.T) {
	docs := []string{
		`{"ts":1, "a" : [ 1 , 2.5e-3 , -0 , true , false , null , "x\ty" ] , "o":{ }}`,
		"{\"ts\":1,\"a\":\"\\ud800\"}", "{\"ts\":1,\"a\":\"\u2028<>&\"}", `{"ts":1,"a":-}`, `{"ts":1,"a":1.}`,
		`{"ts":1,"a":.5}`, `{"ts":1,"a":+1}`, `{"ts":1,"a":"\u12"}`, `{"ts":1,"a":tru}`, `{"ts":1,}`, `{"ts":1 "b":2}`,
		`{"ts":1,"a":[1,]}`, `{"ts":1,"a":1e}`, `{"ts":1,"a":1E+7}`, "{\"ts\":1,\"a\":\"\xed\xa0\x80\"}",
	}
	for _, d := range docs {
		checkAgainstStdlib(t, []byte(d))
	}
}

func checkAgainstStdlib(t *testing.T, d []byte) {
	t.Helper()
	checkWith(t, NewParser(DefaultRules()), d)
}

// checkWith is checkAgainstStdlib with a parser that may have scanned other
// records before (its scanner predicts keys from the last one).
func checkWith(t *testing.T, p *Parser, d []byte) {
	t.Helper()
	b := &Batch{}
	p.b, p.now, p.nowTS = b, testNow, testNow.UnixNano()
	_, err := p.one(d, jsonx.SkipWS(d, 0))
	var se *SyntaxError
	gotValid := err == nil || (!asSyntax(err, &se) && !errors.Is(err, errNotObject))
	end := p.sc.pos
	wantValid := json.Valid(d) && utf8.Valid(d) && len(bytes.TrimSpace(d)) > 0 && bytes.TrimSpace(d)[0] == '{' && iJSON(d)
	if (err == nil || !asSyntax(err, &se)) && jsonx.SkipWS(d, end) != len(d) {
		gotValid = false // trailing data, whatever else was wrong with the record
	}
	if gotValid != wantValid {
		t.Fatalf("%q: valid=%v, encoding/json says %v (err %v)", d, gotValid, wantValid, err)
	}
	if err == nil && wantValid && p.sc.tsRank >= 0 {
		var want bytes.Buffer
		json.Compact(&want, d)
		if got := b.Buf[:len(b.Buf)-1]; !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("%q: compact %q, encoding/json %q", d, got, want.Bytes())
		}
	}
}

// iJSON is the reference for the I-JSON rules the scanner adds to
// RFC 8259, on input encoding/json accepts: no lone surrogate escapes and
// no duplicate member names (compared decoded) at any depth. It walks
// encoding/json's tokens, so it shares no code with the scanner.
func iJSON(d []byte) bool {
	if !json.Valid(d) {
		return true // not ours to judge
	}
	// Surrogates: every \uD800-\uDBFF escape is followed by \uDC00-\uDFFF,
	// and no \uDC00-\uDFFF stands alone.
	inStr := false
	for i := 0; i < len(d); i++ {
		c := d[i]
		if !inStr {
			inStr = c == '"'
			continue
		}
		switch c {
		case '"':
			inStr = false
		case '\\':
			if d[i+1] != 'u' {
				i++
				continue
			}
			v, _ := strconv.ParseUint(string(d[i+2:i+6]), 16, 32)
			i += 5
			switch {
			case v >= 0xDC00 && v <= 0xDFFF:
				return false
			case v >= 0xD800 && v <= 0xDBFF:
				if i+6 >= len(d) || d[i+1] != '\\' || d[i+2] != 'u' {
					return false
				}
				w, _ := strconv.ParseUint(string(d[i+3:i+7]), 16, 32)
				if w < 0xDC00 || w > 0xDFFF {
					return false
				}
				i += 6
			}
		}
	}
	// Duplicate names, by encoding/json's decoded strings.
	dec := json.NewDecoder(bytes.NewReader(d))
	dec.UseNumber()
	type frame struct {
		obj  bool
		seen map[string]bool
		key  bool // the next string token is a key
	}
	var st []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return true
		}
		var top *frame
		if len(st) > 0 {
			top = st[len(st)-1]
		}
		if k, ok := tok.(string); ok && top != nil && top.obj && top.key {
			if top.seen[k] {
				return false
			}
			top.seen[k] = true
			top.key = false
			continue
		}
		if top != nil && top.obj {
			top.key = true // a value was read: a key comes next
		}
		switch tok {
		case json.Delim('{'):
			st = append(st, &frame{obj: true, seen: map[string]bool{}, key: true})
		case json.Delim('['):
			st = append(st, &frame{})
		case json.Delim('}'), json.Delim(']'):
			st = st[:len(st)-1]
			if len(st) > 0 && st[len(st)-1].obj {
				st[len(st)-1].key = true
			}
		}
	}
}

// Timestamp field names of any length are found, the longest beyond the
// length mask's last bit included, and a key of another length never is.
func TestTimestampFieldNamesOfAnyLength(t *testing.T) {
	long := strings.Repeat("x", 70)
	r := DefaultRules()
	r.TimestampFields = []string{long, "ts"}
	for body, want := range map[string]int64{
		`{"a":1,"` + long + `":5,"ts":7}`:              5e9,
		`{"` + long + `y":5,"ts":7}`:                   7e9, // 71 bytes: shares the mask's last bit
		`{"` + strings.Repeat("x", 63) + `":5,"ts":7}`: 7e9,
		`{"tsx":5,"t":6,"ts":7}`:                       7e9,
	} {
		b := &Batch{}
		if re := NewParser(r).Parse([]byte(body), testNow, false, b); re != nil {
			t.Fatalf("%s: %v", body, re)
		}
		if b.Recs[0].TS != want {
			t.Errorf("%s: ts %d, want %d", body, b.Recs[0].TS, want)
		}
	}
}

// A timestamp field that is null counts as none: the next field is used,
// and with none the receive time is added, or fills the add field's null in
// place (adding it would repeat a member name). A null add field with other
// members, nested fields named like it, and a rejecting rule behave.
func TestNullTimestampIsNone(t *testing.T) {
	now := testNow.UTC().Format(time.RFC3339Nano)
	f := func(body, want string, ts int64) {
		t.Helper()
		b, re := parse(t, body, false)
		if re != nil {
			t.Fatalf("%s: %v", body, re)
		}
		if got := recs(b); len(got) != 1 || got[0] != want || b.Recs[0].TS != ts {
			t.Fatalf("%s: stored %q at %d, want %s at %d", body, got, b.Recs[0].TS, want, ts)
		}
	}
	at := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC).UnixNano()
	f(`{"ts":null,"msg":"a"}`, `{"ts":null,"msg":"a","timestamp":"`+now+`"}`, testNow.UnixNano())
	f(`{"timestamp":null,"msg":"b"}`, `{"timestamp":"`+now+`","msg":"b"}`, testNow.UnixNano())
	f(`{ "msg" : "c" , "timestamp" : null }`, `{"msg":"c","timestamp":"`+now+`"}`, testNow.UnixNano())
	f(`{"timestamp":null,"ts":"2026-11-03T10:00:00Z"}`, `{"timestamp":null,"ts":"2026-11-03T10:00:00Z"}`, at)
	f(`{"ts":null,"time":"2026-11-03T10:00:00Z"}`, `{"ts":null,"time":"2026-11-03T10:00:00Z"}`, at)
	f(`{"a":{"timestamp":null},"s":"\"timestamp\":null"}`, `{"a":{"timestamp":null},"s":"\"timestamp\":null","timestamp":"`+now+`"}`, testNow.UnixNano())
	f(`{"x":1,"ts":null}`, `{"x":1,"ts":null,"timestamp":"`+now+`"}`, testNow.UnixNano())

	r := DefaultRules()
	r.MissingTimestamp = "reject"
	if re := NewParser(r).Parse([]byte(`{"ts":null}`), testNow, false, &Batch{}); re == nil || !strings.Contains(re.Msg, "null") {
		t.Fatalf("reject rule, null ts: %v", re)
	}
	r = DefaultRules()
	r.AddField, r.TimestampFields = "received", []string{"ts"}
	if re := NewParser(r).Parse([]byte(`{"received":"yesterday"}`), testNow, false, &Batch{}); re == nil || !strings.Contains(re.Msg, `"received"`) {
		t.Fatalf("add field present with a value: %v", re)
	}
}

// ParseTimeField takes the time from the named field alone: the rules'
// fields are ignored for that request and restored after it.
func TestParseTimeField(t *testing.T) {
	p := NewParser(DefaultRules())
	body := `{"timestamp":"2020-01-01T00:00:00Z","date":"2026-11-03T10:00:00Z","n":1}
{"ts":"2020-01-01T00:00:00Z","n":2}
{"date":"yesterday","n":3}
`
	var b Batch
	if re := p.ParseTimeField([]byte(body), testNow, true, &b, "date"); re != nil {
		t.Fatal(re)
	}
	if len(b.Recs) != 2 || b.Rejected != 1 || !strings.Contains(b.Errs[0].Err, `field "date"`) {
		t.Fatalf("%d records, %d rejected: %+v", len(b.Recs), b.Rejected, b.Errs)
	}
	if got := time.Unix(0, b.Recs[0].TS).UTC(); !got.Equal(time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("record 1 time %v, want the date field's", got)
	}
	if got := time.Unix(0, b.Recs[1].TS); !got.Equal(testNow) {
		t.Fatalf("record 2 (no date) time %v, want the receive time %v", got, testNow)
	}
	// The next request uses the rules again.
	b.Reset()
	if re := p.Parse([]byte(`{"timestamp":"2020-01-01T00:00:00Z","date":"2026-11-03T10:00:00Z"}`), testNow, false, &b); re != nil || len(b.Recs) != 1 {
		t.Fatal(re)
	}
	if got := time.Unix(0, b.Recs[0].TS).UTC(); got.Year() != 2020 {
		t.Fatalf("after ParseTimeField, Parse took %v: the rules' fields were not restored", got)
	}
}
