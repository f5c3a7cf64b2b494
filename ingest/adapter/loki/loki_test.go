package loki

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/grafana/loki/pkg/push"
	"github.com/klauspost/compress/snappy"
)

func TestLabelSet(t *testing.T) {
	for in, want := range map[string]string{
		`{}`:                          `{}`,
		`{job="app"}`:                 `{"job":"app"}`,
		` { a = "1" , b="x\"y\\z" } `: `{"a":"1","b":"x\"y\\z"}`,
		`{a="new\nline", c="é"}`:      `{"a":"new\u000aline","c":"é"}`,
		`job="x"`:                     ``,
		`{a=1}`:                       ``,
		`{a="1" b="2"}`:               ``,
		`{a="unterminated}`:           ``,
		`{="x"}`:                      ``,
	} {
		got, ok := appendLabelSet(nil, in)
		if (want == "") == ok || ok && string(got) != want {
			t.Errorf("%q: %q %v, want %q", in, got, ok, want)
		}
	}
}

// FuzzRecordsProto: any body is refused or gives one JSON object per entry
// (when the strings are valid UTF-8, which the core checks); never a panic.
func FuzzRecordsProto(f *testing.F) {
	req := push.PushRequest{Streams: []push.Stream{{Labels: `{job="a"}`, Entries: []push.Entry{{Timestamp: time.Unix(1, 2), Line: "x",
		StructuredMetadata: push.LabelsAdapter{{Name: "k", Value: "v"}}}}}}}
	raw, _ := req.Marshal()
	f.Add(snappy.Encode(nil, raw))
	f.Add([]byte{0xff, 0x01})
	f.Fuzz(func(t *testing.T, body []byte) {
		out, e := RecordsProto(nil, body, false, 1<<20)
		if e != nil {
			return
		}
		for _, line := range bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n")) {
			if len(out) > 0 && utf8.Valid(line) && !json.Valid(line) {
				t.Fatalf("not JSON: %s", line)
			}
		}
	})
}

// A timestamp sent as a number (Loki wants a string) is kept as the number,
// which the record rules read as epoch nanoseconds; it used to lose a digit
// at each end.
func TestNumericTimestampKept(t *testing.T) {
	out, e := Records(nil, []byte(`{"streams":[{"stream":{"a":"b"},"values":[[1793700000123456789,"x"],["1793700000123456789","y"]]}]}`), false)
	if e != nil {
		t.Fatal(e)
	}
	want := `{"timestamp":1793700000123456789,"labels":{"a":"b"},"line":"x"}` + "\n" + `{"timestamp":"2026-11-03T10:00:00.123456789Z","labels":{"a":"b"},"line":"y"}` + "\n"
	if string(out) != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
}
