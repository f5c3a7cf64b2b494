package report

import (
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/ingestd/ingestd/report/filter"
)

// program is one compiled filter of a worker and the filter columns it
// reads, by its paths.
type program struct {
	prog  *filter.Program
	cols  []int
	dicts []*array.Dictionary
}

// addProgram compiles a validated filter, giving each of its paths a filter
// column (shared by every program that reads the path).
func (w *worker) addProgram(expr string) *program {
	e, _ := filter.Parse(expr) // validated with the config
	p := &program{prog: filter.Compile(e)}
	for _, path := range p.prog.Paths() {
		s := w.slotFor(path.Key())
		if s.fcol < 0 {
			s.fcol = len(w.fcols)
			w.fcols = append(w.fcols, &column{dict: &dictCol{index: map[string]int32{}}})
		}
		p.cols = append(p.cols, s.fcol)
	}
	p.dicts = make([]*array.Dictionary, len(p.cols))
	w.progs = append(w.progs, p)
	w.masks = append(w.masks, nil)
	return p
}

// evalFilters evaluates every program over the batch into w.masks.
func (w *worker) evalFilters() {
	dicts := make([]*array.Dictionary, len(w.fcols))
	for i, c := range w.fcols {
		dicts[i] = c.dict.array(false).(*array.Dictionary)
	}
	for k, p := range w.progs {
		for j, ci := range p.cols {
			p.dicts[j] = dicts[ci]
		}
		if cap(w.masks[k]) < w.rows {
			w.masks[k] = make([]bool, w.rows)
		}
		w.masks[k] = w.masks[k][:w.rows]
		p.prog.Eval(p.dicts, w.rows, w.masks[k])
		clear(p.dicts)
	}
	for _, d := range dicts {
		d.Release()
	}
}

// maxBatchGroups is how many groups a breakdown may hold within a batch
// before it prunes to its capacity (at least twice that).
const maxBatchGroups = 4096

// bdRun is a breakdown as a worker computes it: the typed columns it reads
// (positions among w.cols) and its programs (positions among w.progs).
type bdRun struct {
	def   Breakdown
	by    []int
	where int // -1: every row
	stats []int
	unit  int64 // time bucket in seconds, 0 for none
	local map[[3]int64]*groupStats
	vals  []*string
}

func (w *worker) addBreakdowns(cfg *Config) {
	if len(cfg.Breakdowns) == 0 {
		return
	}
	idx := columnIndex(columnsOf(*cfg))
	for _, b := range cfg.Breakdowns {
		b = b.withDefaults()
		r := &bdRun{def: b, where: -1, local: map[[3]int64]*groupStats{}}
		for _, p := range b.By {
			r.by = append(r.by, idx[colKey{p, false}])
		}
		if b.Where != "" {
			w.addProgram(b.Where)
			r.where = len(w.progs) - 1
		}
		for _, st := range b.Stats {
			switch {
			case st.metric():
				r.stats = append(r.stats, idx[colKey{st.Path, true}])
			case st.Fn == "distinct", st.Fn == "top":
				r.stats = append(r.stats, idx[colKey{st.Path, false}])
			case st.Fn == "rate":
				w.addProgram(st.Path)
				r.stats = append(r.stats, len(w.progs)-1)
			default:
				r.stats = append(r.stats, -1)
			}
		}
		switch b.Time {
		case "day":
			r.unit = 86400
		case "hour":
			r.unit = 3600
		}
		w.bds = append(w.bds, r)
	}
}

// aggregateBreakdowns folds one (filtered) batch into every breakdown: rows
// are grouped by the dictionary indices of the by columns and the time
// bucket first, so a group's values are read once per batch.
func (w *worker) aggregateBreakdowns(rec arrow.Record) {
	if len(w.bds) == 0 {
		return
	}
	ts := rec.Column(0).(*array.Timestamp)
	n := int(rec.NumRows())
	for _, r := range w.bds {
		t := w.agg.Breakdowns[r.def.Name]
		var mask []bool
		if r.where >= 0 {
			mask = w.masks[r.where]
		}
		dicts := make([]*array.Dictionary, len(r.by))
		for j, ci := range r.by {
			dicts[j] = rec.Column(ci + 1).(*array.Dictionary)
		}
		clear(r.local)
		for i := 0; i < n; i++ {
			if mask != nil && !mask[i] {
				continue
			}
			k := [3]int64{-1, -1, noBucket}
			for j, d := range dicts {
				if d.IsValid(i) {
					k[j] = int64(d.GetValueIndex(i))
				}
			}
			if r.unit > 0 && ts.IsValid(i) {
				k[2] = floorDiv(floorDiv(int64(ts.Value(i)), 1e6), r.unit) * r.unit
			}
			g := r.local[k]
			if g == nil {
				vals := make([]*string, len(dicts))
				for j, d := range dicts {
					if k[j] >= 0 {
						v := strings.Clone(d.Dictionary().(*array.String).Value(int(k[j]))) // the batch's memory is reused
						vals[j] = &v
					}
				}
				g = t.group(vals, k[2])
				r.local[k] = g
				if t.Len() > max(2*t.Cap, maxBatchGroups) { // bound the groups (and their sketches) within a batch too
					t.prune()
					clear(r.local) // dropped groups come back through t.group
					g = t.group(vals, k[2])
					r.local[k] = g
				}
			}
			g.Count++
			t.Total++
			w.addGroupStats(r, rec, g, i)
		}
		t.prune()
	}
}

// addGroupStats adds row i to the statistics of its group.
func (w *worker) addGroupStats(r *bdRun, rec arrow.Record, g *groupStats, i int) {
	mi, hi, ti, ri := 0, 0, 0, 0
	for si, st := range r.def.Stats {
		c := r.stats[si]
		switch {
		case st.metric():
			if f := rec.Column(c + 1).(*array.Float64); f.IsValid(i) {
				g.Metrics[mi].Add(f.Value(i))
			}
			mi++
		case st.Fn == "distinct":
			if v, ok := bytesAt(rec.Column(c+1), i); ok {
				g.HLLs[hi].Insert(v)
			}
			hi++
		case st.Fn == "top":
			if v, ok := bytesAt(rec.Column(c+1), i); ok {
				g.Tops[ti].Add(v, 1)
			}
			ti++
		case st.Fn == "rate":
			if w.masks[c][i] {
				g.Matches[ri]++
			}
			ri++
		}
	}
}

// bytesAt is row i of a string or dictionary column, without a copy.
func bytesAt(a arrow.Array, i int) ([]byte, bool) {
	if !a.IsValid(i) {
		return nil, false
	}
	switch a := a.(type) {
	case *array.String:
		return a.ValueBytes()[a.ValueOffset(i):a.ValueOffset(i+1)], true
	case *array.Dictionary:
		d, k := a.Dictionary().(*array.String), a.GetValueIndex(i)
		return d.ValueBytes()[d.ValueOffset(k):d.ValueOffset(k+1)], true
	}
	return nil, false
}
