package report

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/ingestd/ingestd/report/filter"
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

// Table is a grouped answer: a header and rows of string (group values,
// nil for a missing field), int64 (counts, distinct) or float64 (the
// other statistics, nil without values) cells, largest count first.
type Table struct {
	Columns []string // the group fields, then the statistics
	By      int      // how many of Columns are group fields
	Rows    [][]any
	Groups  int // groups found, before the limit
}

// queryBreakdown names the one breakdown a grouped question computes.
const queryBreakdown = "query"

// MaxGroups bounds the groups of one question.
const MaxGroups = 100000

// ErrTooManyGroups is returned when a question finds more than MaxGroups
// groups.
var ErrTooManyGroups = fmt.Errorf("report: more than %d groups: narrow --where or group by fewer or coarser fields", MaxGroups)

// Ask answers q over files with the report engine (cfg gives the
// timestamp rules and workers). Without By and Stats it hands each
// matching record to records (at most q.Limit when set) and returns nil.
func Ask(ctx context.Context, files []string, q Question, cfg Config, opt ScanOptions, records func([]byte) error) (*Table, error) {
	if len(q.By) > 2 {
		return nil, errors.New("report: group by at most two fields")
	}
	cfg.Where, cfg.From, cfg.To = q.Where, q.From, q.To
	cfg.Dimensions, cfg.Metrics, cfg.Distinct, cfg.Breakdowns, cfg.Auto = nil, nil, nil, nil, false // the question's columns only
	grouped := len(q.By) > 0 || len(q.Stats) > 0
	if grouped {
		if len(q.Stats) == 0 {
			q.Stats = []Stat{{Fn: "count"}}
		}
		cfg.Breakdowns = []Breakdown{{Name: queryBreakdown, By: q.By, Stats: q.Stats, Capacity: MaxGroups}}
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
	res, err := Scan(ctx, files, cfg, opt)
	if err != nil {
		return nil, err
	}
	gt := res.Breakdowns[queryBreakdown]
	if !gt.Exact {
		return nil, ErrTooManyGroups
	}
	bt := gt.Table(cfg.Breakdowns[0])
	t := &Table{Columns: bt.Columns, By: len(q.By), Rows: bt.Rows, Groups: bt.Groups}
	if q.Limit > 0 && len(t.Rows) > q.Limit {
		t.Rows = t.Rows[:q.Limit]
	}
	return t, nil
}

// FromPartials answers a grouped question from the days' stored partials
// when they hold the answer: the range is whole UTC days; the report config
// has no where filter of its own; every file of every day in the range is
// covered by a fresh partial computed with cfg; and the question is one of
// cfg's breakdowns without time grouping (the same fields and filter, its
// statistics among the breakdown's) or a count by one configured dimension
// without a filter. The partials must hold every group exactly. ok is false
// when they do not answer it: scan then. A partial counts every record of
// its day's files, a scan those whose timestamp lies in the range; intake
// stores each record in its timestamp's day, so the two agree on its files.
func FromPartials(ctx context.Context, src Source, q Question, cfg Config) (t *Table, days int, ok bool, err error) {
	day := 24 * time.Hour
	if len(q.By) == 0 || !q.From.Equal(q.From.Truncate(day)) || !q.To.Equal(q.To.Truncate(day)) || cfg.Where != "" || cfg.ranged() {
		return nil, 0, false, nil
	}
	stats := q.Stats
	if len(stats) == 0 {
		stats = []Stat{{Fn: "count"}}
	}
	cfg = cfg.withDefaults()
	bd, dim := matchBreakdown(cfg, q.By, q.Where, stats), ""
	if bd == nil {
		if len(q.By) != 1 || q.Where != "" || len(stats) != 1 || stats[0].Fn != "count" || !slices.Contains(cfg.Dimensions, q.By[0]) {
			return nil, 0, false, nil
		}
		dim = q.By[0]
	}
	list, err := src.Days(ctx, q.From, q.To)
	if err != nil {
		return nil, 0, false, err
	}
	fp := cfg.Fingerprint()
	total := NewAgg(cfg)
	for _, d := range list {
		in, err := src.Inputs(ctx, d)
		if err != nil {
			return nil, 0, false, err
		}
		raw, err := src.Partials(ctx, d)
		if err != nil {
			return nil, 0, false, err
		}
		ps, rest := cover(raw, fp, in, func(string, error) {})
		if len(rest) > 0 {
			return nil, 0, false, nil
		}
		for _, p := range ps {
			if err := total.Merge(p.Agg); err != nil {
				return nil, 0, false, err
			}
		}
	}
	if dim != "" {
		top := total.Top[dim]
		if top == nil || !top.Exact {
			return nil, 0, false, nil
		}
		return dimensionTable(dim, top, total.Records, q.Limit), len(list), true, nil
	}
	gt := total.Breakdowns[bd.Name]
	if gt == nil || !gt.Exact {
		return nil, 0, false, nil
	}
	return breakdownAnswer(gt.Table(*bd), len(q.By), stats, q.Limit), len(list), true, nil
}

// matchBreakdown finds a breakdown of cfg that answers by, where and stats.
func matchBreakdown(cfg Config, by []string, where string, stats []Stat) *Breakdown {
	canon := func(s string) string {
		if s == "" {
			return ""
		}
		e, err := filter.Parse(s)
		if err != nil {
			return "\x00invalid"
		}
		return e.String()
	}
	for i := range cfg.Breakdowns {
		b := cfg.Breakdowns[i].withDefaults()
		if b.Time != "" || !slices.Equal(b.By, by) || canon(b.Where) != canon(where) {
			continue
		}
		names := map[string]bool{}
		for _, s := range b.Stats {
			names[s.Name()] = true
		}
		all := true
		for _, s := range stats {
			all = all && names[s.Name()]
		}
		if all {
			return &b
		}
	}
	return nil
}

// breakdownAnswer picks the question's statistics out of a breakdown's
// table, in the question's order.
func breakdownAnswer(bt *BreakdownTable, nBy int, stats []Stat, limit int) *Table {
	idx := make([]int, len(stats))
	for i, s := range stats {
		idx[i] = slices.Index(bt.Columns, s.Name())
	}
	t := &Table{Columns: append([]string{}, bt.Columns[:nBy]...), By: nBy, Groups: bt.Groups}
	for _, s := range stats {
		t.Columns = append(t.Columns, s.Name())
	}
	for _, r := range bt.Rows {
		row := append([]any{}, r[:nBy]...)
		for _, k := range idx {
			row = append(row, r[k])
		}
		t.Rows = append(t.Rows, row)
	}
	if limit > 0 && len(t.Rows) > limit {
		t.Rows = t.Rows[:limit]
	}
	return t
}

// dimensionTable is a count by one dimension from its exact top values;
// the records without a value form the null group, as a scan groups them.
func dimensionTable(dim string, top *TopK, records int64, limit int) *Table {
	t := &Table{Columns: []string{dim, "count"}, By: 1}
	var counted int64
	for _, v := range top.Top(-1) {
		t.Rows = append(t.Rows, []any{v.Value, v.Count})
		counted += v.Count
	}
	if n := records - counted; n > 0 {
		t.Rows = append(t.Rows, []any{nil, n})
		sort.SliceStable(t.Rows, func(i, j int) bool {
			a, b := t.Rows[i][1].(int64), t.Rows[j][1].(int64)
			if a != b {
				return a > b
			}
			return groupKey([]*string{strPtr(t.Rows[i][0])}, noBucket) < groupKey([]*string{strPtr(t.Rows[j][0])}, noBucket)
		})
	}
	t.Groups = len(t.Rows)
	if limit > 0 && len(t.Rows) > limit {
		t.Rows = t.Rows[:limit]
	}
	return t
}

func strPtr(v any) *string {
	if s, ok := v.(string); ok {
		return &s
	}
	return nil
}
