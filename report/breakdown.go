package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/axiomhq/hyperloglog"

	"github.com/ingestd/ingestd/report/filter"
)

// Breakdown is one named table of a report: the records its filter matches,
// grouped by one or two fields and optionally by the UTC day or hour, with
// statistics per group.
type Breakdown struct {
	Name     string   // names its files: breakdown-<name>.csv and .parquet
	By       []string // group by these paths (0, 1 or 2); values by their JSON text, missing as null
	Time     string   // "", "day" or "hour": group by the record's UTC day or hour too
	Where    string   // a filter (package filter); "" = every record of the report
	Stats    []Stat   // per group; empty: count and share
	Capacity int      // groups counted exactly; beyond, the smallest are dropped (Space-Saving); default DefaultGroupCapacity
	Limit    int      // groups shown on the HTML page (all are in the files); default 20
}

// DefaultGroupCapacity is a breakdown's default capacity.
const DefaultGroupCapacity = 1000

// topPerGroup bounds the values a top(field) statistic counts per group
// (exactly up to it, Space-Saving beyond), and topShown how many it lists.
const (
	topPerGroup = 100
	topShown    = 3
)

var breakdownName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)

// withDefaults fills the capacity, the limit and the statistics.
func (b Breakdown) withDefaults() Breakdown {
	if b.Capacity <= 0 {
		b.Capacity = DefaultGroupCapacity
	}
	if b.Limit <= 0 {
		b.Limit = 20
	}
	if len(b.Stats) == 0 {
		b.Stats = []Stat{{Fn: "count"}, {Fn: "share"}}
	}
	return b
}

// validate reports a breakdown that cannot work.
func (b Breakdown) validate() error {
	if !breakdownName.MatchString(b.Name) {
		return fmt.Errorf("name %q: want letters, digits, - and _ (it names the breakdown's files)", b.Name)
	}
	if len(b.By) > 2 {
		return errors.New("by: at most two fields")
	}
	for _, p := range b.By {
		if !validPath(p) {
			return fmt.Errorf("by: bad field path %q", p)
		}
	}
	if b.Time != "" && b.Time != "day" && b.Time != "hour" {
		return fmt.Errorf("time: %q (want day, hour or nothing)", b.Time)
	}
	if b.Where != "" {
		if _, err := filter.Parse(b.Where); err != nil {
			return fmt.Errorf("where: %w", err)
		}
	}
	for _, s := range b.Stats {
		if err := s.validate(); err != nil {
			return err
		}
	}
	return nil
}

func validPath(n string) bool {
	return n != "" && !strings.HasPrefix(n, ".") && !strings.HasSuffix(n, ".") && !strings.Contains(n, "..") &&
		!strings.ContainsAny(n, " \t\n(),\"")
}

// canonical is the breakdown as its fingerprint sees it.
func (b Breakdown) canonical() string {
	b = b.withDefaults()
	where := ""
	if b.Where != "" {
		e, _ := filter.Parse(b.Where)
		where = e.String()
	}
	var stats []string
	for _, s := range b.Stats {
		stats = append(stats, s.Name())
	}
	return fmt.Sprintf("%s|%q|%s|%q|%q|%d", b.Name, b.By, b.Time, where, stats, b.Capacity)
}

// Stat is one statistic: count, share, or a function of a field.
type Stat struct {
	Fn   string // count, share, sum, min, max, mean, p50, p90, p99, distinct, top, rate
	Path string // the field; for rate, a filter; "" for count and share
}

// Name is the statistic as written: count, sum(bytes), rate(status >= 500), …
func (s Stat) Name() string {
	if s.Path == "" {
		return s.Fn
	}
	return s.Fn + "(" + s.Path + ")"
}

func (s Stat) metric() bool {
	switch s.Fn {
	case "sum", "min", "max", "mean", "p50", "p90", "p99":
		return true
	}
	return false
}

