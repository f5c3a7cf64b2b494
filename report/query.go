package report

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/axiomhq/hyperloglog"
)

// Question is an ad-hoc question over a time range: the records a filter
// matches, or statistics of them grouped by one or two fields.
type Question struct {
	From, To time.Time // records whose timestamp lies in [From, To)
	Where    string    // a filter (package filter); "" = every record
	By       []string  // group by these paths (0, 1 or 2); values by their JSON text, missing as null
	Stats    []Stat    // per group; empty with By: count
	Limit    int       // rows (or records) printed at most; 0 = all
}

// Stat is one statistic: count, or a function of a field.
type Stat struct {
	Fn   string // count, sum, min, max, mean, p50, p90, p99, distinct
	Path string // "" for count
}

// Name is the statistic as written: count, sum(bytes), …
func (s Stat) Name() string {
	if s.Fn == "count" {
		return "count"
	}
	return s.Fn + "(" + s.Path + ")"
}

var statRe = regexp.MustCompile(`^\s*(count|sum|min|max|mean|p50|p90|p99|distinct)\s*(?:\(\s*([^()\s]+)\s*\))?\s*$`)

// ParseStats reads a comma-separated list of statistics:
// count,sum(bytes),p99(duration_ms),distinct(user.id).
func ParseStats(s string) ([]Stat, error) {
	var out []Stat
	for _, part := range strings.Split(s, ",") {
		m := statRe.FindStringSubmatch(part)
		switch {
		case m == nil:
			return nil, fmt.Errorf("stats: %q: want count, or sum|min|max|mean|p50|p90|p99|distinct(field)", strings.TrimSpace(part))
		case m[1] == "count" && m[2] != "":
			return nil, fmt.Errorf("stats: count takes no field")
		case m[1] != "count" && m[2] == "":
			return nil, fmt.Errorf("stats: %s needs a field: %s(field)", m[1], m[1])
		}
		out = append(out, Stat{Fn: m[1], Path: m[2]})
	}
	return out, nil
}

// Table is a grouped answer: a header and rows of string (group values,
// nil for a missing field), int64 (counts, distinct) or float64 (the
// other statistics, nil without values) cells, largest count first.
type Table struct {
	Columns []string // the group fields, then the statistics
	By      int      // how many of Columns are group fields
	Rows    [][]any
	Groups  int // groups found, before the limit
}

// MaxGroups bounds the groups of one question.
const MaxGroups = 100000

// ErrTooManyGroups is returned when a question finds more than MaxGroups
// groups.
var ErrTooManyGroups = fmt.Errorf("report: more than %d groups: narrow --where or group by fewer or coarser fields", MaxGroups)

// group is one group's statistics.
type group struct {
	vals    []*string
	count   int64
	metrics []*Metric
	hlls    []*hyperloglog.Sketch
}

