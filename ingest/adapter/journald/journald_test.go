package journald

import (
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"
)

func binField(name string, v []byte) string {
	b := []byte(name + "\n")
	b = binary.LittleEndian.AppendUint64(b, uint64(len(v)))
	b = append(b, v...)
	return string(append(b, '\n'))
}

func TestRecords(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{in: "__REALTIME_TIMESTAMP=1793700000123456\nMESSAGE=hi\nPRIORITY=3\n\n",
			want: `{"timestamp":"2026-11-03T10:00:00.123456Z","MESSAGE":"hi","PRIORITY":"3"}`},
		{in: "MESSAGE=a\nX=1\nMESSAGE=b\nY=2\nMESSAGE=c", want: `{"MESSAGE":["a","b","c"],"X":"1","Y":"2"}`},
		{in: "\n\nMESSAGE=one\n\n\nMESSAGE=two\n", want: `{"MESSAGE":"one"}` + "\n" + `{"MESSAGE":"two"}`},
		{in: binField("M", []byte("a\nb\"\\")) + "\n", want: `{"M":"a\u000ab\"\\"}`},
		{in: binField("M", []byte{0xff}), want: `{"M":"/w=="}`},
		{in: "EMPTY=\n", want: `{"EMPTY":""}`},
		{in: "", err: "no journal entries"},
		{in: "lower=x\n", err: "bad field name"},
		{in: "9X=x\n", err: "bad field name"},
		{in: "M\n\x01\x00", err: "cut short"},
		{in: "M\n\x05\x00\x00\x00\x00\x00\x00\x00abcdeX", err: "not followed by a newline"},
		{in: "M\n\xff\xff\xff\xff\xff\xff\xff\xffab\n", err: "cut short"},
		{in: "__REALTIME_TIMESTAMP=-5\n", err: "not microseconds"},
		{in: strings.Repeat("F=x\n", MaxFields+1), err: "more than 1024 fields"},
	} {
		var d Decoder
		out, e := d.Records(nil, []byte(c.in))
		if c.err != "" {
			if e == nil || !strings.Contains(e.Message, c.err) || e.Status != 400 {
				t.Errorf("%q: %v, want %q", c.in, e, c.err)
			}
			continue
		}
		if e != nil || string(out) != c.want+"\n" {
			t.Errorf("%q:\n got %s %v\nwant %s", c.in, out, e, c.want)
		}
	}
}

// Records allocates nothing per entry once its buffers have grown.
func TestRecordsAllocs(t *testing.T) {
	var body []byte
	for i := 0; i < 100; i++ {
		body = append(body, "__REALTIME_TIMESTAMP=1793700000123456\nMESSAGE=GET / 200\nPRIORITY=6\n_HOSTNAME=h\nSYSLOG_IDENTIFIER=nginx\n_SYSTEMD_UNIT=nginx.service\n\n"...)
	}
	var d Decoder
	dst := make([]byte, 0, 64<<10)
	if n := testing.AllocsPerRun(20, func() {
		out, e := d.Records(dst[:0], body)
		if e != nil {
			t.Fatal(e)
		}
		dst = out
	}); n > 1 {
		t.Fatalf("%.0f allocations for 100 entries", n)
	}
}

// FuzzRecords: any body is refused or becomes records that are each a
// JSON object.
func FuzzRecords(f *testing.F) {
	f.Add([]byte("__REALTIME_TIMESTAMP=1793700000123456\nMESSAGE=hi\nMESSAGE=again\n\n" + binField("B", []byte{0, 0xff, '\n'})))
	f.Add([]byte("A=1\n\nB\n\x01\x00\x00\x00\x00\x00\x00\x00x\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		var d Decoder
		out, e := d.Records(nil, body)
		if e != nil {
			return
		}
		for _, l := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
			var v map[string]any
			if err := json.Unmarshal([]byte(l), &v); err != nil {
				t.Fatalf("%q → %q: %v", body, l, err)
			}
		}
	})
}
