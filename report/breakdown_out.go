package report

import (
	"encoding/csv"
	"fmt"
	"html/template"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/ingestd/ingestd/internal/failpoint"
)

// sparkColor draws the per-group sparklines of time breakdowns.
const sparkColor = "#0891b2"

// writeBreakdowns writes breakdown-<name>.csv and breakdown-<name>.parquet
// for each breakdown table: every group kept, one row per group (and time
// bucket).
func writeBreakdowns(dir string, s *Summary) error {
	for _, bt := range s.Breakdowns {
		if err := writeBreakdownCSV(filepath.Join(dir, "breakdown-"+bt.Name+".csv"), bt); err != nil {
			return fmt.Errorf("report: breakdown %s: %w", bt.Name, err)
		}
		if err := writeBreakdownParquet(filepath.Join(dir, "breakdown-"+bt.Name+".parquet"), bt); err != nil {
			return fmt.Errorf("report: breakdown %s: %w", bt.Name, err)
		}
	}
	return nil
}

// cellText prints a cell for CSV: empty for null, floats in full.
func cellText(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

func writeBreakdownCSV(path string, bt *BreakdownTable) error {
	return writeCSV(path, func(w *csv.Writer) {
		w.Write(bt.Columns)
		for _, row := range bt.Rows {
			rec := make([]string, len(row))
			for i, v := range row {
				rec[i] = cellText(v)
			}
			w.Write(rec)
		}
	})
}

// writeCSV creates (or truncates) path and writes the rows fill gives it;
// the first write error, the flush's or the close's is returned.
func writeCSV(path string, fill func(w *csv.Writer)) error {
	failpoint.Hit("report.writeCSV.openfile")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	fill(w)
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return fmt.Errorf("report: write %s: %w", path, err)
	}
	return f.Close()
}

// columnTypes says each column's Arrow type: strings for the time, the by
// fields and top lists, int64 for counts and distinct counts, float64 for
// the rest.
func (bt *BreakdownTable) columnTypes() []arrow.DataType {
	out := make([]arrow.DataType, len(bt.Columns))
	keys := len(bt.By)
	if bt.Time != "" {
		keys++
	}
	for i, c := range bt.Columns {
		switch {
		case i < keys || strings.HasPrefix(c, "top("):
			out[i] = arrow.BinaryTypes.String
		case c == "count" || strings.HasPrefix(c, "distinct("):
			out[i] = arrow.PrimitiveTypes.Int64
		default:
			out[i] = arrow.PrimitiveTypes.Float64
		}
	}
	return out
}

func writeBreakdownParquet(path string, bt *BreakdownTable) error {
	types := bt.columnTypes()
	fields := make([]arrow.Field, len(types))
	for i, t := range types {
		fields[i] = arrow.Field{Name: bt.Columns[i], Type: t, Nullable: true}
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(fields, nil))
	defer b.Release()
	for _, row := range bt.Rows {
		for i, v := range row {
			switch fb := b.Field(i).(type) {
			case *array.StringBuilder:
				if s, ok := v.(string); ok {
					fb.Append(s)
				} else {
					fb.AppendNull()
				}
			case *array.Int64Builder:
				if n, ok := v.(int64); ok {
					fb.Append(n)
				} else {
					fb.AppendNull()
				}
			case *array.Float64Builder:
				if f, ok := v.(float64); ok {
					fb.Append(f)
				} else {
					fb.AppendNull()
				}
			}
		}
	}
	rec := b.NewRecord()
	defer rec.Release()
	return writeParquet(path, rec)
}

// htmlBreakdown is one breakdown as the page shows it.
type htmlBreakdown struct {
	Name, Title, Note string
	Columns           []string
	Rows              [][]htmlCell
	More              int // groups not shown
}

// htmlCell is one table cell; Bar (0..1) draws a bar behind a count, Spark a
// sparkline.
type htmlCell struct {
	Text  string
	Num   bool
	Bar   float64
	Spark template.HTML
}

// htmlBreakdowns prepares the breakdowns for the page: the Limit largest
// groups; with time, one row per group over the whole period with a
// sparkline of its records per day or hour.
func htmlBreakdowns(s *Summary) []htmlBreakdown {
	var out []htmlBreakdown
	for _, bt := range s.Breakdowns {
		hb := htmlBreakdown{Name: bt.Name, Title: bt.Name}
		var parts []string
		if len(bt.By) > 0 {
			parts = append(parts, "by "+strings.Join(bt.By, ", "))
		}
		if bt.Time != "" {
			parts = append(parts, "per "+bt.Time)
		}
		if bt.Where != "" {
			parts = append(parts, "where "+bt.Where)
		}
		hb.Note = strings.Join(parts, " · ") + fmt.Sprintf(" · %s records, %s groups", commas(bt.Records), commas(bt.Groups))
		if !bt.Exact {
			hb.Note += fmt.Sprintf(" · more groups than its capacity: counts are estimates, each at most %s too high, and a group not listed had at most %s records",
				commas(bt.ErrorBound), commas(bt.ErrorBound))
		}
		if bt.Time == "" {
			hb.Columns = bt.Columns
			hb.Rows, hb.More = plainRows(bt)
		} else {
			hb.Columns, hb.Rows, hb.More = timeRows(bt)
		}
		out = append(out, hb)
	}
	return out
}

