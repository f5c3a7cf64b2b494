package report

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/store"
	"github.com/axiomhq/hyperloglog"
	"github.com/ingestd/ingestd/internal/utcday"
)

// Agg is the mergeable aggregate of a set of records: counts per day and
// hour, top values per dimension, metric statistics and quantile sketches,
// distinct-count sketches, the field inventory and data-quality counters.
// Merging the aggregates of disjoint record sets gives the aggregate of their
// union (exactly for counts, within the sketches' error bounds otherwise).
type Agg struct {
	Records  int64                          // records read (JSON objects)
	Days     map[int64]*DayCount            // by UTC day number
	Top      map[string]*TopK               // by dimension
	Metrics  map[string]*Metric             // by metric field
	Distinct map[string]*hyperloglog.Sketch // by distinct field
	Fields   map[string]*FieldStat          // by path
	// Breakdowns are the configured breakdowns' group tables, by name.
	Breakdowns map[string]*GroupTable
	Quality    Quality
}

// DayCount counts one day's records, in total and per UTC hour.
type DayCount struct {
	Records int64     `json:"records"`
	Hours   [24]int64 `json:"hours"` // records with a timestamp, by hour
}

// Metric summarises one numeric field.
type Metric struct {
	Count int64
	Min   float64
	Max   float64
	Sum   float64
	sk    *ddsketch.DDSketch
	// lm and pos are sk's mapping and positive store as their own types,
	// when they are those (bind): Add calls them directly for a positive
	// value, as sk.Add would but without its two interface calls.
	lm  *mapping.LogarithmicMapping
	pos *store.CollapsingLowestDenseStore
}

// bind sets lm and pos from sk.
func (m *Metric) bind() {
	m.lm, _ = m.sk.IndexMapping.(*mapping.LogarithmicMapping)
	m.pos, _ = m.sk.GetPositiveValueStore().(*store.CollapsingLowestDenseStore)
	if m.lm == nil {
		m.pos = nil
	}
}

// FieldStat is one path of the field inventory.
type FieldStat struct {
	Records int64 `json:"records"`
	Types   uint8 `json:"types"` // bit set of JSON types seen (see TypeNames)
	// With Config.Auto, for a candidate path counted as strings: the
	// values and their bytes (Choose's mean length).
	Strings     int64 `json:"strings,omitempty"`
	StringBytes int64 `json:"string_bytes,omitempty"`
	// With Config.Auto, for an identifier-like path counted as numbers: the
	// values that were not integers (an identifier has none).
	NonIntegers int64 `json:"non_integers,omitempty"`
}

// JSON value types, as bits of FieldStat.Types.
const (
	TypeString uint8 = 1 << iota
	TypeNumber
	TypeBool
	TypeNull
	TypeObject
	TypeArray
)

// TypeNames names the bits of FieldStat.Types, lowest first.
var TypeNames = []string{"string", "number", "bool", "null", "object", "array"}

// Quality counts what did not fit.
type Quality struct {
	BadLines       int64            `json:"bad_lines"`       // lines that are not a JSON object
	NoTimestamp    int64            `json:"no_timestamp"`    // records whose timestamp is missing or unreadable
	TypeMismatch   map[string]int64 `json:"type_mismatch"`   // by field: values of a type the column cannot hold (stored as null)
	FieldsOverflow int64            `json:"fields_overflow"` // field occurrences beyond the inventory's path cap
	OpenParts      int64            `json:"open_parts"`      // unsealed parts read (a day still being written)
}

// NewAgg returns an empty aggregate for cfg.
func NewAgg(cfg Config) *Agg {
	cfg = cfg.withDefaults()
	a := &Agg{
		Days:     map[int64]*DayCount{},
		Top:      map[string]*TopK{},
		Metrics:  map[string]*Metric{},
		Distinct: map[string]*hyperloglog.Sketch{},
		Fields:   map[string]*FieldStat{},
		Quality:  Quality{TypeMismatch: map[string]int64{}},

		Breakdowns: map[string]*GroupTable{},
	}
	for _, b := range cfg.Breakdowns {
		a.Breakdowns[b.Name] = NewGroupTable(b)
	}
	for _, d := range cfg.Dimensions {
		a.Top[d] = NewTopK(cfg.TopCap)
	}
	for _, m := range cfg.Metrics {
		a.Metrics[m] = newMetric()
	}
	for _, d := range cfg.Distinct {
		a.Distinct[d] = newHLL()
	}
	return a
}

func newMetric() *Metric {
	sk, err := ddsketch.LogCollapsingLowestDenseDDSketch(quantileAccuracy, quantileBins)
	if err != nil {
		panic(err) // constant parameters
	}
	m := &Metric{Min: math.Inf(1), Max: math.Inf(-1), sk: sk}
	m.bind()
	return m
}

// newHLL returns an empty distinct-count sketch that starts sparse.
func newHLL() *hyperloglog.Sketch { return hllSketch(true) }

// newDenseHLL is newHLL without the sparse phase, for a field known to
// have many values: the registers are those a sparse sketch has once it
// converts (at 2^hllPrecision values).
func newDenseHLL() *hyperloglog.Sketch { return hllSketch(false) }

