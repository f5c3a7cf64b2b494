package hec

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzEvents: any body is refused or gives one record per event, each with
// its "event", and valid JSON whenever the body was (the lexer finds value
// boundaries; the core's strict parser refuses what is not JSON); never a
// panic.
func FuzzEvents(f *testing.F) {
	for _, s := range []string{`{"time":"1.5","event":"a"}{"event":{"b":[1]}}`, `{"event":"x","fields":{"f":"v"}}`, ` {"event":1} `, `{"time":1,"event":""}`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		out, e := Events(nil, body)
		if e != nil {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		for {
			var v any
			if err := dec.Decode(&v); err != nil {
				if err.Error() != "EOF" {
					return // not a JSON stream: the core refuses the records
				}
				break
			}
		}
		for _, line := range bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n")) {
			if !utf8.Valid(line) {
				continue
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(line, &m); err != nil {
				if json.Valid(line) { // duplicate names etc. are the core's to refuse
					continue
				}
				t.Fatalf("not JSON: %s", line)
			}
			if _, ok := m["event"]; !ok {
				t.Fatalf("no event: %s", line)
			}
		}
	})
}

func TestAck(t *testing.T) {
	if r := Ack([]byte(`{"acks":[3,1]}`)); r.Status != 200 || string(r.Body) != `{"acks":{"3":true,"1":true}}` {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	if r := Ack([]byte(`{"acks":["x"]}`)); r.Status != 400 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
}

// A "time" string becomes a number only when it is a JSON number: strings
// that parse as floats but are no JSON stay strings, so the record stays
// JSON (a fuzz find: "00" was stored as the number 00).
func TestTimeStringToNumber(t *testing.T) {
	for in, want := range map[string]string{
		`"1426279439.123"`: `1426279439.123`,
		`"0.5"`:            `0.5`,
		`"1e3"`:            `1e3`,
		`"2E-1"`:           `2E-1`,
		`"0"`:              `0`,
		`"00"`:             `"00"`,
		`"01.5"`:           `"01.5"`,
		`"1."`:             `"1."`,
		`"1.e5"`:           `"1.e5"`,
		`"1e"`:             `"1e"`,
		`"0x1p4"`:          `"0x1p4"`,
		`"-1"`:             `"-1"`,
		`"1 "`:             `"1 "`,
		`"Inf"`:            `"Inf"`,
		`""`:               `""`,
		`1426279439`:       `1426279439`,
	} {
		out, e := Events(nil, []byte(`{"time":`+in+`,"event":"x"}`))
		if e != nil {
			t.Fatalf("%s: %v", in, e)
		}
		if got, exp := string(out), `{"time":`+want+`,"event":"x"}`+"\n"; got != exp {
			t.Errorf("%s: %s, want %s", in, got, exp)
		}
		if !json.Valid(bytes.TrimSpace(out)) {
			t.Errorf("%s: not JSON: %s", in, out)
		}
	}
}