func plainRows(bt *BreakdownTable) ([][]htmlCell, int) {
	rows := bt.Rows
	more := 0
	if len(rows) > bt.Limit {
		more, rows = len(rows)-bt.Limit, rows[:bt.Limit]
	}
	countCol := slicesIndex(bt.Columns, "count")
	var maxN int64
	for _, r := range rows {
		if countCol >= 0 {
			maxN = max(maxN, r[countCol].(int64))
		}
	}
	var out [][]htmlCell
	for _, r := range rows {
		cells := make([]htmlCell, len(r))
		for i, v := range r {
			cells[i] = htmlCellOf(bt.Columns[i], v, i < len(bt.By))
			if i == countCol && maxN > 0 {
				cells[i].Bar = float64(v.(int64)) / float64(maxN)
			}
		}
		out = append(out, cells)
	}
	return out, more
}

// timeRows sums each group over the time buckets: its values, its records
// and a sparkline; the other statistics are per bucket, in the files.
func timeRows(bt *BreakdownTable) ([]string, [][]htmlCell, int) {
	countCol := slicesIndex(bt.Columns, "count")
	type agg struct {
		vals  []any
		total int64
		per   map[string]int64
	}
	groups := map[string]*agg{}
	var buckets []string
	seen := map[string]bool{}
	for _, r := range bt.Rows {
		b, _ := r[0].(string)
		if b != "" && !seen[b] {
			seen[b] = true
			buckets = append(buckets, b)
		}
		var vals []*string
		for _, v := range r[1 : 1+len(bt.By)] {
			vals = append(vals, strPtr(v))
		}
		key := groupKey(vals, noBucket)
		g := groups[key]
		if g == nil {
			g = &agg{vals: r[1 : 1+len(bt.By)], per: map[string]int64{}}
			groups[key] = g
		}
		if countCol >= 0 {
			n := r[countCol].(int64)
			g.total += n
			g.per[b] += n
		}
	}
	sort.Strings(buckets)
	list := make([]*agg, 0, len(groups))
	for _, g := range groups {
		list = append(list, g)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].total != list[j].total {
			return list[i].total > list[j].total
		}
		return fmt.Sprint(list[i].vals...) < fmt.Sprint(list[j].vals...)
	})
	more := 0
	if len(list) > bt.Limit {
		more, list = len(list)-bt.Limit, list[:bt.Limit]
	}
	cols := append(append([]string{}, bt.By...), "records", "per "+bt.Time)
	var out [][]htmlCell
	for _, g := range list {
		var cells []htmlCell
		for _, v := range g.vals {
			cells = append(cells, htmlCellOf("", v, true))
		}
		cells = append(cells, htmlCell{Text: commas(g.total), Num: true})
		cells = append(cells, htmlCell{Spark: sparkline(buckets, g.per)})
		out = append(out, cells)
	}
	return cols, out, more
}

// sparkline draws a group's records per bucket, every bucket of the table
// in order.
func sparkline(buckets []string, per map[string]int64) template.HTML {
	const W, H = 160, 24
	var maxN int64
	for _, n := range per {
		maxN = max(maxN, n)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="spark" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`, W, H, W, H)
	if maxN > 0 && len(buckets) > 0 {
		slot := float64(W) / float64(len(buckets))
		for i, k := range buckets {
			if n := per[k]; n > 0 {
				h := math.Max(1, float64(H-2)*float64(n)/float64(maxN))
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %s</title></rect>`,
					slot*float64(i), float64(H)-h, math.Max(1, slot*0.8), h, sparkColor, k, commas(n))
			}
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func htmlCellOf(col string, v any, key bool) htmlCell {
	switch v := v.(type) {
	case nil:
		if key {
			return htmlCell{Text: "(missing)"}
		}
		return htmlCell{Text: "–", Num: true}
	case string:
		return htmlCell{Text: v}
	case int64:
		return htmlCell{Text: commas(v), Num: true}
	case float64:
		if col == "share" || strings.HasPrefix(col, "rate(") {
			return htmlCell{Text: fmt.Sprintf("%.1f %%", 100*v), Num: true}
		}
		return htmlCell{Text: fnum(&v), Num: true}
	}
	return htmlCell{Text: fmt.Sprint(v)}
}

func slicesIndex(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}
