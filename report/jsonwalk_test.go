package report

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"
)

// refInventory walks a decoded record as the field inventory should: every
// path once per record, with the JSON types seen, into objects up to
// maxDepth levels.
func refInventory(v map[string]any, prefix string, depth, maxDepth int, seen map[string]uint8) {
	for k, x := range v {
		p := rawKey(k)
		if prefix != "" {
			p = prefix + "." + p
		}
		var t uint8
		switch x := x.(type) {
		case string:
			t = TypeString
		case float64:
			t = TypeNumber
		case bool:
			t = TypeBool
		case nil:
			t = TypeNull
		case []any:
			t = TypeArray
		case map[string]any:
			t = TypeObject
			if depth+1 < maxDepth {
				refInventory(x, p, depth+1, maxDepth, seen)
			}
		}
		seen[p] |= t
	}
}

// rawKey is a member name as the record has it: paths are made of the raw
// (still escaped) key bytes.
func rawKey(k string) string {
	b, _ := json.Marshal(k)
	return string(b[1 : len(b)-1])
}

// The field inventory equals a reference walk over records whose fields
// change order, nesting and type from record to record, with keys that
// contain dots (so "a.b" is both a top-level key and a nested path): the
// walker's guess of each field from the previous record's never counts a
// field under the wrong path. Keys that are prefixes of others, empty, or
// hold escapes (a quote, a backslash) test the guess's byte comparison.
func TestInventoryMatchesReferenceWalk(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	keys := []string{"a", "b", "a.b", "c", "user", "id", "x.y.z", "ts", "ab", "", `q"x`, `back\\`, "é", `q"xy`, "usex", "x.y.a", "timestamq"}
	var gen func(depth int) map[string]any
	gen = func(depth int) map[string]any {
		m := map[string]any{}
		for _, k := range keys[:2+r.Intn(len(keys)-2)] {
			if r.Intn(3) == 0 {
				continue
			}
			switch r.Intn(6) {
			case 0:
				m[k] = fmt.Sprint("v", r.Intn(5))
			case 1:
				m[k] = r.Intn(100)
			case 2:
				m[k] = r.Intn(2) == 0
			case 3:
				m[k] = nil
			case 4:
				m[k] = []any{1, "x"}
			default:
				if depth < 5 {
					m[k] = gen(depth + 1)
				}
			}
		}
		return m
	}
	var lines [][]byte
	want := map[string]*FieldStat{}
	shapes := [][]byte{}
	for i := 0; i < 4000; i++ {
		var line []byte
		if len(shapes) > 0 && r.Intn(4) > 0 { // repeat a shape, so that guesses mostly hit
			line = shapes[r.Intn(len(shapes))]
		} else {
			m := gen(0)
			m["timestamp"] = october.Add(time.Duration(i) * time.Second).Format(time.RFC3339)
			// Go's encoder sorts keys: shuffle them for order changes.
			var parts []string
			for k, v := range m {
				b, _ := json.Marshal(v)
				kb, _ := json.Marshal(k)
				parts = append(parts, string(kb)+":"+string(b))
			}
			r.Shuffle(len(parts), func(a, b int) { parts[a], parts[b] = parts[b], parts[a] })
			line = []byte("{" + strings.Join(parts, ",") + "}")
			if len(shapes) < 30 {
				shapes = append(shapes, line)
			}
		}
		lines = append(lines, line)
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatal(err)
		}
		seen := map[string]uint8{}
		refInventory(m, "", 0, 4, seen)
		for p, ty := range seen {
			if want[p] == nil {
				want[p] = &FieldStat{}
			}
			want[p].Records++
			want[p].Types |= ty
		}
	}
	dir := t.TempDir()
	writePart(t, dir, october, 1, lines, 500, false)
	cfg := testConfig()
	cfg.Workers, cfg.MaxFields = 1, 100000 // every path, none past the cap
	a, err := Scan(context.Background(), monthFiles(t, dir), cfg, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Fields) != len(want) {
		t.Errorf("%d paths, want %d", len(a.Fields), len(want))
	}
	for p, f := range want {
		g := a.Fields[p]
		if g == nil || g.Records != f.Records || g.Types != f.Types {
			t.Errorf("%s: %+v, want %+v", p, g, f)
		}
	}
}

// The walker looks for white space only where the expected byte is not
// found; a record with white space around every token (as a file not
// written by intake may have) counts exactly as its compact form does.
func TestWalkerWhiteSpace(t *testing.T) {
	compact := `{"timestamp":"2026-10-01T00:00:00Z","level":"info","user":{"id":"a"},"duration_ms":1.5,"tags":[1,2]}`
	spaced := " \t{ \"timestamp\" :\r\"2026-10-01T00:00:00Z\" ,\n\"level\"  :  \"info\", \"user\" : { \"id\" : \"a\" } , \"duration_ms\" : 1.5 , \"tags\" : [ 1 , 2 ] } "
	cfg := testConfig().withDefaults()
	var aggs []*Agg
	for _, line := range []string{compact, compact, spaced, spaced} { // the second of each walks predicted keys
		w := newWorker(&cfg, false)
		w.record([]byte(line), 0)
		w.record([]byte(line), 0)
		if err := w.flush(nil); err != nil {
			t.Fatal(err)
		}
		if w.agg.Records != 2 || w.agg.Quality.BadLines != 0 {
			t.Fatalf("%q: %d records, %d bad lines", line, w.agg.Records, w.agg.Quality.BadLines)
		}
		aggs = append(aggs, w.agg)
	}
	want, _ := json.Marshal(aggs[0])
	got, _ := json.Marshal(aggs[2])
	if string(got) != string(want) {
		t.Fatalf("spaced record:\n%s\nwant (compact):\n%s", got, want)
	}
	for _, bad := range []string{`{"a" "b"}`, `{"a":1 "b":2}`, `{"a":1,}`, `{"a":1 ,, "b":2}`, `{ "a" : 1 `} {
		w := newWorker(&cfg, false)
		w.record([]byte(bad), 0)
		if w.agg.Quality.BadLines != 1 {
			t.Errorf("%q not counted as a bad line", bad)
		}
	}
}
