package report

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/ingestd/ingestd/internal/jsonx"
	"github.com/ingestd/ingestd/internal/utcday"
	"github.com/ingestd/ingestd/report/filter"
	"github.com/ingestd/ingestd/segment"
)

// ScanOptions are the per-run options of Scan.
type ScanOptions struct {
	// Sink, when set, receives every record batch (with the raw column) and
	// must be safe for concurrent use. It may retain the batch.
	Sink func(arrow.Record) error
	// Progress, when set, is called after each block with the totals so far.
	Progress func(records, rawBytes int64)
	// Open and Prefetch, when set, say how files are opened and how many
	// block reads run at once (segment.ScanOptions); by default local files.
	Open     func(path string) (*segment.FileReader, error)
	Prefetch int
}

// Schema returns the Arrow schema of the record batches: the timestamp, one
// dictionary-encoded string column per dimension, breakdown field or
// distinct field, one float64 column per metric, and the record itself as
// JSON when raw is set. A path wanted both as a string and as a number has
// both columns, the number's named "<path>:number".
func Schema(cfg Config, raw bool) *arrow.Schema {
	cols := columnsOf(cfg)
	fields := []arrow.Field{{Name: "timestamp", Type: tsType, Nullable: true}}
	for _, c := range cols {
		fields = append(fields, arrow.Field{Name: c.column(), Type: c.typ(), Nullable: true})
	}
	if raw {
		fields = append(fields, arrow.Field{Name: "record", Type: arrow.BinaryTypes.String})
	}
	return arrow.NewSchema(fields, nil)
}

var dictType = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}

type colSpec struct {
	name     string
	metric   bool
	top      bool // a dimension: top values
	group    bool // a breakdown's by field or top(field): dictionary indices
	distinct bool // a distinct-count field of the report (not of a breakdown)
	shadow   bool // a metric whose path also has a string column
}

// column is the Arrow column name.
func (c colSpec) column() string {
	if c.shadow {
		return c.name + ":number"
	}
	return c.name
}

func (c colSpec) typ() arrow.DataType {
	switch {
	case c.metric:
		return arrow.PrimitiveTypes.Float64
	case c.top || c.group:
		return dictType
	default: // distinct only: mostly unique values, a dictionary would not pay
		return arrow.BinaryTypes.String
	}
}

var tsType = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

// colKey finds a column: a path as a string or as a number.
type colKey struct {
	name   string
	metric bool
}

// columnsOf lists the typed columns: dimensions, then distinct fields that
// are not dimensions, then metrics, then what the breakdowns add.
func columnsOf(cfg Config) []colSpec {
	var cols []colSpec
	idx := map[colKey]int{}
	add := func(name string, metric bool) *colSpec {
		k := colKey{name, metric}
		if _, ok := idx[k]; !ok {
			idx[k] = len(cols)
			cols = append(cols, colSpec{name: name, metric: metric})
		}
		return &cols[idx[k]]
	}
	for _, d := range cfg.Dimensions {
		add(d, false).top = true
	}
	for _, d := range cfg.Distinct {
		add(d, false).distinct = true
	}
	for _, m := range cfg.Metrics {
		add(m, true)
	}
	for _, b := range cfg.Breakdowns {
		for _, p := range b.By {
			add(p, false).group = true
		}
		for _, st := range b.Stats {
			switch {
			case st.metric():
				add(st.Path, true)
			case st.Fn == "distinct":
				add(st.Path, false)
			case st.Fn == "top":
				add(st.Path, false).group = true
			}
		}
	}
	for i := range cols {
		if c := &cols[i]; c.metric {
			_, c.shadow = idx[colKey{c.name, false}]
		}
	}
	return cols
}

// columnIndex maps each column to its position among the typed columns.
func columnIndex(cols []colSpec) map[colKey]int {
	m := make(map[colKey]int, len(cols))
	for i, c := range cols {
		m[colKey{c.name, c.metric}] = i
	}
	return m
}

