package report

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ingestd/ingestd/segment"
)

// autoDataset generates days of one shape of records.
type autoDataset struct {
	name string
	gen  func(r *rand.Rand, ts time.Time, i int) string
	want Choice
}

var words = strings.Fields("the quick brown fox jumps over a lazy dog while seven tired wizards brew strange potions under pale moons")

func sentence(r *rand.Rand, n int) string {
	var b []string
	for range n {
		b = append(b, words[r.Intn(len(words))])
	}
	return strings.Join(b, " ")
}

var autoDatasets = []autoDataset{
	{
		name: "logs",
		gen: func(r *rand.Rand, ts time.Time, i int) string {
			return fmt.Sprintf(`{"timestamp":%q,"level":%q,"service":"svc-%d","host":"web-%02d","status":%d,"duration_ms":%.3f,"bytes":%d,"user":{"id":"u%06d"},"request_id":"%016x","msg":%q}`,
				ts.Format(time.RFC3339Nano), testLevels[r.Intn(len(testLevels))], r.Intn(8), r.Intn(20), []int{200, 200, 200, 404, 500, 503}[r.Intn(6)],
				r.ExpFloat64()*80, r.Intn(1<<20), r.Intn(900000), r.Uint64(), sentence(r, 14))
		},
		want: Choice{Dimensions: []string{"host", "level", "service", "status"}, Metrics: []string{"bytes", "duration_ms"}, Distinct: []string{"request_id", "user.id"}},
	},
	{
		name: "nested events",
		gen: func(r *rand.Rand, ts time.Time, i int) string {
			return fmt.Sprintf(`{"time":%q,"event":{"type":"%s","source":{"app":"app-%d","version":"1.2.%d"}},"actor":{"id":"a-%d","country":"C%02d"},"props":{"amount":%.2f,"items":%d},"tags":["x","y"],"ok":%v}`,
				ts.Format(time.RFC3339Nano), []string{"click", "view", "buy", "login", "logout", "search"}[r.Intn(6)], r.Intn(3), r.Intn(4),
				r.Intn(5000), r.Intn(30), r.Float64()*500, 1+r.Intn(40), r.Intn(4) > 0)
		},
		want: Choice{Dimensions: []string{"actor.country", "event.source.app", "event.source.version", "event.type", "ok"}, Metrics: []string{"props.amount", "props.items"}, Distinct: []string{"actor.id"}},
	},
	{
		name: "metrics",
		gen: func(r *rand.Rand, ts time.Time, i int) string {
			return fmt.Sprintf(`{"ts":%d,"metric":"m_%d","host":"h%d","value":%g,"labels":{"region":"r%d","az":"z%d"},"count":%d}`,
				ts.Unix(), r.Intn(10), r.Intn(8), r.NormFloat64()*100, r.Intn(3), r.Intn(6), r.Intn(1000000))
		},
		want: Choice{Dimensions: []string{"host", "labels.az", "labels.region", "metric"}, Metrics: []string{"count", "value"}, Distinct: []string{}},
	},
	{
		// Numeric identifiers are counted, not averaged; a number with an
		// identifier-like name but fractions (a score) stays a metric.
		name: "numeric ids",
		gen: func(r *rand.Rand, ts time.Time, i int) string {
			return fmt.Sprintf(`{"ts":%q,"id":%d,"user_id":%d,"order":{"accountId":%d,"total":%.2f},"client":%.3f,"kind":"k%d"}`,
				ts.Format(time.RFC3339Nano), 1e9+i+r.Intn(1e6)*1000, r.Intn(5000), r.Intn(300), r.Float64()*90, r.Float64(), r.Intn(4))
		},
		want: Choice{Dimensions: []string{"kind"}, Metrics: []string{"client", "order.total"}, Distinct: []string{"id", "order.accountId", "user_id"}},
	},
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

// A zero-config report picks sensible fields from three differently shaped
// datasets, never the timestamp; a month merged from per-day aggregates
// (through their JSON form) chooses exactly what one scan of it chooses;
// and the chosen fields are reported with their values.
func TestAutoChoosesFields(t *testing.T) {
	for _, ds := range autoDatasets {
		t.Run(ds.name, func(t *testing.T) {
			dir := t.TempDir()
			r := rand.New(rand.NewSource(7))
			for d := 0; d < 3; d++ {
				day := october.AddDate(0, 0, d)
				var lines [][]byte
				for i := 0; i < 3000; i++ {
					lines = append(lines, []byte(ds.gen(r, day.Add(time.Duration(r.Int63n(int64(24*time.Hour)))), i)))
				}
				writePart(t, dir, day, uint64(d*100+1), lines, 700, false)
			}
			cfg := testConfig()
			cfg.Dimensions, cfg.Metrics, cfg.Distinct, cfg.Auto = nil, nil, nil, true
			cfg.TimestampFields = []string{"timestamp", "ts", "time"}
			a, err := Scan(context.Background(), monthFiles(t, dir), cfg, ScanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got := a.Choose(cfg)
			if !reflect.DeepEqual(sorted(got.Dimensions), ds.want.Dimensions) || !reflect.DeepEqual(sorted(got.Metrics), ds.want.Metrics) ||
				!reflect.DeepEqual(sorted(got.Distinct), ds.want.Distinct) {
				t.Fatalf("chose %+v, want %+v", got, ds.want)
			}

			days, _ := segment.ListDays(dir)
			merged := NewAgg(cfg)
			for _, d := range days {
				f, _ := segment.DayInputs(d.Dir)
				da, err := Scan(context.Background(), f, cfg, ScanOptions{})
				if err != nil {
					t.Fatal(err)
				}
				b, _ := json.Marshal(da)
				var back Agg
				if err := json.Unmarshal(b, &back); err != nil {
					t.Fatal(err)
				}
				if err := merged.Merge(&back); err != nil {
					t.Fatal(err)
				}
			}
			if m := merged.Choose(cfg); !reflect.DeepEqual(m, got) {
				t.Fatalf("merged partials chose %+v, one scan %+v", m, got)
			}

			s := summarize("2026-10", a, cfg.chosen(a))
			if s.Auto == nil || !reflect.DeepEqual(*s.Auto, got) {
				t.Fatalf("summary auto %+v", s.Auto)
			}
			for _, dim := range got.Dimensions {
				var n int64
				for _, v := range s.Top[dim] {
					n += v.Count
				}
				if !s.TopExact[dim] || len(s.Top[dim]) == 0 || n > s.Records {
					t.Errorf("%s: top values %v (exact %v)", dim, s.Top[dim], s.TopExact[dim])
				}
			}
			if ds.name == "logs" { // request_id is unique: hashed past the dictionary cap, still counted
				if d, n := float64(s.Distinct["request_id"]), float64(s.Records); d < n*(1-3*DistinctError) || d > n*(1+3*DistinctError) {
					t.Errorf("distinct request_id ≈ %g, want %g", d, n)
				}
			}
			for _, m := range got.Metrics {
				if s.Metrics[m].Count != s.Records {
					t.Errorf("%s: %d values in %d records", m, s.Metrics[m].Count, s.Records)
				}
			}
		})
	}
}
