package fluent

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"
)

func message(tag string, events ...[]byte) []byte {
	b := msgp.AppendArrayHeader(nil, 2)
	b = msgp.AppendString(b, tag)
	b = msgp.AppendArrayHeader(b, uint32(len(events)))
	for _, e := range events {
		b = append(b, e...)
	}
	return b
}

func event(ts int64, rec func([]byte) []byte) []byte {
	b := msgp.AppendArrayHeader(nil, 2)
	b = msgp.AppendInt64(b, ts)
	return rec(b)
}

// Values convert to JSON as the package documents.
func TestValues(t *testing.T) {
	rec := func(b []byte) []byte {
		b = msgp.AppendMapHeader(b, 11)
		b = msgp.AppendString(b, "s")
		b = msgp.AppendString(b, "a \"q\"\n")
		b = msgp.AppendString(b, "bad")
		b = append(b, 0xa2, 0xff, 'x') // str with invalid UTF-8
		b = msgp.AppendString(b, "bin")
		b = msgp.AppendBytes(b, []byte("text"))
		b = msgp.AppendString(b, "blob")
		b = msgp.AppendBytes(b, []byte{0, 0xff})
		b = msgp.AppendString(b, "n")
		b = msgp.AppendNil(b)
		b = msgp.AppendString(b, "f")
		b = msgp.AppendFloat64(b, 1.5)
		b = msgp.AppendString(b, "nan")
		b = msgp.AppendFloat64(b, math.NaN())
		b = msgp.AppendString(b, "u")
		b = msgp.AppendUint64(b, math.MaxUint64)
		b = msgp.AppendString(b, "t")
		// MessagePack's timestamp 96: ext -1, nanoseconds, seconds.
		ts := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
		b = append(b, 0xc7, 12, 0xff)
		b = binary.BigEndian.AppendUint32(b, uint32(ts.Nanosecond()))
		b = binary.BigEndian.AppendUint64(b, uint64(ts.Unix()))
		b = msgp.AppendString(b, "arr")
		b = msgp.AppendArrayHeader(b, 2)
		b = msgp.AppendBool(b, true)
		b = msgp.AppendInt(b, -3)
		b = msgp.AppendInt(b, 7) // a key that is no string
		return msgp.AppendFloat32(b, 0.25)
	}
	var d Decoder
	out, m, err := d.Records(nil, message("app", event(1793700000, rec)))
	if err != nil || m.Events != 1 || string(m.Tag) != "app" || m.Chunk != nil {
		t.Fatalf("%v %+v", err, m)
	}
	want := `{"timestamp":"2026-11-03T10:00:00Z","tag":"app","record":{"s":"a \"q\"\n","bad":"\uFFFDx","bin":"text","blob":"AP8=","n":null,` +
		`"f":1.5,"nan":"NaN","u":18446744073709551615,"t":"2026-01-02T03:04:05.000000006Z","arr":[true,-3],"7":0.25}}` + "\n"
	var a, b any
	if json.Unmarshal(out, &a) != nil || json.Unmarshal([]byte(want), &b) != nil || !jsonEqual(a, b) {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// Malformed messages are refused with a reason, never half-written.
func TestMalformed(t *testing.T) {
	var d Decoder
	for name, msg := range map[string][]byte{
		"not an array":   msgp.AppendString(nil, "x"),
		"one element":    msgp.AppendString(msgp.AppendArrayHeader(nil, 1), "tag"),
		"bad time":       append(msgp.AppendString(msgp.AppendArrayHeader(nil, 3), "t"), append(msgp.AppendString(nil, "now"), msgp.AppendMapHeader(nil, 0)...)...),
		"entry not pair": message("t", msgp.AppendArrayHeader(msgp.AppendInt(nil, 1), 0)),
		"bad gzip":       append(append(msgp.AppendString(msgp.AppendArrayHeader(nil, 3), "t"), msgp.AppendBytes(nil, []byte("nope"))...), msgp.AppendString(msgp.AppendString(msgp.AppendMapHeader(nil, 1), "compressed"), "gzip")...),
	} {
		out, _, err := d.Records([]byte("kept\n"), msg)
		if err == nil || string(out) != "kept\n" {
			t.Errorf("%s: %q %v", name, out, err)
		}
	}
}

func TestAck(t *testing.T) {
	var buf bytes.Buffer
	if _, err := msgp.UnmarshalAsJSON(&buf, Ack(nil, []byte("chunk-1"))); err != nil || buf.String() != `{"ack":"chunk-1"}` {
		t.Fatalf("%s %v", buf.String(), err)
	}
}

// FuzzRecords: any message converts to records that are each one JSON
// object, or is refused.
func FuzzRecords(f *testing.F) {
	f.Add(message("app", event(1793700000, func(b []byte) []byte {
		return msgp.AppendString(msgp.AppendString(msgp.AppendMapHeader(b, 1), "k"), "v")
	})))
	f.Add(msgp.AppendInt(msgp.AppendString(msgp.AppendArrayHeader(nil, 3), "t"), 5))
	f.Fuzz(func(t *testing.T, msg []byte) {
		var d Decoder
		d.MaxInflated = 1 << 20
		out, m, err := d.Records(nil, msg)
		if err != nil {
			return
		}
		lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
		if m.Events == 0 {
			if len(out) != 0 {
				t.Fatalf("no events but output %q", out)
			}
			return
		}
		if len(lines) != m.Events {
			t.Fatalf("%d events, %d lines", m.Events, len(lines))
		}
		for _, l := range lines {
			var v map[string]any
			if err := json.Unmarshal([]byte(l), &v); err != nil {
				t.Fatalf("%x → %q: %v", msg, l, err)
			}
		}
	})
}