// Scan reads every block of files with cfg.Workers parallel workers, each
// decoding, parsing straight into Arrow builders and aggregating its own
// record batches, and returns the merged aggregate.
func Scan(ctx context.Context, files []string, cfg Config, opt ScanOptions) (*Agg, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	var openParts int64
	for _, f := range files {
		if strings.HasSuffix(f, segment.SuffixOpen) {
			openParts++
		}
	}
	workers := make([]*worker, cfg.Workers)
	for i := range workers {
		workers[i] = getWorker(&cfg, opt.Sink != nil)
	}
	defer func() {
		for _, w := range workers {
			putWorker(w)
		}
	}()
	var records, rawBytes atomic.Int64
	var progressMu sync.Mutex
	err := segment.ScanBlocks(ctx, files, segment.ScanOptions{Workers: cfg.Workers, Open: opt.Open, Prefetch: opt.Prefetch,
		// Aggregates need no content checksum beyond the data CRC; records
		// handed to a sink (query printing them) keep it, as cat does.
		SkipContentChecksum: opt.Sink == nil}, func(wi int, _ string, m segment.BlockMeta, raw []byte) error {
		w := workers[wi]
		if err := w.block(raw, utcday.Of(m.MinTS), opt.Sink); err != nil {
			return err
		}
		r, b := records.Add(int64(m.Records)), rawBytes.Add(int64(len(raw)))
		if opt.Progress != nil {
			progressMu.Lock()
			opt.Progress(r, b)
			progressMu.Unlock()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	total := NewAgg(cfg)
	total.Quality.OpenParts = openParts
	for _, w := range workers {
		if err := w.flush(opt.Sink); err != nil {
			return nil, err
		}
		if err := total.Merge(w.agg); err != nil {
			return nil, err
		}
	}
	return total, nil
}

// slot is one field path a worker has seen.
type slot struct {
	path    string
	stat    *FieldStat
	seen    uint64 // the worker's record serial that last counted this path
	col     int    // typed string column, or -1
	mcol    int    // typed number column, or -1
	fcol    int    // filter column, or -1
	tsRank  int    // rank among the timestamp fields (top level only), or -1
	nesting int    // 0 for a top-level field
	// parent and key: the object slot (nil at the top level) and the raw
	// member name this path was first met as, compiled for matching.
	parent *slot
	key    jsonx.KeyPattern
	keyed  bool // key is set
	// With cfg.Auto: the path's candidate column, or -1; whether it was
	// considered (at its first leaf value).
	acol      int
	autoTried bool
}

// column is one typed column being built.
type column struct {
	colSpec
	dict *dictCol           // dimensions
	str  *strCol            // distinct-only fields
	f64  *fixedCol[float64] // metrics
	val  []byte             // this record's value, if set
	set  bool
	esc  bool // val is a string with an escape (string columns only)
	// A zero-config candidate with too many values to be a dimension keeps
	// each value's HyperLogLog hash and length instead of a dictionary.
	hashed *hashCol
	// idLike: a zero-config number candidate whose name is identifier-like
	// (it keeps a distinct-count sketch of its integers).
	idLike bool
}

// hashCol builds a zero-config candidate's value hashes and lengths.
type hashCol struct{ hash, lens fixedCol[int64] }

func (c *hashCol) add(v []byte)    { c.hash.add(hllHash(v)); c.lens.add(int64(len(v))) }
func (c *hashCol) addNull()        { c.hash.addNull(); c.lens.addNull() }
func (c *hashCol) keep(sel []bool) { c.hash.keep(sel); c.lens.keep(sel) }
func (c *hashCol) reset()          { c.hash.reset(); c.lens.reset() }

// builder is what every kind of column builder does besides its typed add.
type builder interface {
	addNull()
	keep(sel []bool)
	reset()
}

// builder returns the column's builder, whichever kind it has.
func (c *column) builder() builder {
	switch {
	case c.f64 != nil:
		return c.f64
	case c.hashed != nil:
		return c.hashed
	case c.dict != nil:
		return c.dict
	default:
		return c.str
	}
}

func (c *column) addNull() { c.builder().addNull() }

// keep compacts the column's builder to the rows sel keeps.
func (c *column) keep(sel []bool) { c.builder().keep(sel) }

// reset empties the column's builder.
func (c *column) reset() { c.builder().reset() }

// worker parses and aggregates the blocks given to one scan goroutine.
type worker struct {
	cfg *Config
	agg *Agg
	// denseHLL names the distinct fields whose sketch had far more values
	// than a sparse sketch holds (denseHLLAfter) in an earlier scan: the
	// next scan starts them dense instead of building and converting a
	// sparse one (a month is 31 scans; converting was ≈ 2.6 % of the CPU).
	// A sketch that goes dense anyway ends with the same registers either
	// way, so a month's or week's answer is unchanged. Only a day with few
	// values after one with many differs: its estimate comes from dense
	// registers (linear counting), within the same error bound.
	denseHLL map[string]bool
	schema   *arrow.Schema
	fields   map[string]*slot
	path     []byte
	order    []*slot // slots in the order the previous record had them
	pos      int     // fields seen so far in this record
	cols     []*column
	ts       fixedCol[int64]
	raw      *strCol
	rows     int
	tsRank   int
	tsVal    []byte
	serial   uint64  // counts records, so a path repeated in one counts once
	counts   []int64 // per dictionary index, reused
	unq      []byte  // unquoting scratch
	key      string  // pool

	// The filters: cfg.Where (when set, progs[0]), then the breakdowns'
	// where and rate filters; their columns (each field's JSON values, a
	// column per path whatever reads it); per program and row whether it
	// matched; and per row the block's day (for records without a
	// timestamp) and whether it passes cfg.Where and the range.
	where  *filter.Program
	progs  []*program
	fcols  []*column
	masks  [][]bool
	rowDay []int64
	sel    []bool
	// The breakdowns being computed.
	bds []*bdRun
	// With cfg.Auto, the candidate columns of a zero-config report.
	autoCols []*column
	// lost is the parent of the fields of an object past the inventory's
	// cap: no slot's parent.
	lost *slot
	// With cfg.From/To: the bounds in µs (To exclusive); filtering is set
	// with either a filter or a range.
	from, to  int64
	filtering bool
}

func newWorker(cfg *Config, raw bool) *worker {
	w := &worker{cfg: cfg, agg: NewAgg(*cfg), fields: map[string]*slot{}, schema: Schema(*cfg, raw), lost: &slot{}}
	for i, spec := range columnsOf(*cfg) {
		c := &column{colSpec: spec}
		switch {
		case spec.metric:
			c.f64 = &fixedCol[float64]{}
		case spec.top || spec.group:
			c.dict = &dictCol{index: map[string]int32{}}
		default:
			c.str = &strCol{}
		}
		w.cols = append(w.cols, c)
		if spec.metric {
			w.slotFor(spec.name).mcol = i
		} else {
			w.slotFor(spec.name).col = i
		}
	}
	if raw {
		w.raw = &strCol{}
	}
	if cfg.Where != "" {
		w.where = w.addProgram(cfg.Where).prog
	}
	w.addBreakdowns(cfg)
	w.from, w.to = math.MinInt64, math.MaxInt64
	if !cfg.From.IsZero() {
		w.from = cfg.From.UnixMicro()
	}
	if !cfg.To.IsZero() {
		w.to = cfg.To.UnixMicro()
	}
	w.filtering = w.where != nil || cfg.ranged()
	for r, f := range cfg.TimestampFields {
		if s := w.slotFor(f); s.tsRank < 0 && s.nesting == 0 {
			s.tsRank = r
		}
	}
	return w
}

// slotFor registers a configured path, so it is found whatever the cap.
func (w *worker) slotFor(path string) *slot {
	if s, ok := w.fields[path]; ok {
		return s
	}
	s := &slot{path: path, col: -1, mcol: -1, fcol: -1, acol: -1, tsRank: -1, nesting: strings.Count(path, ".")}
	w.fields[path] = s
	return s
}

// lookup finds the slot of w.path, the field key of object parent, in the
// map, and notes it for the next record's prediction.
func (w *worker) lookup(depth int, parent *slot, key []byte) *slot {
	s := w.fields[string(w.path)]
	if s == nil && len(w.fields) < w.cfg.MaxFields {
		s = &slot{path: string(w.path), col: -1, mcol: -1, fcol: -1, acol: -1, tsRank: -1, nesting: depth}
		w.fields[s.path] = s
	}
	if s != nil && !s.keyed { // first met (or registered from the config)
		s.parent, s.key, s.keyed = parent, jsonx.NewKeyPattern(append([]byte(nil), key...)), true
	}
	if w.pos < len(w.order) {
		w.order[w.pos] = s
	} else {
		w.order = append(w.order, s)
	}
	w.pos++
	return s
}

// Workers are pooled per configuration: their column buffers, grown to a
// batch, and their field slots are reused from one day's scan to the next.
var workerPools sync.Map // fingerprint + raw → *sync.Pool

func getWorker(cfg *Config, raw bool) *worker {
	key := fmt.Sprint(cfg.Fingerprint(), raw)
	p, _ := workerPools.LoadOrStore(key, &sync.Pool{})
	if w, ok := p.(*sync.Pool).Get().(*worker); ok {
		w.restart(cfg)
		return w
	}
	w := newWorker(cfg, raw)
	w.key = key
	return w
}

// restart readies a pooled worker for another scan with cfg (of the same
// fingerprint): a new aggregate, and the field slots' statistics cleared.
func (w *worker) restart(cfg *Config) {
	w.cfg, w.agg = cfg, NewAgg(*cfg)
	for name := range w.denseHLL {
		if _, ok := w.agg.Distinct[name]; ok {
			w.agg.Distinct[name] = newDenseHLL()
		}
	}
	for _, s := range w.fields {
		s.stat = nil
	}
	for _, c := range w.autoCols { // each scan learns afresh which paths have many values
		if c.hashed != nil {
			c.hashed, c.dict = nil, &dictCol{index: map[string]int32{}}
		}
	}
}

// noteDense remembers the distinct fields whose sketch went far past a
// sparse one's size in this scan (see worker.denseHLL).
func (w *worker) noteDense() {
	for name, h := range w.agg.Distinct {
		if h.Estimate() > denseHLLAfter {
			if w.denseHLL == nil {
				w.denseHLL = map[string]bool{}
			}
			w.denseHLL[name] = true
		}
	}
}

func putWorker(w *worker) {
	w.reset()
	if w.agg != nil {
		w.noteDense()
	}
	if p, ok := workerPools.Load(w.key); ok {
		w.agg, w.cfg = nil, nil
		p.(*sync.Pool).Put(w)
	}
}

// block parses the records of one decoded block; day is the block's UTC day,
// used for records without a timestamp.
func (w *worker) block(raw []byte, day int64, sink func(arrow.Record) error) error {
	for len(raw) > 0 {
		i := bytes.IndexByte(raw, '\n')
		var line []byte
		if i < 0 {
			line, raw = raw, nil
		} else {
			line, raw = raw[:i], raw[i+1:]
		}
		if len(line) == 0 {
			continue
		}
		w.record(line, day)
		if w.rows >= w.cfg.BatchRows {
			if err := w.flush(sink); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush cuts a record batch from the builders, aggregates it, hands it to
// sink, releases it and resets the builders.
func (w *worker) flush(sink func(arrow.Record) error) error {
	if w.rows > 0 && len(w.progs) > 0 {
		w.evalFilters()
	}
	if w.filtering {
		w.filter()
	}
	if w.rows == 0 {
		w.reset()
		return nil
	}
	own := sink != nil // a sink may keep arrays: give it its own memory
	arrs := make([]arrow.Array, 0, len(w.cols)+2)
	arrs = append(arrs, w.ts.array(tsType, own))
	for _, c := range w.cols {
		switch {
		case c.f64 != nil:
			arrs = append(arrs, c.f64.array(arrow.PrimitiveTypes.Float64, own))
		case c.dict != nil:
			arrs = append(arrs, c.dict.array(own))
		default:
			arrs = append(arrs, c.str.array(own))
		}
	}
	if w.raw != nil {
		arrs = append(arrs, w.raw.array(own))
	}
	rec := array.NewRecord(w.schema, arrs, int64(w.rows))
	for _, a := range arrs {
		a.Release()
	}
	w.aggregate(rec)
	w.aggregateAuto()
	var err error
	if sink != nil {
		err = sink(rec)
	}
	rec.Release()
	w.reset()
	return err
}

// filter evaluates the filter over the batch's filter columns, counts the
// matching records (by the block's day, for those without a timestamp) and
// compacts every builder to them, so that the batch, its aggregation and
// the sink see only matching rows.
func (w *worker) filter() {
	if w.rows == 0 {
		return
	}
	if cap(w.sel) < w.rows {
		w.sel = make([]bool, w.rows)
	}
	sel := w.sel[:w.rows]
	if w.where != nil {
		copy(sel, w.masks[0])
	} else {
		for i := range sel {
			sel[i] = true
		}
	}
	if w.from != math.MinInt64 || w.to != math.MaxInt64 {
		for i, v := range w.ts.vals {
			sel[i] = sel[i] && w.ts.valid.at(i) && v >= w.from && v < w.to
		}
	}
	n := 0
	for i, ok := range sel {
		if !ok {
			continue
		}
		n++
		if !w.ts.valid.at(i) {
			w.agg.day(w.rowDay[i]).Records++
		}
	}
	w.agg.Records += int64(n)
	if n == w.rows {
		return
	}
	w.rows = n
	w.ts.keep(sel)
	for _, c := range w.cols {
		c.keep(sel)
	}
	if w.raw != nil {
		w.raw.keep(sel)
	}
	for _, c := range w.autoCols {
		c.keep(sel)
	}
	for i, m := range w.masks {
		w.masks[i] = keep(m, sel)
	}
}

// reset empties the builders.
func (w *worker) reset() {
	w.rows = 0
	w.ts.reset()
	for _, c := range w.cols {
		c.reset()
	}
	if w.raw != nil {
		w.raw.reset()
	}
	for _, c := range w.fcols {
		c.reset()
	}
	for _, c := range w.autoCols {
		c.reset()
	}
	w.rowDay = w.rowDay[:0]
}
