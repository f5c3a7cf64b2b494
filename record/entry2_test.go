package record

import (
	"bytes"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/utcday"
	"github.com/klauspost/compress/zstd"
)

// zstdFrames is a Compressor for tests, as segment.Encoder is one; it checks
// that every frame is whole lines, no longer than span unless one line.
type zstdFrames struct {
	e    *zstd.Encoder
	span *int
	bad  *string
}

func (z zstdFrames) AppendFrames(dst, all []byte, ends []int) []byte {
	if len(ends) == 0 || ends[len(ends)-1] != len(all) {
		*z.bad = fmt.Sprintf("frame ends %v do not end at %d", ends, len(all))
	}
	prev := 0
	for _, end := range ends {
		raw := all[prev:end]
		prev = end
		lines := bytes.Count(raw, []byte{'\n'})
		switch {
		case len(raw) == 0 || raw[len(raw)-1] != '\n':
			*z.bad = fmt.Sprintf("a frame of %d bytes does not end a line", len(raw))
		case len(raw) > max(*z.span, 1) && lines > 1:
			*z.bad = fmt.Sprintf("a frame of %d lines, %d bytes, over the span of %d", lines, len(raw), *z.span)
		}
		dst = z.e.EncodeAll(raw, dst)
	}
	return dst
}

func newFrames(t testing.TB) (zstdFrames, *zstd.Decoder) {
	e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderCRC(true))
	if err != nil {
		t.Fatal(err)
	}
	d, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	return zstdFrames{e: e, span: new(int), bad: new(string)}, d
}

// byDay is what a format 2 entry must hold: each day's records, in request
// order, with their count and time range.
func byDay(b *Batch) map[int64]*Part {
	out := map[int64]*Part{}
	for _, r := range b.Recs {
		d := utcday.Of(r.TS)
		p := out[d]
		if p == nil {
			p = &Part{Day: d, MinTS: r.TS, MaxTS: r.TS}
			out[d] = p
		}
		p.Data = append(p.Data, b.Buf[r.Off:r.Off+r.Len+1]...)
		p.Records++
		p.RawLen += r.Len + 1
		p.MinTS, p.MaxTS = min(p.MinTS, r.TS), max(p.MaxTS, r.TS)
	}
	return out
}

// checkEntry decodes payload and compares every part, decompressed, with
// the batch's records of that day.
func checkEntry(t *testing.T, payload []byte, b *Batch, d *zstd.Decoder, stored int) {
	t.Helper()
	if FormatOf(payload) != EntryFramed {
		t.Fatal("payload not marked format 2")
	}
	parts, err := DecodeParts(payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := byDay(b)
	if len(parts) != len(want) {
		t.Fatalf("%d parts, want %d days", len(parts), len(want))
	}
	n := 0
	for _, p := range parts {
		w := want[p.Day]
		if w == nil {
			t.Fatalf("part for day %d, which has no records", p.Day)
		}
		data := p.Data
		if p.Packed {
			if data, err = d.DecodeAll(p.Data, nil); err != nil {
				t.Fatalf("day %d: %v", p.Day, err)
			}
		}
		if !bytes.Equal(data, w.Data) || p.Records != w.Records || p.RawLen != w.RawLen || p.MinTS != w.MinTS || p.MaxTS != w.MaxTS {
			t.Fatalf("day %d: part %d recs %d raw %d..%d, want %d recs %d raw %d..%d; equal data: %v",
				p.Day, p.Records, p.RawLen, p.MinTS, p.MaxTS, w.Records, w.RawLen, w.MinTS, w.MaxTS, bytes.Equal(data, w.Data))
		}
		n += len(p.Data)
	}
	if n != stored {
		t.Fatalf("stored %d, parts hold %d", stored, n)
	}
}

// TestFramedEntryRoundTrip builds format 2 entries from requests of one and
// several days, below and above the frame threshold, and checks that every
// day's part decodes to exactly that day's records in request order.
func TestFramedEntryRoundTrip(t *testing.T) {
	c, d := newFrames(t)
	rng := rand.New(rand.NewSource(7))
	day := int64(24 * time.Hour)
	base := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC).UnixNano()
	for _, tc := range []struct {
		name   string
		n      int
		days   []int64 // day offsets from 2026-12-03 the records cycle through
		f      Framing
		packed bool
	}{
		{"one small day", 3, []int64{0}, Framing{1 << 10, 64 << 10}, false},
		{"one big day", 500, []int64{0}, Framing{1 << 10, 64 << 10}, true},
		{"one big day, frames of 1 KiB", 500, []int64{0}, Framing{1 << 10, 1 << 10}, true},
		{"frames of one line each", 50, []int64{0}, Framing{0, 1}, true},
		{"days interleaved", 900, []int64{0, -1, 2, 0}, Framing{4 << 10, 8 << 10}, true},
		{"days, all small", 30, []int64{0, 1, -3}, Framing{64 << 10, 64 << 10}, false},
		{"nothing reaches the threshold", 50, []int64{0}, Framing{1 << 30, 64 << 10}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body strings.Builder
			for i := 0; i < tc.n; i++ {
				ts := base + tc.days[i%len(tc.days)]*day + rng.Int63n(day)
				fmt.Fprintf(&body, `{"ts":%d,"id":"%x","n":%d,"msg":"message %d of a request"}`+"\n", ts, rng.Uint64(), rng.Intn(1e6), i)
			}
			b := &Batch{}
			if re := NewParser(DefaultRules()).Parse([]byte(body.String()), time.Unix(0, base).Add(10*24*time.Hour), false, b); re != nil {
				t.Fatal(re.Msg)
			}
			var sc EntryScratch
			*c.span = tc.f.Span
			payload, stored, packed := AppendFramedEntry([]byte("prefix"), b, c, tc.f, &sc)
			if *c.bad != "" {
				t.Fatal(*c.bad)
			}
			if string(payload[:6]) != "prefix" {
				t.Fatal("dst not appended to")
			}
			if packed != tc.packed {
				t.Fatalf("packed %v, want %v", packed, tc.packed)
			}
			checkEntry(t, payload[6:], b, d, stored)
			// The scratch is reused: a second request through it is right too.
			b2 := &Batch{}
			NewParser(DefaultRules()).Parse([]byte(`{"ts":5,"a":1}`+"\n"), time.Now(), false, b2)
			p2, stored2, _ := AppendFramedEntry(nil, b2, c, tc.f, &sc)
			checkEntry(t, p2, b2, d, stored2)
		})
	}
}

