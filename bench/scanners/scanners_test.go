// Package scanners measures ingestd's strict record scanner against JSON
// libraries on the same records: throughput on compact NDJSON
// of the unique and logs shapes, and which malformed or non-I-JSON records
// each accepts. It is its own module, so that the libraries it compares
// never become dependencies of the daemon.
//
//	cd bench/scanners && go test -run Strictness -v . && go test -bench . -count 5 .
package scanners

import (
	"bytes"
	"fmt"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bytedance/sonic"
	"github.com/minio/simdjson-go"
	"github.com/tidwall/gjson"

	"github.com/ingestd/ingestd/bench"
	"github.com/ingestd/ingestd/record"
)

var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func body(tb testing.TB, shape string) []byte {
	g, err := bench.NewGenerator(bench.Workload{Seed: 1, Shape: shape, Batch: 1000, Form: "ndjson", Compression: "none", Days: 1}, now)
	if err != nil {
		tb.Fatal(err)
	}
	return g.Request(0).Body
}

// Each scanner takes one NDJSON body, validates every line and finds its
// timestamp; it returns the records accepted.
var scanners = []struct {
	name string
	scan func(b []byte) (int, bool)
}{
	{"ingestd record.Parser (validate, I-JSON, compact, timestamp rule)", func() func([]byte) (int, bool) {
		p := record.NewParser(record.DefaultRules())
		var batch record.Batch
		return func(b []byte) (int, bool) {
			batch.Reset()
			if re := p.Parse(b, now, false, &batch); re != nil {
				return 0, false
			}
			return len(batch.Recs), true
		}
	}()},
	{"gjson ValidBytes + utf8.Valid + GetBytes(timestamp)", func(b []byte) (int, bool) {
		return eachLine(b, func(line []byte) bool {
			return gjson.ValidBytes(line) && utf8.Valid(line) && gjson.GetBytes(line, "timestamp").Exists()
		})
	}},
	{"sonic Valid + Get(timestamp)", func(b []byte) (int, bool) {
		return eachLine(b, func(line []byte) bool {
			_, err := sonic.Get(line, "timestamp")
			return sonic.Valid(line) && err == nil
		})
	}},
	{"simdjson-go ParseND (whole body)", func() func([]byte) (int, bool) {
		var pj *simdjson.ParsedJson
		return func(b []byte) (int, bool) {
			var err error
			if pj, err = simdjson.ParseND(b, pj); err != nil {
				return 0, false
			}
			n := 0
			it := pj.Iter()
			for it.Advance() == simdjson.TypeRoot {
				n++
			}
			return n, true
		}
	}()},
}

// eachLine runs ok on every line of an NDJSON body, stopping at the first
// refusal; it returns the lines accepted and whether all were.
func eachLine(b []byte, ok func([]byte) bool) (int, bool) {
	n := 0
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if !ok(line) {
			return n, false
		}
		n++
	}
	return n, true
}

func BenchmarkScanners(b *testing.B) {
	for _, shape := range []string{bench.ShapeUnique, bench.ShapeLogs} {
		in := body(b, shape)
		for _, s := range scanners {
			if s.name[:8] == "simdjson" && !simdjson.SupportedCPU() {
				continue
			}
			b.Run(fmt.Sprintf("%s/%s", shape, s.name[:min(len(s.name), 20)]), func(b *testing.B) {
				b.SetBytes(int64(len(in)))
				for i := 0; i < b.N; i++ {
					if n, ok := s.scan(in); !ok || n != 1000 {
						b.Fatalf("%d records, ok %v", n, ok)
					}
				}
				b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "records/s")
			})
		}
	}
}

// TestStrictness lists which records each scanner accepts that ingestd's
// contract refuses (the record contract: strict grammar, UTF-8, I-JSON). It asserts
// only ingestd's own column: the others are what the measurement found.
func TestStrictness(t *testing.T) {
	cases := []struct{ name, rec string }{
		{"control character in a string", "{\"timestamp\":\"2026-11-26T10:00:00Z\",\"a\":\"x\ty\"}"},
		{"invalid UTF-8", "{\"timestamp\":\"2026-11-26T10:00:00Z\",\"a\":\"\xff\"}"},
		{"lone surrogate escape", `{"timestamp":"2026-11-26T10:00:00Z","a":"\ud800"}`},
		{"duplicate member name", `{"timestamp":"2026-11-26T10:00:00Z","a":1,"a":2}`},
		{"trailing comma", `{"timestamp":"2026-11-26T10:00:00Z","a":1,}`},
		{"leading zero", `{"timestamp":"2026-11-26T10:00:00Z","a":01}`},
		{"nesting 100 deep", `{"timestamp":"2026-11-26T10:00:00Z","a":` + string(bytes.Repeat([]byte("["), 100)) + string(bytes.Repeat([]byte("]"), 100)) + `}`},
	}
	for _, c := range cases {
		row := c.name + ":"
		for _, s := range scanners {
			if s.name[:8] == "simdjson" && !simdjson.SupportedCPU() {
				continue
			}
			_, ok := s.scan([]byte(c.rec + "\n"))
			verdict := "refuses"
			if ok {
				verdict = "ACCEPTS"
			}
			row += fmt.Sprintf("  %s %s;", s.name[:min(len(s.name), 12)], verdict)
			if s.name[:7] == "ingestd" && ok {
				t.Errorf("ingestd accepts %s", c.name)
			}
		}
		t.Log(row)
	}
}