func (s Stat) validate() error {
	switch {
	case s.Fn == "count" || s.Fn == "share":
		if s.Path != "" {
			return fmt.Errorf("stats: %s takes no field", s.Fn)
		}
	case s.Fn == "rate":
		if _, err := filter.Parse(s.Path); err != nil {
			return fmt.Errorf("stats: rate(%s): %w", s.Path, err)
		}
	case s.metric() || s.Fn == "distinct" || s.Fn == "top":
		if !validPath(s.Path) {
			return fmt.Errorf("stats: %s needs a field: %s(field)", s.Fn, s.Fn)
		}
	default:
		return fmt.Errorf("stats: %q: want count, share, rate(filter), or sum|min|max|mean|p50|p90|p99|distinct|top(field)", s.Name())
	}
	return nil
}

var statRe = regexp.MustCompile(`^\s*([a-z0-9]+)\s*(?:\((.*)\))?\s*$`)

// ParseStat reads one statistic: count, share, p99(duration_ms),
// rate(status >= 500), …
func ParseStat(s string) (Stat, error) {
	m := statRe.FindStringSubmatch(s)
	if m == nil {
		return Stat{}, fmt.Errorf("stats: %q: want count, share, rate(filter), or sum|min|max|mean|p50|p90|p99|distinct|top(field)", strings.TrimSpace(s))
	}
	st := Stat{Fn: m[1], Path: strings.TrimSpace(m[2])}
	return st, st.validate()
}

// ParseStats reads a comma-separated list of statistics (commas inside
// parentheses or quotes belong to the statistic):
// count,sum(bytes),p99(duration_ms),rate(level in ("error","fatal")).
func ParseStats(s string) ([]Stat, error) {
	var out []Stat
	depth, quote, start := 0, false, 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) {
			switch c := s[i]; {
			case quote && c == '\\':
				i++
				continue
			case c == '"':
				quote = !quote
			case !quote && c == '(':
				depth++
			case !quote && c == ')':
				depth--
			}
			if quote || depth > 0 || s[i] != ',' {
				continue
			}
		}
		st, err := ParseStat(s[start:i])
		if err != nil {
			return nil, err
		}
		out = append(out, st)
		start = i + 1
	}
	return out, nil
}

// noBucket is the time bucket of a group without one (no time grouping, or
// a record without a timestamp).
const noBucket = -1 << 62

// groupStats is one group of a breakdown.
type groupStats struct {
	Vals    []*string // the by values; nil for a missing field
	Bucket  int64     // the UTC day or hour (its start in Unix seconds), or noBucket
	Count   int64     // records (over-estimated by at most Err)
	Err     int64
	Metrics []*Metric             // per metric statistic, in order
	HLLs    []*hyperloglog.Sketch // per distinct statistic
	Tops    []*TopK               // per top statistic
	Matches []int64               // per rate statistic: records its filter matched
}

// GroupTable is a breakdown's mergeable state: every group exactly while
// there are at most Cap of them; beyond, the smallest groups are dropped and
// Floor bounds what a dropped (or absent) group may have counted, so each
// kept count over-estimates by at most its Err (Space-Saving, merged as in
// Agarwal et al., "Mergeable Summaries"). The other statistics of a group
// that was dropped and came back cover the records since it came back.
type GroupTable struct {
	Cap    int
	Exact  bool
	Floor  int64 // an upper bound of any absent group's count (0 while exact)
	Total  int64 // records the breakdown's filter matched
	groups map[string]*groupStats
	shape  statShape
}

// statShape counts a breakdown's statistics by kind.
type statShape struct{ metrics, hlls, tops, rates int }

func shapeOf(stats []Stat) statShape {
	var s statShape
	for _, st := range stats {
		switch {
		case st.metric():
			s.metrics++
		case st.Fn == "distinct":
			s.hlls++
		case st.Fn == "top":
			s.tops++
		case st.Fn == "rate":
			s.rates++
		}
	}
	return s
}