// TestDecodePartsRefusesDamage: every truncation of a valid payload and
// every single-byte change to a field is refused, or decodes to parts that
// are still plausible (a changed byte inside a frame is caught where the
// frame is decompressed, by its checksum).
func TestDecodePartsRefusesDamage(t *testing.T) {
	c, _ := newFrames(t)
	b := &Batch{}
	var body strings.Builder
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&body, `{"ts":%d,"i":%d}`+"\n", int64(i%2)*int64(24*time.Hour)+int64(i), i)
	}
	NewParser(DefaultRules()).Parse([]byte(body.String()), time.Now(), false, b)
	var sc EntryScratch
	p, _, _ := AppendFramedEntry(nil, b, c, Framing{0, 100}, &sc)
	for n := 0; n < len(p); n++ {
		if _, err := DecodeParts(p[:n], nil); err == nil {
			t.Fatalf("truncated to %d of %d bytes: accepted", n, len(p))
		}
	}
	if _, err := DecodeParts(append(append([]byte{}, p...), 0), nil); err == nil {
		t.Fatal("trailing byte accepted")
	}
	q := append([]byte{}, p...)
	q[1] = 3
	if _, err := DecodeParts(q, nil); err == nil || !strings.Contains(err.Error(), "unknown format 3") {
		t.Fatalf("format 3: %v", err)
	}
	// Format 1 payloads are not format 2, and the other way round.
	if FormatOf(AppendPlainEntry(nil, b)) == EntryFramed {
		t.Fatal("a format 1 payload looks like format 2")
	}
	if _, _, err := DecodeEntry(p, nil); err == nil {
		t.Fatal("format 1 decoder accepted a format 2 payload")
	}
}

// FuzzFramedEntry: for any body the parser accepts, the format 2 entry of
// its records decodes to exactly each day's records, whatever the frame
// threshold and span; and DecodeParts never panics on the bytes themselves.
func FuzzFramedEntry(f *testing.F) {
	for _, s := range []string{"{\"ts\":1}\n{\"ts\":86400000000001}\n", "{\"ts\":-1,\"a\":\"x\"}\n{\"ts\":1}\n{\"ts\":-86400000000001}", "{\"ts\":\"2026-11-03T00:00:00Z\",\"m\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}"} {
		f.Add([]byte(s), uint16(0), uint16(1))
		f.Add([]byte(s), uint16(40), uint16(20))
	}
	c, d := newFrames(f)
	f.Fuzz(func(t *testing.T, body []byte, minFrame, span uint16) {
		DecodeParts(body, nil)
		b := &Batch{}
		if re := NewParser(DefaultRules()).Parse(body, testNow, true, b); re != nil || len(b.Recs) == 0 {
			return
		}
		var sc EntryScratch
		*c.span = int(span)
		p, stored, _ := AppendFramedEntry(nil, b, c, Framing{int(minFrame), int(span)}, &sc)
		if *c.bad != "" {
			t.Fatal(*c.bad)
		}
		checkEntry(t, p, b, d, stored)
	})
}
