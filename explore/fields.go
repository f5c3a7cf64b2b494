package explore

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/ingestd/ingestd/internal/jsonx"
	"github.com/ingestd/ingestd/report"
	"github.com/ingestd/ingestd/report/filter"
)

// Field is one path of the fields answer.
type Field struct {
	Path     string              `json:"path"`
	Types    []string            `json:"types"`
	Records  int64               `json:"records"` // matching records that have it
	Share    float64             `json:"share"`   // of the matching records
	Distinct *uint64             `json:"distinct,omitempty"`
	Top      []TopValue          `json:"top,omitempty"`
	TopExact *bool               `json:"top_exact,omitempty"`
	Metric   *map[string]float64 `json:"metric,omitempty"`
}

// TopValue is one of a field's most frequent values: as the report counts
// it (a string without its quotes), its records, and a filter that selects
// it (what the explorer adds when the value is clicked).
type TopValue struct {
	Value   string `json:"value"`
	Records int64  `json:"records"`
	Err     int64  `json:"error,omitempty"` // the true count lies in [records-error, records]
	Where   string `json:"where"`
}

// fieldsAnswer is the body of GET /api/v1/fields.
type fieldsAnswer struct {
	Records int64   `json:"records"`
	Fields  []Field `json:"fields"`
}

// fields is GET /api/v1/fields: every field path of the matching records
// with its JSON types and the share of records that have it, and, for the
// paths the report engine summarises (every leaf path under zero-config,
// up to report.MaxAutoPaths; the configured fields otherwise), an
// approximate distinct count and the top values. Unfiltered over whole
// days it comes from the daily partials; with where, from a scan, the
// inventory counted over the matching records only.
func (e *Engine) fields(arg func(string) string) (*Answer, error) {
	from, to, w, perr := spanWhere(arg)
	if perr != nil {
		return nil, perr
	}
	top, perr := count(arg, "top", 10)
	if perr != nil {
		return nil, perr
	}
	top = min(max(top, 1), 100)
	var out fieldsAnswer
	a := &Answer{ContentType: "application/json", Header: map[string]string{}}
	a.Run = func(ctx context.Context) error {
		cfg := e.Config
		cfg.Where = w
		var inv *inventory
		if w != "" {
			inv = newInventory(cfg.MaxDepth, cfg.MaxFields)
		}
		var agg *report.Agg
		if inv == nil {
			ra, err := report.RangeAgg(ctx, e.Source, from, to, cfg, report.RangeOptions{Cache: &e.partials})
			if err != nil {
				return err
			}
			agg = ra.Agg
			a.Header["X-Ingestd-Answered-From"] = fmt.Sprintf("partials of %d days, scan of %d", ra.DaysFromPartials, ra.DaysScanned)
		} else {
			files, err := allFiles(ctx, e.Source, from, to)
			if err != nil {
				return err
			}
			cfg.From, cfg.To = from, to
			if agg, err = report.Scan(ctx, files, cfg, report.ScanOptions{Sink: inv.sink, Open: e.Source.Open, Prefetch: e.Source.Prefetch()}); err != nil {
				return err
			}
			a.Header["X-Ingestd-Answered-From"] = fmt.Sprintf("scan of %d files", len(files))
		}
		out = describe(agg, inv, top)
		return nil
	}
	a.Write = func(_ context.Context, bw *bufio.Writer) error {
		return json.NewEncoder(bw).Encode(out)
	}
	return a, nil
}

