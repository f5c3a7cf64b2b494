package syslog

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	gosyslog "github.com/leodido/go-syslog/v4"
)

func parseAll(in string) []byte {
	var out []byte
	now := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	p := NewStreamParser(in[0], 4096, func(r *gosyslog.Result) {
		if r.Message != nil && (r.Error == nil || r.Message.Valid()) {
			out = AppendRecord(out, r.Message, "10.0.0.1:514", now)
		}
	})
	p.Parse(strings.NewReader(in))
	return out
}

// An RFC 3164 timestamp without a year is this year's, or last year's when
// this year's is more than a day ahead (December's messages in January).
func TestRFC3164YearRule(t *testing.T) {
	out := string(parseAll("<13>Dec 31 23:59:00 host app[7]: year end\n"))
	if !strings.Contains(out, `"timestamp":"`) {
		t.Fatalf("no timestamp: %s", out)
	}
	var r struct{ Timestamp time.Time }
	json.Unmarshal([]byte(out), &r)
	if this := time.Now().UTC(); r.Timestamp.After(this.Add(24 * time.Hour)) {
		t.Fatalf("timestamp %v is in the future of %v", r.Timestamp, this)
	}
	out = string(parseAll(`<165>1 2026-11-03T10:00:00.5+02:00 h a 9 ID [x@1 b="2" a="1"][y@1 c="3"] msg` + "\n"))
	want := `{"timestamp":"2026-11-03T08:00:00.5Z","hostname":"h","app_name":"a","proc_id":"9","msg_id":"ID","facility":20,"severity":5,"structured_data":{"x@1":{"a":"1","b":"2"},"y@1":{"c":"3"}},"message":"msg","remote_addr":"10.0.0.1:514"}` + "\n"
	if out != want {
		t.Fatalf("RFC 5424:\n%s\nwant\n%s", out, want)
	}
}

// FuzzStream: any TCP stream yields one JSON object per message (when its
// strings are valid UTF-8, which the core checks); never a panic.
func FuzzStream(f *testing.F) {
	for _, s := range []string{"<14>1 2026-11-03T10:00:00Z h a - - - m\n", "<13>Nov  3 10:00:00 host app: x\n", "35 <14>1 2026-11-03T10:00:00Z h a - - - m", "<14>1 - - - - [a@1 b=\"\\]\"] x\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		out := parseAll(string(b))
		for _, line := range bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n")) {
			if len(out) > 0 && utf8.Valid(line) && !json.Valid(line) {
				t.Fatalf("not JSON: %s", line)
			}
		}
	})
}
