package report

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var writePartialGolden = flag.Bool("partial.write", false, "write testdata/partial-v1.json anew (then review and commit it)")

const partialGolden = "testdata/partial-v1.json"

// goldenPartialConfig is a zero-config report with two breakdowns: every
// part of the partial's format.
func goldenPartialConfig(t testing.TB) Config {
	cfg := testConfig()
	cfg.Dimensions, cfg.Metrics, cfg.Distinct, cfg.Auto = nil, nil, nil, true
	cfg.Workers = 1 // one order of float sums: the bytes are reproducible
	st, err := ParseStats(`count,share,p50(duration_ms),distinct(user.id),top(level),rate(level == "error")`)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Breakdowns = []Breakdown{
		{Name: "svc", By: []string{"service"}, Time: "hour", Stats: st},
		{Name: "small", By: []string{"user.id"}, Capacity: 5},
	}
	return cfg
}

// goldenPartial computes the partial of a small generated day.
func goldenPartial(t testing.TB) []byte {
	dir := t.TempDir()
	r := rand.New(rand.NewSource(3))
	writePart(t, dir, october, 1, genDay(r, october, 120, newExpect()), 50, false)
	cfg := goldenPartialConfig(t)
	a, err := Scan(context.Background(), monthFiles(t, dir), cfg, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := &Partial{Version: formatVersion, Config: cfg.Fingerprint(), Inputs: []Input{{Name: "n1-part-0000000000000001.ndjson.zst", Size: 1}},
		Computed: time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC), Agg: a}
	b, err := json.MarshalIndent(p, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// The partial format is frozen in a golden file: the same day gives the
// same bytes, and the golden file reads back and writes out unchanged.
func TestPartialGolden(t *testing.T) {
	got := goldenPartial(t)
	if *writePartialGolden {
		if err := os.WriteFile(partialGolden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(partialGolden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		os.WriteFile(filepath.Join(t.TempDir(), "got.json"), got, 0o644)
		t.Fatalf("the partial of the golden day is not %s (a format change needs a new version; -partial.write rewrites it)", partialGolden)
	}
	p, err := parsePartial(want)
	if err != nil {
		t.Fatal(err)
	}
	again, err := json.MarshalIndent(p, "", " ")
	if err != nil || !bytes.Equal(append(again, '\n'), want) {
		t.Fatalf("the golden partial does not write back unchanged: %v", err)
	}
	cfg := goldenPartialConfig(t)
	if p.Config != cfg.Fingerprint() || len(p.Agg.Breakdowns) != 2 || p.Agg.Breakdowns["small"].Exact {
		t.Fatalf("golden partial: config %s, breakdowns %v", p.Config, p.Agg.Breakdowns)
	}
	if ch := p.Agg.Choose(cfg); len(ch.Dimensions) == 0 || len(ch.Metrics) == 0 {
		t.Fatalf("golden partial: chose %+v", ch)
	}
}

// A partial that is valid JSON but not one ingestd wrote never panics the
// report: it is refused, or it merges, summarizes and writes back stably.
func FuzzPartial(f *testing.F) {
	f.Add(goldenPartial(f))
	if b, err := os.ReadFile(partialGolden); err == nil {
		f.Add(b)
	}
	cfg := goldenPartialConfig(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parsePartial(b)
		if err != nil {
			return
		}
		a := NewAgg(cfg)
		if err := a.Merge(p.Agg); err != nil {
			return
		}
		summarize("2026-10", a, cfg.chosen(a))
		out, err := json.Marshal(p)
		if err != nil {
			return
		}
		p2, err := parsePartial(out)
		if err != nil {
			t.Fatalf("a written partial does not read back: %v\n%s", err, out)
		}
		out2, err := json.Marshal(p2)
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("written twice, different: %v\n%s\n%s", err, out, out2)
		}
	})
}

// Metric.Add's direct path (the sketch's own mapping and store) builds the
// sketch DDSketch.Add builds, byte for byte, for positive, zero, negative,
// tiny and huge values, fresh and after a decode.
func TestMetricAddMatchesSketchAdd(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	vals := []float64{0, -0.0, 1e-300, 5e-324, -3.5, 1, 1e300, math.MaxFloat64}
	for i := 0; i < 20000; i++ {
		vals = append(vals, r.ExpFloat64()*100, -r.Float64(), float64(r.Intn(90000)))
	}
	fast, plain := newMetric(), newMetric()
	if fast.pos == nil {
		t.Fatal("newMetric's sketch has no direct path")
	}
	plain.pos = nil // sk.Add only
	for _, v := range vals {
		fast.Add(v)
		plain.Add(v)
	}
	var a, b []byte
	fast.sk.Encode(&a, false)
	plain.sk.Encode(&b, false)
	if !bytes.Equal(a, b) {
		t.Fatal("the direct path built another sketch")
	}
	back, err := decodeMetric(encodeMetric(fast))
	if err != nil || back.pos == nil {
		t.Fatalf("decoded metric: %v, direct path %v", err, back.pos != nil)
	}
	for _, v := range vals[:1000] {
		back.Add(v)
		plain.Add(v)
	}
	a, b = a[:0], b[:0]
	back.sk.Encode(&a, false)
	plain.sk.Encode(&b, false)
	if !bytes.Equal(a, b) {
		t.Fatal("after a decode, the direct path built another sketch")
	}
}