// Ask answers q over files with the report engine (cfg gives the
// timestamp rules and workers). Without By and Stats it hands each
// matching record to records (at most q.Limit when set) and returns nil.
func Ask(ctx context.Context, files []string, q Question, cfg Config, opt ScanOptions, records func([]byte) error) (*Table, error) {
	if len(q.By) > 2 {
		return nil, errors.New("report: group by at most two fields")
	}
	cfg.Where, cfg.From, cfg.To = q.Where, q.From, q.To
	cfg.Dimensions, cfg.Metrics, cfg.Distinct = nil, nil, nil
	cfg.Dimensions = append(cfg.Dimensions, q.By...)
	grouped := len(q.By) > 0 || len(q.Stats) > 0
	if grouped && len(q.Stats) == 0 {
		q.Stats = []Stat{{Fn: "count"}}
	}
	for _, s := range q.Stats {
		switch s.Fn {
		case "count":
		case "distinct":
			cfg.Distinct = append(cfg.Distinct, s.Path)
		default:
			cfg.Metrics = append(cfg.Metrics, s.Path)
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var sinkErr error
	var printed int
	if !grouped {
		opt.Sink = func(rec arrow.Record) error {
			raw := rec.Column(int(rec.NumCols()) - 1).(*array.String)
			mu.Lock()
			defer mu.Unlock()
			for i := 0; i < raw.Len(); i++ {
				if q.Limit > 0 && printed >= q.Limit {
					cancel() // enough: stop the scan
					return nil
				}
				if err := records([]byte(raw.Value(i))); err != nil {
					sinkErr = err
					cancel()
					return err
				}
				printed++
			}
			return nil
		}
		_, err := Scan(ctx, files, cfg, opt)
		if sinkErr != nil {
			return nil, sinkErr
		}
		if err != nil && !(q.Limit > 0 && printed >= q.Limit && errors.Is(err, context.Canceled)) {
			return nil, err
		}
		return nil, nil
	}
	cols := columnsOf(cfg.withDefaults())
	colIdx := map[string]int{} // path → column in the batch (after the timestamp)
	for i, c := range cols {
		colIdx[c.name] = i + 1
	}
	groups := map[string]*group{}
	opt.Sink = func(rec arrow.Record) error {
		local, err := groupBatch(rec, q, colIdx)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for k, g := range local {
			if o := groups[k]; o != nil {
				o.merge(g)
				continue
			}
			if len(groups) >= MaxGroups {
				return ErrTooManyGroups
			}
			groups[k] = g
		}
		return nil
	}
	if _, err := Scan(ctx, files, cfg, opt); err != nil {
		return nil, err
	}
	t := &Table{Groups: len(groups), By: len(q.By)}
	t.Columns = append(t.Columns, q.By...)
	for _, s := range q.Stats {
		t.Columns = append(t.Columns, s.Name())
	}
	list := make([]*group, 0, len(groups))
	for _, g := range groups {
		list = append(list, g)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].count != list[j].count {
			return list[i].count > list[j].count
		}
		return groupKey(list[i].vals) < groupKey(list[j].vals)
	})
	if q.Limit > 0 && len(list) > q.Limit {
		list = list[:q.Limit]
	}
	for _, g := range list {
		row := make([]any, 0, len(t.Columns))
		for _, v := range g.vals {
			if v == nil {
				row = append(row, nil)
			} else {
				row = append(row, *v)
			}
		}
		mi, hi := 0, 0
		for _, s := range q.Stats {
			switch s.Fn {
			case "count":
				row = append(row, g.count)
			case "distinct":
				row = append(row, int64(g.hlls[hi].Estimate()))
				hi++
			default:
				row = append(row, statValue(g.metrics[mi], s.Fn))
				mi++
			}
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

func statValue(m *Metric, fn string) any {
	if m.Count == 0 {
		return nil
	}
	switch fn {
	case "sum":
		return m.Sum
	case "min":
		return m.Min
	case "max":
		return m.Max
	case "mean":
		return m.Mean()
	case "p50":
		return m.Quantile(0.5)
	case "p90":
		return m.Quantile(0.9)
	}
	return m.Quantile(0.99)
}

func groupKey(vals []*string) string {
	var b strings.Builder
	for _, v := range vals {
		if v == nil {
			b.WriteString("\x00n")
		} else {
			b.WriteString("\x00s" + *v)
		}
	}
	return b.String()
}

func (g *group) merge(o *group) {
	g.count += o.count
	for i, m := range o.metrics {
		g.metrics[i].Merge(m)
	}
	for i, h := range o.hlls {
		g.hlls[i].Merge(h)
	}
}

// groupBatch groups one batch's rows: by the dictionary indices of the by
// columns first (no string per row), then by their values.
func groupBatch(rec arrow.Record, q Question, colIdx map[string]int) (map[string]*group, error) {
	var dicts []*array.Dictionary
	for _, p := range q.By {
		dicts = append(dicts, rec.Column(colIdx[p]).(*array.Dictionary))
	}
	n := int(rec.NumRows())
	type key [2]int32
	byIdx := map[key]*group{}
	out := map[string]*group{}
	for i := 0; i < n; i++ {
		k := key{-1, -1}
		for j, d := range dicts {
			if d.IsValid(i) {
				k[j] = int32(d.GetValueIndex(i))
			}
		}
		g := byIdx[k]
		if g == nil {
			g = &group{}
			for j, d := range dicts {
				if k[j] >= 0 {
					s := d.Dictionary().(*array.String).Value(int(k[j]))
					g.vals = append(g.vals, &s)
				} else {
					g.vals = append(g.vals, nil)
				}
			}
			for _, s := range q.Stats {
				switch s.Fn {
				case "count":
				case "distinct":
					g.hlls = append(g.hlls, newHLL())
				default:
					g.metrics = append(g.metrics, newMetric())
				}
			}
			byIdx[k] = g // a batch's dictionaries hold each value once: one index tuple per group
			out[groupKey(g.vals)] = g
			if len(out) > MaxGroups {
				return nil, ErrTooManyGroups
			}
		}
		g.count++
		mi, hi := 0, 0
		for _, s := range q.Stats {
			switch s.Fn {
			case "count":
			case "distinct":
				if v, ok := stringAt(rec.Column(colIdx[s.Path]), i); ok {
					g.hlls[hi].Insert(v)
				}
				hi++
			default:
				f := rec.Column(colIdx[s.Path]).(*array.Float64)
				if f.IsValid(i) {
					g.metrics[mi].Add(f.Value(i))
				}
				mi++
			}
		}
	}
	return out, nil
}

// stringAt is row i of a string or dictionary column.
func stringAt(a arrow.Array, i int) ([]byte, bool) {
	if !a.IsValid(i) {
		return nil, false
	}
	switch a := a.(type) {
	case *array.String:
		return []byte(a.Value(i)), true
	case *array.Dictionary:
		return []byte(a.Dictionary().(*array.String).Value(a.GetValueIndex(i))), true
	}
	return nil, false
}