func hllSketch(sparse bool) *hyperloglog.Sketch {
	h, err := hyperloglog.NewSketch(hllPrecision, sparse)
	if err != nil {
		panic(err) // constant parameters
	}
	return h
}

// denseHLLAfter is the estimate past which a field's next sketch starts
// dense: four times the registers, far past where a sparse sketch converts,
// so that the estimate's error cannot put a sparse one above it.
const denseHLLAfter = 4 << hllPrecision

func (a *Agg) day(d int64) *DayCount {
	c := a.Days[d]
	if c == nil {
		c = &DayCount{}
		a.Days[d] = c
	}
	return c
}

// Add counts one value of a metric.
func (m *Metric) Add(v float64) {
	m.Count++
	m.Sum += v
	m.Min = min(m.Min, v)
	m.Max = max(m.Max, v)
	if m.pos != nil && v > m.lm.MinIndexableValue() && v <= m.lm.MaxIndexableValue() {
		m.pos.Add(m.lm.Index(v)) // what sk.Add does for such a value
		return
	}
	_ = m.sk.Add(v) // fails only for NaN or ±Inf, which JSON cannot hold
}

// Mean returns Sum/Count, or NaN without values.
func (m *Metric) Mean() float64 {
	if m.Count == 0 {
		return math.NaN()
	}
	return m.Sum / float64(m.Count)
}

// Quantile returns the q-quantile (0..1) within QuantileError relative
// error, or NaN without values. The estimate lies within [Min, Max]: the
// sketch answers with the middle of a logarithmic bucket, which can lie past
// the exact extremes (a lone value 1 would read 1.01).
func (m *Metric) Quantile(q float64) float64 {
	if m.Count == 0 {
		return math.NaN()
	}
	v, err := m.sk.GetValueAtQuantile(q)
	if err != nil {
		return math.NaN()
	}
	return min(max(v, m.Min), m.Max)
}

// Merge adds o into m.
func (m *Metric) Merge(o *Metric) error {
	if o.Count == 0 {
		return nil
	}
	m.Count += o.Count
	m.Sum += o.Sum
	m.Min = min(m.Min, o.Min)
	m.Max = max(m.Max, o.Max)
	return m.sk.MergeWith(o.sk)
}

// Merge adds o into a. Both must come from the same Config.
func (a *Agg) Merge(o *Agg) error {
	a.Records += o.Records
	for d, c := range o.Days {
		x := a.day(d)
		x.Records += c.Records
		for h := range c.Hours {
			x.Hours[h] += c.Hours[h]
		}
	}
	for k, t := range o.Top {
		if a.Top[k] == nil {
			a.Top[k] = NewTopK(t.Cap)
		}
		a.Top[k].Merge(t)
	}
	for k, m := range o.Metrics {
		if a.Metrics[k] == nil {
			a.Metrics[k] = newMetric()
		}
		if err := a.Metrics[k].Merge(m); err != nil {
			return fmt.Errorf("report: merge metric %s: %w", k, err)
		}
	}
	for k, h := range o.Distinct {
		if a.Distinct[k] == nil {
			a.Distinct[k] = newHLL()
		}
		if err := a.Distinct[k].Merge(h); err != nil {
			return fmt.Errorf("report: merge distinct %s: %w", k, err)
		}
	}
	for k, t := range o.Breakdowns {
		if a.Breakdowns[k] == nil {
			a.Breakdowns[k] = &GroupTable{Cap: t.Cap, Exact: true, groups: map[string]*groupStats{}, shape: t.shape}
		}
		if err := a.Breakdowns[k].Merge(t); err != nil {
			return fmt.Errorf("report: merge breakdown %s: %w", k, err)
		}
	}
	for p, f := range o.Fields {
		x := a.Fields[p]
		if x == nil {
			x = &FieldStat{}
			a.Fields[p] = x
		}
		x.Records += f.Records
		x.Types |= f.Types
		x.Strings += f.Strings
		x.StringBytes += f.StringBytes
		x.NonIntegers += f.NonIntegers
	}
	q := &a.Quality
	q.BadLines += o.Quality.BadLines
	q.NoTimestamp += o.Quality.NoTimestamp
	q.FieldsOverflow += o.Quality.FieldsOverflow
	q.OpenParts += o.Quality.OpenParts
	if q.TypeMismatch == nil {
		q.TypeMismatch = map[string]int64{}
	}
	for k, n := range o.Quality.TypeMismatch {
		q.TypeMismatch[k] += n
	}
	return nil
}