// describe turns an aggregate into the fields answer: the inventory from
// inv when given (the matching records), else from the aggregate.
func describe(agg *report.Agg, inv *inventory, top int) fieldsAnswer {
	stats := agg.Fields
	if inv != nil {
		stats = inv.stats
	}
	ans := fieldsAnswer{Records: agg.Records, Fields: []Field{}}
	for path, st := range stats {
		f := Field{Path: path, Records: st.Records, Types: []string{}}
		if agg.Records > 0 {
			f.Share = float64(st.Records) / float64(agg.Records)
		}
		for i, name := range report.TypeNames {
			if st.Types&(1<<i) != 0 {
				f.Types = append(f.Types, name)
			}
		}
		if d, ok := agg.DistinctOf(path); ok {
			f.Distinct = &d
		}
		if t := agg.Top[path]; t != nil && t.Len() > 0 {
			for _, tv := range t.Top(top) {
				f.Top = append(f.Top, TopValue{Value: tv.Value, Records: tv.Count, Err: tv.Err, Where: filter.ForValue(path, tv.Value, f.Types)})
			}
			exact := t.Exact
			f.TopExact = &exact
		}
		if m := agg.Metrics[path]; m != nil && m.Count > 0 {
			mm := map[string]float64{"count": float64(m.Count), "min": m.Min, "max": m.Max, "mean": m.Sum / float64(m.Count)}
			f.Metric = &mm
		}
		ans.Fields = append(ans.Fields, f)
	}
	sort.Slice(ans.Fields, func(i, j int) bool {
		a, b := ans.Fields[i], ans.Fields[j]
		if a.Records != b.Records {
			return a.Records > b.Records
		}
		return a.Path < b.Path
	})
	return ans
}

// inventory counts the field paths of records handed to its sink, as the
// report's field inventory names them: member names as written, joined by
// dots, objects entered up to maxDepth levels, arrays not entered.
type inventory struct {
	mu       sync.Mutex
	maxDepth int
	maxPaths int
	stats    map[string]*report.FieldStat
	seen     map[string]int64 // the record that last counted a path
	serial   int64
	path     []byte
}

func newInventory(maxDepth, maxPaths int) *inventory {
	if maxDepth <= 0 {
		maxDepth = 4
	}
	if maxPaths <= 0 {
		maxPaths = 1000
	}
	return &inventory{maxDepth: maxDepth, maxPaths: maxPaths, stats: map[string]*report.FieldStat{}, seen: map[string]int64{}}
}

func (v *inventory) sink(rec arrow.Record) error {
	raw := rec.Column(int(rec.NumCols()) - 1).(*array.String)
	v.mu.Lock()
	defer v.mu.Unlock()
	for i := 0; i < raw.Len(); i++ {
		v.serial++
		b := []byte(raw.Value(i))
		if len(b) > 0 && b[0] == '{' {
			v.object(b, 0, 0, 0)
		}
	}
	return nil
}

// object walks the object at b[i] whose path is v.path[:plen]; it returns
// the index after it, or -1 for malformed input (stored records are valid).
func (v *inventory) object(b []byte, i, depth, plen int) int {
	i = jsonx.SkipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	for i < len(b) {
		i = jsonx.SkipWS(b, i)
		ke := jsonx.StringEnd(b, i)
		if ke < 0 {
			return -1
		}
		key := b[i+1 : ke-1]
		i = jsonx.SkipWS(b, ke)
		if i >= len(b) || b[i] != ':' {
			return -1
		}
		i = jsonx.SkipWS(b, i+1)
		if i >= len(b) {
			return -1
		}
		v.path = v.path[:plen]
		if plen > 0 {
			v.path = append(v.path, '.')
		}
		v.path = append(v.path, key...)
		v.count(report.TypeOf(b[i]))
		var end int
		if b[i] == '{' && depth+1 < v.maxDepth {
			end = v.object(b, i, depth+1, len(v.path))
		} else {
			end = jsonx.ValueEnd(b, i)
		}
		if end < 0 {
			return -1
		}
		i = jsonx.SkipWS(b, end)
		if i < len(b) && b[i] == ',' {
			i++
			continue
		}
		if i < len(b) && b[i] == '}' {
			return i + 1
		}
		return -1
	}
	return -1
}

// count notes the current path once per record with type t.
func (v *inventory) count(t uint8) {
	st := v.stats[string(v.path)]
	if st == nil {
		if len(v.stats) >= v.maxPaths {
			return
		}
		st = &report.FieldStat{}
		v.stats[string(v.path)] = st
	}
	if v.seen[string(v.path)] != v.serial {
		v.seen[string(v.path)] = v.serial
		st.Records++
	}
	st.Types |= t
}
