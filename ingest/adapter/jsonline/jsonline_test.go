package jsonline

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRecords(t *testing.T) {
	w := &Writer{TimeField: []byte("date"), MsgFields: []byte("message, msg"), StreamFields: []byte("app,host,missing")}
	in := `{"date":"0","message":"m","app":"a","host":1}
{"_msg":"kept","message":"not renamed"}
 [1,2]
{"msg":"x","date":0}
{"broken":
`
	want := `{"_msg":"m","app":"a","host":1,"_stream":"{app=\"a\",host=\"1\"}"}
{"_msg":"kept","message":"not renamed","_stream":"{}"}
 [1,2]
{"_msg":"x","_stream":"{}"}
{"broken":
`
	out, e := w.Records(nil, []byte(in))
	if e != nil || string(out) != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
	plain := &Writer{}
	if out, _ := plain.Records(nil, []byte("{\"a\":1}\nx")); string(out) != "{\"a\":1}\nx\n" {
		t.Fatalf("without parameters the lines pass unchanged: %q", out)
	}
}

// FuzzRecords: a line that is a JSON object stays one, whatever the
// parameters.
func FuzzRecords(f *testing.F) {
	f.Add([]byte(`{"date":"0","message":"m","app":"a","host":1}`), "date", "message,msg", "app,host")
	f.Add([]byte(`{"_msg":"x","a":{"b":[1,"\u00e9"]}}`), "", "a", "a")
	f.Fuzz(func(t *testing.T, line []byte, timeField, msg, stream string) {
		if strings.ContainsRune(string(line), '\n') {
			return
		}
		var v map[string]any
		if json.Unmarshal(line, &v) != nil {
			return
		}
		w := &Writer{TimeField: []byte(timeField), MsgFields: []byte(msg), StreamFields: []byte(stream)}
		out, _ := w.Records(nil, line)
		var got map[string]any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%s → %s: %v", line, out, err)
		}
	})
}