// NewGroupTable returns an empty table for b.
func NewGroupTable(b Breakdown) *GroupTable {
	b = b.withDefaults()
	return &GroupTable{Cap: b.Capacity, Exact: true, groups: map[string]*groupStats{}, shape: shapeOf(b.Stats)}
}

func (t *GroupTable) newGroup(vals []*string, bucket int64) *groupStats {
	g := &groupStats{Vals: vals, Bucket: bucket, Count: t.Floor, Err: t.Floor}
	for range t.shape.metrics {
		g.Metrics = append(g.Metrics, newMetric())
	}
	for range t.shape.hlls {
		g.HLLs = append(g.HLLs, newHLL())
	}
	for range t.shape.tops {
		g.Tops = append(g.Tops, NewTopK(topPerGroup))
	}
	g.Matches = make([]int64, t.shape.rates)
	return g
}

// group returns the group of vals and bucket, adding it when absent.
func (t *GroupTable) group(vals []*string, bucket int64) *groupStats {
	k := groupKey(vals, bucket)
	g := t.groups[k]
	if g == nil {
		g = t.newGroup(vals, bucket)
		t.groups[k] = g
	}
	return g
}

// Len is the number of groups kept.
func (t *GroupTable) Len() int { return len(t.groups) }

// prune keeps the Cap largest groups and raises Floor to the largest count
// it dropped.
func (t *GroupTable) prune() {
	if len(t.groups) <= t.Cap {
		return
	}
	all := t.sorted()
	for _, g := range all[t.Cap:] {
		t.Floor = max(t.Floor, g.Count)
		delete(t.groups, groupKey(g.Vals, g.Bucket))
	}
	t.Exact = false
}

// sorted lists the groups, largest count first (ties by bucket and values).
func (t *GroupTable) sorted() []*groupStats {
	type keyed struct {
		g   *groupStats
		key string // the values' key, for ties: made once, not per comparison
	}
	all := make([]keyed, 0, len(t.groups))
	for _, g := range t.groups {
		all = append(all, keyed{g, groupKey(g.Vals, noBucket)})
	}
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i].g, all[j].g
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		if a.Bucket != b.Bucket {
			return a.Bucket < b.Bucket
		}
		return all[i].key < all[j].key
	})
	out := make([]*groupStats, len(all))
	for i, k := range all {
		out[i] = k.g
	}
	return out
}

// Merge adds o (of the same breakdown) into t.
func (t *GroupTable) Merge(o *GroupTable) error {
	switch {
	case len(o.groups) == 0:
	case len(t.groups) == 0 && t.shape == (statShape{}): // read from a partial without groups
		t.shape = o.shape
	case t.shape != o.shape:
		return fmt.Errorf("report: breakdowns of different statistics (%+v, %+v)", t.shape, o.shape)
	}
	t.Total += o.Total
	for k, g := range t.groups {
		if o.groups[k] == nil {
			g.Count += o.Floor
			g.Err += o.Floor
		}
	}
	for k, og := range o.groups {
		g := t.groups[k]
		if g == nil {
			g = t.newGroup(og.Vals, og.Bucket)
			t.groups[k] = g
		}
		if err := g.merge(og); err != nil {
			return err
		}
	}
	t.Floor += o.Floor
	t.Exact = t.Exact && o.Exact
	t.prune()
	return nil
}

func (g *groupStats) merge(o *groupStats) error {
	g.Count += o.Count
	g.Err += o.Err
	for i, m := range o.Metrics {
		if err := g.Metrics[i].Merge(m); err != nil {
			return fmt.Errorf("report: merge group metric: %w", err)
		}
	}
	for i, h := range o.HLLs {
		if err := g.HLLs[i].Merge(h); err != nil {
			return fmt.Errorf("report: merge group distinct: %w", err)
		}
	}
	for i, tk := range o.Tops {
		g.Tops[i].Merge(tk)
	}
	for i, n := range o.Matches {
		g.Matches[i] += n
	}
	return nil
}

