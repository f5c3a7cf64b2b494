package report

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// Aggregation: a filtered batch's columns folded into the worker's
// aggregate (days and hours, metrics, top values, distinct counts).

// aggregate folds one record batch into the worker's aggregate, reading the
// Arrow arrays: Arrow Go has no group-by, so counts go through slices
// indexed by dictionary position and by hour.
func (w *worker) aggregate(rec arrow.Record) {
	ts := rec.Column(0).(*array.Timestamp)
	var lastDay int64 = -1 << 62
	var dc *DayCount
	for i, v := range ts.TimestampValues() {
		if ts.IsNull(i) {
			continue
		}
		sec := floorDiv(int64(v), 1e6)
		d := floorDiv(sec, 86400)
		if d != lastDay {
			dc, lastDay = w.agg.day(d), d
		}
		dc.Records++
		dc.Hours[(sec-d*86400)/3600]++
	}
	w.aggregateBreakdowns(rec)
	for ci, c := range w.cols {
		arr := rec.Column(ci + 1)
		switch {
		case c.metric:
			m := w.agg.Metrics[c.name]
			if m == nil { // read by breakdowns only
				continue
			}
			f := arr.(*array.Float64)
			for i, v := range f.Float64Values() {
				if f.IsValid(i) {
					m.Add(v)
				}
			}
		case c.dict != nil && (c.top || c.distinct):
			w.aggregateDict(c, arr.(*array.Dictionary))
		case c.distinct:
			s := arr.(*array.String)
			hll := w.agg.Distinct[c.name]
			for i := 0; i < s.Len(); i++ {
				if s.IsValid(i) {
					hll.Insert(s.ValueBytes()[s.ValueOffset(i):s.ValueOffset(i+1)])
				}
			}
		}
	}
}

// dictCounts counts a dictionary column's rows per dictionary entry, in
// the worker's reused slice.
func (w *worker) dictCounts(d *array.Dictionary) (*array.String, []int64) {
	dict := d.Dictionary().(*array.String)
	n := dict.Len()
	if cap(w.counts) < n {
		w.counts = make([]int64, n)
	}
	counts := w.counts[:n]
	clear(counts)
	idx := d.Indices().(*array.Int32)
	for i, k := range idx.Int32Values() {
		if idx.IsValid(i) {
			counts[k]++
		}
	}
	return dict, counts
}

func (w *worker) aggregateDict(c *column, d *array.Dictionary) {
	dict, counts := w.dictCounts(d)
	top := w.agg.Top[c.name]
	hll := w.agg.Distinct[c.name]
	for k, cnt := range counts {
		if cnt == 0 {
			continue
		}
		v := dict.ValueBytes()[dict.ValueOffset(k):dict.ValueOffset(k+1)]
		if top != nil {
			top.Add(v, cnt)
		}
		if c.distinct {
			hll.Insert(v)
		}
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
