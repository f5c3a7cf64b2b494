package report

import (
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/axiomhq/hyperloglog"
	metro "github.com/dgryski/go-metro"
)

// Zero-config reports. With Config.Auto, a scan keeps a candidate summary
// of every leaf path it meets (up to MaxAutoPaths per worker, the first
// seen): for string and boolean values their top values (exactly, up to
// autoTopCap values, after which the path stops counting them: it has too
// many to be a dimension), a distinct-count sketch and their count and
// bytes; for numbers their top values the same way and a metric (count,
// sum, quantiles), and, for an identifier-like name (idLike), a sketch of
// its integer values, so that a numeric user_id is counted, not averaged. The
// summaries live in Agg's Top, Distinct and Metrics maps under the path and
// merge like any other, so a month merged from daily partials holds the
// whole month's summaries, and Choose makes its choice once, on the merged
// aggregate: what a day alone would pick does not matter.

// Zero-config limits: the candidate paths per worker and the values counted
// per path; the choice's thresholds and caps.
const (
	MaxAutoPaths   = 64
	autoTopCap     = 256
	autoDimMax     = 50             // distinct values at most for a string dimension
	autoNumDimMax  = 20             // … for a number to be a dimension (status codes) rather than a metric
	autoDistinctLo = 50             // distinct values beyond which a string may be a distinct count
	autoMaxLen     = 64             // mean bytes at most of a distinct-count string (longer: free text)
	autoDims       = 8              // dimensions chosen at most
	autoMetrics    = 8              // metrics chosen at most
	autoDistinct   = 4              // distinct counts chosen at most
	autoMinShare   = 0.01           // records that must have a path for it to be chosen
	autoDictMax    = 4 * autoTopCap // values in one batch beyond which a candidate keeps only hashes
)

// hllHash is the hash HyperLogLog's Insert computes (hyperloglog v0.3:
// metro64, seed 1337), so hashed values and inserted ones count alike.
func hllHash(v []byte) int64 { return int64(metro.Hash64(v, 1337)) }

// toHash turns a candidate's dictionary column into hashes and lengths: it
// has too many values to be a dimension, and a dictionary of mostly unique
// values costs an allocation per row.
func (c *column) toHash() {
	d := c.dict
	n := d.dict.len()
	hs, ls := make([]int64, n), make([]int64, n)
	for k := 0; k < n; k++ {
		v := d.dict.data[d.dict.offs[k]:d.dict.offs[k+1]]
		hs[k], ls[k] = hllHash(v), int64(len(v))
	}
	h := &hashCol{}
	for i, k := range d.indices {
		if d.valid.at(i) {
			h.hash.add(hs[k])
			h.lens.add(ls[k])
		} else {
			h.addNull()
		}
	}
	c.hashed = h
	c.dict = nil
}

// idLike names paths that probably identify something: preferred as
// distinct counts.
var idLike = regexp.MustCompile(`(?i)(^|[._-])(id|uuid|guid|user|user_?id|client|ip|addr|host|hostname|session|trace|trace_?id|request_?id|account|device|email)$|[a-z]Id$|_id$`)

// Choice is what a zero-config report picked, and why each was a
// candidate.
type Choice struct {
	Dimensions []string `json:"dimensions"`
	Metrics    []string `json:"metrics"`
	Distinct   []string `json:"distinct"`
}

// autoCandidate is one path's evidence.
type autoCandidate struct {
	path     string
	records  int64 // records that have the path
	card     uint64
	numbers  int64
	strings  int64
	meanLen  float64
	topExact bool
	numID    bool // numbers with an identifier-like name, integers only, sketched
}

