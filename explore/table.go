package explore

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/ingestd/ingestd/internal/jsonx"
	"github.com/ingestd/ingestd/report"
)

// cell formats a table cell: null for a missing value; floats in a table
// with at most three decimals (or four significant digits when tiny or
// huge), in full otherwise.
func cell(v any, short bool) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		a := math.Abs(v)
		switch {
		case !short:
			return strconv.FormatFloat(v, 'g', -1, 64)
		case v == math.Trunc(v) && a < 1e15:
			return strconv.FormatFloat(v, 'f', 0, 64)
		case a >= 0.01 && a < 1e15: // three decimals, without trailing zeros
			return strings.TrimRight(strings.TrimRight(strconv.FormatFloat(v, 'f', 3, 64), "0"), ".")
		}
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
	return fmt.Sprint(v)
}

// WriteTable writes a grouped answer as `ingestd query` prints it: format
// "csv" (a header row first), "json" (an array of objects, members in the
// table's order), "ndjson" (an object a line) or "table" (aligned columns, statistics right).
func WriteTable(w io.Writer, t *report.Table, format string) error {
	switch format {
	case "csv":
		c := csv.NewWriter(w)
		c.Write(t.Columns)
		for _, r := range t.Rows {
			rec := make([]string, len(r))
			for i, v := range r {
				rec[i] = cell(v, false)
				if v == nil {
					rec[i] = ""
				}
			}
			c.Write(rec)
		}
		c.Flush()
		return c.Error()
	case "json", "ndjson":
		for i, r := range t.Rows {
			// Members in the table's order: the group fields, then the
			// statistics.
			b := []byte{'{'}
			for j, v := range r {
				if j > 0 {
					b = append(b, ',')
				}
				b = append(jsonx.AppendString(b, t.Columns[j]), ':')
				vb, err := json.Marshal(v)
				if err != nil {
					return err
				}
				b = append(b, vb...)
			}
			b = append(b, '}')
			switch {
			case format == "ndjson":
			case i == 0:
				io.WriteString(w, "[\n")
			default:
				io.WriteString(w, ",\n")
			}
			w.Write(b)
			if format == "ndjson" {
				io.WriteString(w, "\n")
			}
		}
		if format == "json" {
			if len(t.Rows) == 0 {
				io.WriteString(w, "[")
			}
			io.WriteString(w, "\n]\n")
		}
		return nil
	}
	width := make([]int, len(t.Columns))
	for i, c := range t.Columns {
		width[i] = len([]rune(c))
	}
	for _, r := range t.Rows {
		for i, v := range r {
			width[i] = max(width[i], len([]rune(cell(v, true))))
		}
	}
	line := func(vals []string, numeric func(int) bool) {
		for i, v := range vals {
			pad := strings.Repeat(" ", width[i]-len([]rune(v)))
			if i > 0 {
				io.WriteString(w, "  ")
			}
			if numeric(i) {
				io.WriteString(w, pad+v)
			} else if i < len(vals)-1 {
				io.WriteString(w, v+pad)
			} else {
				io.WriteString(w, v)
			}
		}
		io.WriteString(w, "\n")
	}
	stat := func(i int) bool { return i >= t.By } // statistics align right
	line(t.Columns, stat)
	for _, r := range t.Rows {
		vals := make([]string, len(r))
		for i, v := range r {
			vals[i] = cell(v, true)
		}
		line(vals, stat)
	}
	return nil
}
