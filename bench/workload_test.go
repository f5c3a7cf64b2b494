package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/tinylib/msgp/msgp"

	fluentadapter "github.com/ingestd/ingestd/ingest/adapter/fluent"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func gen(t *testing.T, w Workload) *Generator {
	t.Helper()
	g, err := NewGenerator(w, t0)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestGeneratorDeterministicUniqueSized(t *testing.T) {
	for _, shape := range []string{ShapeLogs, ShapeEvents, ShapeMetrics, ShapeWide, ShapeMixed} {
		t.Run(shape, func(t *testing.T) {
			w := Workload{Seed: 7, Shape: shape, Batch: 100, Form: "ndjson", Compression: "none", Days: 3}
			a, b := gen(t, w), gen(t, w)
			ids := map[string]bool{}
			var total, n int
			for i := int64(0); i < 40; i++ {
				ra, rb := a.Request(i), b.Request(i)
				if !bytes.Equal(ra.Body, rb.Body) {
					t.Fatalf("request %d differs between generators with one seed", i)
				}
				for _, line := range strings.Split(strings.TrimSpace(string(ra.Body)), "\n") {
					var v struct{ ID string }
					if err := json.Unmarshal([]byte(line), &v); err != nil {
						t.Fatalf("invalid record %q: %v", line, err)
					}
					if len(v.ID) != idWidth || ids[v.ID] {
						t.Fatalf("id %s repeated", v.ID)
					}
					ids[v.ID] = true
					total += len(line)
					n++
				}
			}
			if shape != ShapeMixed {
				avg := float64(total) / float64(n)
				if nom := float64(Nominal[shape]); avg < nom*0.9 || avg > nom*1.1 {
					t.Fatalf("average record %.0f B, nominal %.0f B (±10%%)", avg, nom)
				}
			}
			c := gen(t, Workload{Seed: 8, Shape: shape, Batch: 100, Form: "ndjson", Compression: "none", Days: 3})
			if bytes.Equal(c.Request(0).Body, a.Request(0).Body) {
				t.Fatal("another seed gave the same body")
			}
		})
	}
}

func TestGeneratorFormsAndInvalid(t *testing.T) {
	g := gen(t, Workload{Seed: 1, Shape: ShapeLogs, Batch: 200, Form: "array", Compression: "none", Days: 1, Invalid: 0.1})
	r := g.Request(3)
	var arr []map[string]any
	if err := json.Unmarshal(r.Body, &arr); err != nil || len(arr) != 200 {
		t.Fatalf("array body: %v %d", err, len(arr))
	}
	bad := 0
	for i, inv := range r.Invalid {
		if inv {
			bad++
			if arr[i]["timestamp"] != "never" {
				t.Fatalf("invalid record %d not marked: %v", i, arr[i])
			}
		}
	}
	if bad < 5 || bad > 40 {
		t.Fatalf("%d invalid of 200 at 10%%", bad)
	}
	g = gen(t, Workload{Seed: 1, Shape: ShapeLogs, Batch: 200, Form: "ndjson", Compression: "none", Days: 1, Invalid: 0.1})
	r = g.Request(3)
	for i, line := range strings.Split(strings.TrimSpace(string(r.Body)), "\n") {
		if json.Valid([]byte(line)) == r.Invalid[i] {
			t.Fatalf("line %d validity does not match Invalid=%v", i, r.Invalid[i])
		}
	}
}

func TestGeneratorUntilPutsRecordsInPastDays(t *testing.T) {
	until := time.Date(2026, 10, 13, 0, 0, 0, 0, time.UTC)
	w := Workload{Seed: 3, Shape: ShapeLogs, Batch: 200, Form: "ndjson", Compression: "none", Days: 3, Until: until}
	g := gen(t, w)
	seen := map[string]bool{}
	for i := int64(0); i < nTemplates; i++ {
		for _, line := range bytes.Split(bytes.TrimSpace(g.Request(i).Body), []byte("\n")) {
			var r struct{ Timestamp time.Time }
			if err := json.Unmarshal(line, &r); err != nil {
				t.Fatal(err)
			}
			if r.Timestamp.Before(until.AddDate(0, 0, -3)) || !r.Timestamp.Before(until) {
				t.Fatalf("timestamp %s outside the 3 days before %s", r.Timestamp, until)
			}
			seen[r.Timestamp.Format(time.DateOnly)] = true
		}
	}
	if len(seen) != 3 {
		t.Fatalf("days %v, want 3", seen)
	}
	// The ack log header carries Until, so the verifier rebuilds the same requests.
	b, _ := json.Marshal(w)
	var back Workload
	if err := json.Unmarshal(b, &back); err != nil || !back.Until.Equal(until) {
		t.Fatalf("Until lost in the header: %s", b)
	}
}

// The unique shape: request i always has the same bytes, record ids run on
// from request to request, every record is a JSON object of ≈ 350 B, no
// two records share a request_id, and the bytes compress like real logs
// (4–5× under zstd's fastest level), not like 16 repeated bodies.
func TestUniqueShape(t *testing.T) {
	now := time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC)
	w := Workload{Seed: 9, Shape: ShapeUnique, Batch: 500, Form: "ndjson", Compression: "none", Days: 2}
	g, err := NewGenerator(w, now)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g.Request(3).Body, g.Request(3).Body) {
		t.Fatal("request 3 differs between calls")
	}
	seen := map[string]bool{}
	var size int
	for i := int64(0); i < 8; i++ {
		lines := bytes.Split(bytes.TrimSuffix(g.Request(i).Body, []byte("\n")), []byte("\n"))
		if len(lines) != 500 {
			t.Fatalf("request %d: %d records", i, len(lines))
		}
		for j, l := range lines {
			var r struct {
				ID, Timestamp string
				RequestID     string `json:"request_id"`
			}
			if err := json.Unmarshal(l, &r); err != nil {
				t.Fatalf("record %s: %v", l, err)
			}
			if r.ID != fmt.Sprintf("%012d", i*500+int64(j)) || seen[r.RequestID] {
				t.Fatalf("record %d of request %d: id %s, request_id %s (seen: %v)", j, i, r.ID, r.RequestID, seen[r.RequestID])
			}
			seen[r.RequestID] = true
			ts, err := time.Parse(time.RFC3339Nano, r.Timestamp)
			if err != nil || ts.After(now) || ts.Before(now.Add(-48*time.Hour)) {
				t.Fatalf("timestamp %s", r.Timestamp)
			}
			size += len(l)
		}
	}
	if avg := size / 4000; avg < 300 || avg > 400 {
		t.Fatalf("records of %d B on average", avg)
	}
	sample := g.Sample(8 << 20)
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if r := float64(len(sample)) / float64(len(enc.EncodeAll(sample, nil))); r < 3.5 || r > 6 {
		t.Fatalf("compresses %.1f×, want 3.5–6×", r)
	}
	for _, bad := range []Workload{{Seed: 1, Shape: ShapeUnique, Batch: 5, Form: "ndjson", Compression: "none", Days: 1, Invalid: 0.1},
		{Seed: 1, Shape: ShapeUnique, Batch: 5, Form: "array", Compression: "none", Days: 1}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// A reused body buffer, holding another request's bytes and bigger or
// smaller than needed, gives the same request as a fresh one: the load
// generator recycles bodies.
func TestRequestIntoReusesBuffers(t *testing.T) {
	for _, shape := range []string{ShapeUnique, ShapeLogs, ShapeWide} {
		for _, comp := range []string{"none", "zstd"} {
			w := Workload{Seed: 7, Shape: shape, Batch: 50, Form: "ndjson", Compression: comp, Days: 2}
			gen, err := NewGenerator(w, time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC))
			if err != nil {
				t.Fatal(err)
			}
			var buf []byte
			for _, i := range []int64{3, 0, 17, 3, 1 << 20} {
				want := gen.Request(i)
				got := gen.RequestInto(i, &buf)
				if !bytes.Equal(got.Body, want.Body) || got.Raw != want.Raw || got.FirstID != want.FirstID {
					t.Fatalf("%s/%s request %d: reused buffer gives %d bytes, fresh %d", shape, comp, i, len(got.Body), len(want.Body))
				}
				if comp == "none" && &got.Body[0] != &buf[0] {
					t.Fatalf("%s request %d: the body is not built in the buffer", shape, i)
				}
				buf = append(buf, "garbage that the next request must not keep"...)
			}
		}
	}
}

// A fluent workload's requests are forward messages whose events the
// daemon's adapter turns into records that --verify finds by id.
func TestFluentRequests(t *testing.T) {
	w := Workload{Shape: ShapeLogs, Batch: 20, Form: "ndjson", Compression: "none", Days: 1, Seed: 3, Protocol: ProtocolFluent}
	g, err := NewGenerator(w, time.Date(2026, 11, 5, 12, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	r := g.Request(7)
	body := msgp.AppendString(msgp.AppendString(msgp.AppendMapHeader(append([]byte(nil), r.Body...), 1), "chunk"), "7")
	var d fluentadapter.Decoder
	out, m, err := d.Records(nil, body)
	if err != nil || m.Events != 20 || string(m.Chunk) != "7" {
		t.Fatalf("%v %+v", err, m)
	}
	for j, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		want := fmt.Sprintf(`%s%0*d"`, fluentKey, idWidth, r.FirstID+int64(j))
		if !strings.Contains(line, want) || !strings.HasPrefix(line, `{"timestamp":"2026-11-0`) {
			t.Fatalf("event %d: %s lacks %s", j, line, want)
		}
	}
}