// DayList returns the days in order.
func (a *Agg) DayList() []int64 {
	out := make([]int64, 0, len(a.Days))
	for d := range a.Days {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Weekdays returns records by weekday (Sunday first) and UTC hour.
func (a *Agg) Weekdays() [7][24]int64 {
	var g [7][24]int64
	for d, c := range a.Days {
		wd := time.Unix(d*86400, 0).UTC().Weekday()
		for h, n := range c.Hours {
			g[wd][h] += n
		}
	}
	return g
}

// aggState is the serialised aggregate (a daily partial's body).
type aggState struct {
	Records  int64                 `json:"records"`
	Days     map[string]*DayCount  `json:"days"`
	Top      map[string]topState   `json:"top"`
	Metrics  map[string]metricJSON `json:"metrics"`
	Distinct map[string][]byte     `json:"distinct"`
	Fields   map[string]*FieldStat `json:"fields"`
	Quality  Quality               `json:"quality"`

	Breakdowns map[string]*GroupTable `json:"breakdowns,omitempty"`
}

type metricJSON struct {
	Count  int64   `json:"count"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	Sum    float64 `json:"sum"`
	Sketch []byte  `json:"ddsketch"`
}

// MarshalJSON serialises the aggregate, sketches included.
func (a *Agg) MarshalJSON() ([]byte, error) {
	s := aggState{Records: a.Records, Days: map[string]*DayCount{}, Top: map[string]topState{},
		Metrics: map[string]metricJSON{}, Distinct: map[string][]byte{}, Fields: a.Fields, Quality: a.Quality, Breakdowns: a.Breakdowns}
	for d, c := range a.Days {
		s.Days[utcday.Name(d)] = c
	}
	for k, t := range a.Top {
		s.Top[k] = t.state()
	}
	for k, m := range a.Metrics {
		s.Metrics[k] = encodeMetric(m)
	}
	for k, h := range a.Distinct {
		b, err := encodeHLL(h)
		if err != nil {
			return nil, fmt.Errorf("report: encode distinct %s: %w", k, err)
		}
		s.Distinct[k] = b
	}
	return json.Marshal(s)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (a *Agg) UnmarshalJSON(b []byte) error {
	var s aggState
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*a = Agg{Records: s.Records, Days: map[int64]*DayCount{}, Top: map[string]*TopK{},
		Metrics: map[string]*Metric{}, Distinct: map[string]*hyperloglog.Sketch{}, Fields: s.Fields, Quality: s.Quality}
	if a.Fields == nil {
		a.Fields = map[string]*FieldStat{}
	}
	if a.Quality.TypeMismatch == nil {
		a.Quality.TypeMismatch = map[string]int64{}
	}
	for name, c := range s.Days {
		t, err := time.Parse(time.DateOnly, name)
		if err != nil {
			return fmt.Errorf("report: day %q: %w", name, err)
		}
		a.Days[utcday.OfSeconds(t.Unix())] = c
	}
	for k, t := range s.Top {
		a.Top[k] = topFromState(t)
	}
	for k, mj := range s.Metrics {
		m, err := decodeMetric(mj)
		if err != nil {
			return fmt.Errorf("report: decode metric %s: %w", k, err)
		}
		a.Metrics[k] = m
	}
	a.Breakdowns = s.Breakdowns
	if a.Breakdowns == nil {
		a.Breakdowns = map[string]*GroupTable{}
	}
	for k, b := range s.Distinct {
		h := newHLL()
		if err := h.UnmarshalBinary(b); err != nil {
			return fmt.Errorf("report: decode distinct %s: %w", k, err)
		}
		a.Distinct[k] = h
	}
	return nil
}

func encodeMetric(m *Metric) metricJSON {
	mj := metricJSON{Count: m.Count, Sum: m.Sum}
	if m.Count > 0 {
		mj.Min, mj.Max = m.Min, m.Max
	}
	m.sk.Encode(&mj.Sketch, false)
	return mj
}

func decodeMetric(mj metricJSON) (*Metric, error) {
	// The stores newMetric uses: a decoded sketch keeps collapsing at the
	// same bound when merged, and encodes to the bytes it was read from.
	sk, err := ddsketch.DecodeDDSketch(mj.Sketch, func() store.Store { return store.NewCollapsingLowestDenseStore(quantileBins) }, nil)
	if err != nil {
		return nil, err
	}
	m := &Metric{Count: mj.Count, Min: mj.Min, Max: mj.Max, Sum: mj.Sum, sk: sk}
	m.bind()
	if m.Count == 0 {
		m.Min, m.Max = math.Inf(1), math.Inf(-1)
	}
	return m, nil
}

// encodeHLL serialises a distinct-count sketch. The library's encoding
// depends on insertion order until the sketch is compacted; Estimate
// compacts it, so equal sketches encode to equal bytes.
func encodeHLL(h *hyperloglog.Sketch) ([]byte, error) {
	h.Estimate()
	return h.MarshalBinary()
}

// distinctEstimate is h's estimate, never above n, the values it can have
// counted: HyperLogLog's error can put the estimate of a field whose every
// value differs above the number of records.
func distinctEstimate(h *hyperloglog.Sketch, n int64) uint64 {
	return min(h.Estimate(), uint64(max(n, 0)))
}

// valuesAtMost bounds the values a field can have had: the records that
// have its path when the field inventory knows it, else every record.
func (a *Agg) valuesAtMost(path string) int64 {
	if f := a.Fields[path]; f != nil && f.Records <= a.Records {
		return f.Records
	}
	return a.Records
}