// Choose picks the dimensions, metrics and distinct counts of a zero-config
// report from a (merged) aggregate: low-cardinality strings, booleans and
// numbers (up to autoNumDimMax values) as dimensions; other numbers as
// metrics, except integers with an identifier-like name; those and
// high-cardinality short strings as distinct counts (identifier-like names
// first). Each list is ranked by how many records have the path,
// then by path, and capped. Timestamp fields are never chosen.
func (a *Agg) Choose(cfg Config) Choice {
	cfg = cfg.withDefaults()
	ts := map[string]bool{}
	for _, f := range cfg.TimestampFields {
		ts[f] = true
	}
	var cands []autoCandidate
	for p, t := range a.Top { // every candidate has top values (kept or given up)
		f := a.Fields[p]
		if f == nil || ts[p] || a.Records == 0 || float64(f.Records) < autoMinShare*float64(a.Records) {
			continue
		}
		c := autoCandidate{path: p, records: f.Records, strings: f.Strings, topExact: t.Exact}
		switch h := a.Distinct[p]; {
		case t.Exact: // every value counted: the exact cardinality
			c.card = uint64(t.Len())
		case h != nil:
			c.card = h.Estimate()
		default: // numbers past the top-value cap keep no sketch: many values
			c.card = autoTopCap + 1
		}
		if m := a.Metrics[p]; m != nil {
			c.numbers = m.Count
		}
		if f.Strings > 0 {
			c.meanLen = float64(f.StringBytes) / float64(f.Strings)
		}
		c.numID = c.numbers > 0 && f.NonIntegers == 0 && a.Distinct[p] != nil && idLike.MatchString(p)
		cands = append(cands, c)
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].records != cands[j].records {
			return cands[i].records > cands[j].records
		}
		return cands[i].path < cands[j].path
	})
	ch := Choice{Dimensions: []string{}, Metrics: []string{}, Distinct: []string{}}
	var distinct, others []string
	for _, c := range cands {
		numeric := c.numbers > 0 && c.numbers >= c.strings
		switch {
		case c.topExact && c.card >= 2 && (numeric && c.card <= autoNumDimMax || !numeric && c.card <= autoDimMax):
			if len(ch.Dimensions) < autoDims {
				ch.Dimensions = append(ch.Dimensions, c.path)
			}
		case numeric && c.numID: // an identifier's mean or p99 means nothing
			distinct = append(distinct, c.path)
		case numeric:
			if len(ch.Metrics) < autoMetrics {
				ch.Metrics = append(ch.Metrics, c.path)
			}
		case c.card > autoDistinctLo && c.meanLen <= autoMaxLen:
			if idLike.MatchString(c.path) {
				distinct = append(distinct, c.path)
			} else {
				others = append(others, c.path)
			}
		}
	}
	ch.Distinct = append(ch.Distinct, append(distinct, others...)...)
	if len(ch.Distinct) > autoDistinct {
		ch.Distinct = ch.Distinct[:autoDistinct]
	}
	return ch
}

// chosen returns cfg with the fields a zero-config report picked from a;
// cfg itself when it names its fields.
func (c Config) chosen(a *Agg) Config {
	if !c.Auto {
		return c
	}
	ch := a.Choose(c)
	c.Dimensions, c.Metrics, c.Distinct = ch.Dimensions, ch.Metrics, ch.Distinct
	return c
}

// autoColumn creates the candidate column of a path first met with a leaf
// value of type t, backfilling the batch's earlier rows with nulls; past
// MaxAutoPaths, and for the timestamp field, the path gets none. A value
// that is no leaf (an object, an array, null) leaves the path to a later
// record.
func (w *worker) autoColumn(s *slot, t uint8) {
	if t&(TypeString|TypeBool|TypeNumber) == 0 {
		return // objects, arrays and nulls: maybe a leaf in a later record
	}
	s.autoTried = true
	if len(w.autoCols) >= MaxAutoPaths || s.tsRank >= 0 {
		return
	}
	c := &column{colSpec: colSpec{name: s.path, metric: t == TypeNumber}}
	if c.metric {
		c.idLike = idLike.MatchString(s.path) // once per path, not per batch
		c.f64 = &fixedCol[float64]{}
		for range w.rows {
			c.f64.addNull()
		}
	} else {
		c.dict = &dictCol{index: map[string]int32{}}
		for range w.rows {
			c.dict.addNull()
		}
	}
	s.acol = len(w.autoCols)
	w.autoCols = append(w.autoCols, c)
}

// aggregateAuto folds the batch's candidate columns into the aggregate
// (after the filter compacted them).
func (w *worker) aggregateAuto() {
	for _, c := range w.autoCols {
		if c.f64 != nil {
			w.autoNumbers(c)
			continue
		}
		if c.hashed != nil {
			w.autoHashes(c)
			continue
		}
		d := c.dict.array(false).(*array.Dictionary)
		w.autoStrings(c, d)
		d.Release()
	}
}