func groupKey(vals []*string, bucket int64) string {
	var b strings.Builder
	for _, v := range vals {
		if v == nil {
			b.WriteString("\x00n")
		} else {
			b.WriteString("\x00s" + *v)
		}
	}
	if bucket != noBucket {
		b.WriteString("\x00t" + strconv.FormatInt(bucket, 10))
	}
	return b.String()
}

// groupTableState is the serialised table (inside a partial).
type groupTableState struct {
	Cap    int          `json:"cap"`
	Exact  bool         `json:"exact"`
	Floor  int64        `json:"floor"`
	Total  int64        `json:"total"`
	Groups []groupState `json:"groups"`
}

type groupState struct {
	Vals    []*string    `json:"vals"`
	Bucket  *int64       `json:"bucket,omitempty"`
	Count   int64        `json:"count"`
	Err     int64        `json:"err,omitempty"`
	Metrics []metricJSON `json:"metrics,omitempty"`
	HLLs    [][]byte     `json:"distinct,omitempty"`
	Tops    []topState   `json:"top,omitempty"`
	Matches []int64      `json:"rate,omitempty"`
}

// MarshalJSON serialises the table, sketches included.
func (t *GroupTable) MarshalJSON() ([]byte, error) {
	s := groupTableState{Cap: t.Cap, Exact: t.Exact, Floor: t.Floor, Total: t.Total, Groups: []groupState{}}
	for _, g := range t.sorted() {
		gs := groupState{Vals: g.Vals, Count: g.Count, Err: g.Err, Matches: g.Matches}
		if g.Bucket != noBucket {
			b := g.Bucket
			gs.Bucket = &b
		}
		for _, m := range g.Metrics {
			gs.Metrics = append(gs.Metrics, encodeMetric(m))
		}
		for _, h := range g.HLLs {
			b, err := encodeHLL(h)
			if err != nil {
				return nil, fmt.Errorf("report: encode group distinct: %w", err)
			}
			gs.HLLs = append(gs.HLLs, b)
		}
		for _, tk := range g.Tops {
			gs.Tops = append(gs.Tops, tk.state())
		}
		s.Groups = append(s.Groups, gs)
	}
	return json.Marshal(s)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (t *GroupTable) UnmarshalJSON(b []byte) error {
	var s groupTableState
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*t = GroupTable{Cap: s.Cap, Exact: s.Exact, Floor: s.Floor, Total: s.Total, groups: map[string]*groupStats{}}
	for i, gs := range s.Groups {
		g := &groupStats{Vals: gs.Vals, Bucket: noBucket, Count: gs.Count, Err: gs.Err, Matches: gs.Matches}
		if gs.Bucket != nil {
			g.Bucket = *gs.Bucket
		}
		for _, mj := range gs.Metrics {
			m, err := decodeMetric(mj)
			if err != nil {
				return fmt.Errorf("report: group metric: %w", err)
			}
			g.Metrics = append(g.Metrics, m)
		}
		for _, hb := range gs.HLLs {
			h := newHLL()
			if err := h.UnmarshalBinary(hb); err != nil {
				return fmt.Errorf("report: group distinct: %w", err)
			}
			g.HLLs = append(g.HLLs, h)
		}
		for _, ts := range gs.Tops {
			g.Tops = append(g.Tops, topFromState(ts))
		}
		sh := statShape{metrics: len(g.Metrics), hlls: len(g.HLLs), tops: len(g.Tops), rates: len(g.Matches)}
		if i == 0 {
			t.shape = sh
		} else if sh != t.shape {
			return fmt.Errorf("report: breakdown group %d has other statistics than the first", i)
		}
		if g.Count < 0 || g.Err < 0 || g.Err > g.Count {
			return fmt.Errorf("report: breakdown group %d: count %d, error %d", i, g.Count, g.Err)
		}
		t.groups[groupKey(g.Vals, g.Bucket)] = g
	}
	return nil
}

// BreakdownTable is a breakdown's answer, as summary.json, the CSV and
// Parquet files and the page show it.
type BreakdownTable struct {
	Name    string   `json:"name"`
	By      []string `json:"by"`
	Time    string   `json:"time,omitempty"`  // day or hour: the rows' "time" column is the UTC day or hour
	Where   string   `json:"where,omitempty"` // canonical filter
	Columns []string `json:"columns"`         // [time,] the by fields, then the statistics
	// Rows hold per group: a string (the time, a by value, a top list),
	// null (a missing field, or a statistic without values), an int64
	// (count, distinct) or a float64 (share, rate, the metrics). Largest
	// count first; with time, by time, then largest count first.
	Rows    [][]any `json:"rows"`
	Records int64   `json:"records"` // records the filter matched
	Groups  int     `json:"groups"`  // groups kept
	Exact   bool    `json:"exact"`   // false: more than capacity groups; counts are estimates
	// ErrorBound is how much any count may over-estimate (0 when exact);
	// a group absent from the table had at most this many records.
	ErrorBound int64 `json:"error_bound"`
	Limit      int   `json:"-"`
}

// Table builds b's answer from its state.
func (t *GroupTable) Table(b Breakdown) *BreakdownTable {
	b = b.withDefaults()
	out := &BreakdownTable{Name: b.Name, By: b.By, Time: b.Time, Records: t.Total, Groups: len(t.groups),
		Exact: t.Exact, Rows: [][]any{}, Limit: b.Limit}
	if !t.Exact {
		out.ErrorBound = t.Floor
	}
	if out.By == nil {
		out.By = []string{}
	}
	if b.Where != "" {
		e, _ := filter.Parse(b.Where)
		out.Where = e.String()
	}
	if b.Time != "" {
		out.Columns = append(out.Columns, "time")
	}
	out.Columns = append(out.Columns, b.By...)
	for _, s := range b.Stats {
		out.Columns = append(out.Columns, s.Name())
	}
	groups := t.sorted()
	if b.Time != "" {
		sort.SliceStable(groups, func(i, j int) bool { return groups[i].Bucket < groups[j].Bucket })
	}
	for _, g := range groups {
		out.Rows = append(out.Rows, g.row(b, t.Total))
	}
	return out
}

// bucketName prints a time bucket.
func bucketName(bucket int64, unit string) any {
	if bucket == noBucket {
		return nil
	}
	t := time.Unix(bucket, 0).UTC()
	if unit == "hour" {
		return t.Format("2006-01-02T15Z")
	}
	return t.Format(time.DateOnly)
}

func (g *groupStats) row(b Breakdown, total int64) []any {
	var row []any
	if b.Time != "" {
		row = append(row, bucketName(g.Bucket, b.Time))
	}
	for _, v := range g.Vals {
		if v == nil {
			row = append(row, nil)
		} else {
			row = append(row, *v)
		}
	}
	mi, hi, ti, ri := 0, 0, 0, 0
	for _, s := range b.Stats {
		switch {
		case s.Fn == "count":
			row = append(row, g.Count)
		case s.Fn == "share":
			if total == 0 {
				row = append(row, nil)
			} else {
				row = append(row, float64(g.Count)/float64(total))
			}
		case s.Fn == "distinct":
			row = append(row, int64(distinctEstimate(g.HLLs[hi], g.Count)))
			hi++
		case s.Fn == "top":
			var parts []string
			for _, v := range g.Tops[ti].Top(topShown) {
				parts = append(parts, fmt.Sprintf("%s (%d)", v.Value, v.Count))
			}
			row = append(row, strings.Join(parts, ", "))
			ti++
		case s.Fn == "rate":
			if g.Count-g.Err <= 0 {
				row = append(row, nil)
			} else {
				row = append(row, float64(g.Matches[ri])/float64(g.Count-g.Err))
			}
			ri++
		default:
			row = append(row, statValue(g.Metrics[mi], s.Fn))
			mi++
		}
	}
	return row
}

// statValue is one metric statistic, nil without values.
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