func (w *worker) autoStrings(c *column, d *array.Dictionary) {
	dict, counts := w.dictCounts(d)
	var top *TopK
	var hll = w.agg.Distinct[c.name]
	var stat *FieldStat
	for k, cnt := range counts {
		if cnt == 0 {
			continue
		}
		if hll == nil { // the first value: the path's summaries
			hll = newHLL()
			w.agg.Distinct[c.name] = hll
		}
		if top == nil {
			if top = w.agg.Top[c.name]; top == nil {
				top = NewTopK(autoTopCap)
				w.agg.Top[c.name] = top
			}
			stat = w.autoStat(c.name)
		}
		v := dict.ValueBytes()[dict.ValueOffset(k):dict.ValueOffset(k+1)]
		if top.Exact { // past its cap a path is no dimension: stop counting
			top.Add(v, cnt)
		}
		hll.Insert(v)
		stat.Strings += cnt
		stat.StringBytes += cnt * int64(len(v))
	}
}

// autoHashes folds a hashed candidate: its distinct count and lengths; its
// top values are marked inexact (they were not counted).
func (w *worker) autoHashes(c *column) {
	var hll *hyperloglog.Sketch
	var stat *FieldStat
	for i, h := range c.hashed.hash.vals {
		if !c.hashed.hash.valid.at(i) {
			continue
		}
		if hll == nil {
			if hll = w.agg.Distinct[c.name]; hll == nil {
				hll = newHLL()
				w.agg.Distinct[c.name] = hll
			}
			top := w.agg.Top[c.name]
			if top == nil {
				top = NewTopK(autoTopCap)
				w.agg.Top[c.name] = top
			}
			top.Exact = false
			stat = w.autoStat(c.name)
		}
		hll.InsertHash(uint64(h))
		stat.Strings++
		stat.StringBytes += c.hashed.lens.vals[i]
	}
}

// autoNumbers folds a number candidate: its metric, and its values while
// they are few enough to make it a dimension (their count is then its exact
// cardinality). Past the cap a number is a metric, unless its name is
// identifier-like: such a path also keeps a distinct-count sketch of its
// integer values and counts the values that are not integers.
func (w *worker) autoNumbers(c *column) {
	f := c.f64
	var m *Metric
	var top *TopK
	var hll *hyperloglog.Sketch
	var stat *FieldStat
	id := c.idLike
	var buf [32]byte
	for i, v := range f.vals {
		if !f.valid.at(i) {
			continue
		}
		if m == nil {
			if m = w.agg.Metrics[c.name]; m == nil {
				m = newMetric()
				w.agg.Metrics[c.name] = m
			}
			if top = w.agg.Top[c.name]; top == nil {
				top = NewTopK(autoTopCap)
				w.agg.Top[c.name] = top
			}
			if id {
				if hll = w.agg.Distinct[c.name]; hll == nil {
					hll = newHLL()
					w.agg.Distinct[c.name] = hll
				}
				stat = w.autoStat(c.name)
			}
		}
		m.Add(v)
		if top.Exact {
			top.Add(strconv.AppendFloat(buf[:0], v, 'g', -1, 64), 1)
		}
		if id {
			if v != math.Trunc(v) || math.Abs(v) >= 1<<63 {
				stat.NonIntegers++
			} else {
				hll.Insert(strconv.AppendInt(buf[:0], int64(v), 10))
			}
		}
	}
}

// autoStat is the inventory entry of a candidate path (present: the path was
// just walked).
func (w *worker) autoStat(path string) *FieldStat {
	s := w.agg.Fields[path]
	if s == nil {
		s = &FieldStat{}
		w.agg.Fields[path] = s
	}
	return s
}

// autoNote says, for the page, which fields a zero-config report chose.
func autoNote(cfg Config) string {
	list := func(s []string) string {
		if len(s) == 0 {
			return "none"
		}
		return strings.Join(s, ", ")
	}
	return "dimensions: " + list(cfg.Dimensions) + "; metrics: " + list(cfg.Metrics) + "; distinct: " + list(cfg.Distinct)
}
