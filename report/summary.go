package report

import (
	"encoding/csv"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/ingestd/ingestd/internal/utcday"
)

// Summary is summary.json: the month's report as data.
type Summary struct {
	Month       string                   `json:"month"` // YYYY-MM, or a range's name (RangeName)
	From        string                   `json:"from"`  // the first day
	To          string                   `json:"to"`    // the last day (included)
	Generated   time.Time                `json:"generated"`
	Records     int64                    `json:"records"`
	Days        []DaySummary             `json:"days"`
	Top         map[string][]TopValue    `json:"top"`
	TopExact    map[string]bool          `json:"top_exact"` // false: counts are Space-Saving estimates with error bounds
	Metrics     map[string]MetricSummary `json:"metrics"`
	Distinct    map[string]uint64        `json:"distinct"`
	HourWeekday [7][24]int64             `json:"hour_weekday"` // [Sunday..Saturday][UTC hour]
	Fields      []FieldSummary           `json:"fields"`
	Quality     Quality                  `json:"data_quality"`
	Rejected    map[string]int64         `json:"rejected_at_intake"` // lines intake rejected in the month, by reason, among those still kept in the rejected store; null when not known (a report from a bucket)
	Sources     Sources                  `json:"sources"`
	Errors      map[string]float64       `json:"error_bounds"`
	Config      map[string]any           `json:"config"`
	Compared    *Comparison              `json:"compared"` // with the previous period, when its report is there; else null
	Breakdowns  []*BreakdownTable        `json:"breakdowns"`
	Auto        *Choice                  `json:"auto"` // the fields a zero-config report chose (dimensions, metrics and distinct not configured); else null
	hours       map[string]*[24]int64    // for hourly.parquet
}

// DaySummary is one day's count.
type DaySummary struct {
	Date    string `json:"date"`
	Records int64  `json:"records"`
}

// MetricSummary describes one metric over the month. Values are null when
// the metric was never seen.
type MetricSummary struct {
	Count int64    `json:"count"`
	Min   *float64 `json:"min"`
	Max   *float64 `json:"max"`
	Sum   float64  `json:"sum"`
	Mean  *float64 `json:"mean"`
	P50   *float64 `json:"p50"`
	P90   *float64 `json:"p90"`
	P99   *float64 `json:"p99"`
}

// FieldSummary is one path of the field inventory.
type FieldSummary struct {
	Path    string   `json:"path"`
	Records int64    `json:"records"`
	Types   []string `json:"types"`
}

// Sources says how the month was computed.
type Sources struct {
	DaysFromPartials int `json:"days_from_partials"`
	DaysScanned      int `json:"days_scanned"`
}

func num(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func summarizeMetric(m *Metric) MetricSummary {
	s := MetricSummary{Count: m.Count, Sum: m.Sum}
	if m.Count > 0 {
		s.Min, s.Max, s.Mean = num(m.Min), num(m.Max), num(m.Mean())
		s.P50, s.P90, s.P99 = num(m.Quantile(0.5)), num(m.Quantile(0.9)), num(m.Quantile(0.99))
	}
	return s
}

func typeNames(t uint8) []string {
	var out []string
	for i, n := range TypeNames {
		if t&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// summarize builds the summary of a month (or range) named name from its
// merged aggregate.
func summarize(name string, a *Agg, cfg Config) *Summary {
	s := &Summary{
		Month: name, Generated: time.Now().UTC().Truncate(time.Second), Records: a.Records,
		Days: []DaySummary{}, Top: map[string][]TopValue{}, TopExact: map[string]bool{}, Metrics: map[string]MetricSummary{},
		Distinct: map[string]uint64{}, HourWeekday: a.Weekdays(), Fields: []FieldSummary{}, Quality: a.Quality,
		Errors: map[string]float64{"quantile_relative": QuantileError, "distinct_standard": DistinctError},
		Config: map[string]any{"dimensions": cfg.Dimensions, "metrics": cfg.Metrics, "distinct": cfg.Distinct, "top_n": cfg.TopN, "where": cfg.Where},
		hours:  map[string]*[24]int64{}, Breakdowns: []*BreakdownTable{},
	}
	if cfg.Auto {
		s.Auto = &Choice{Dimensions: cfg.Dimensions, Metrics: cfg.Metrics, Distinct: cfg.Distinct}
	}
	for _, b := range cfg.Breakdowns {
		if t := a.Breakdowns[b.Name]; t != nil {
			s.Breakdowns = append(s.Breakdowns, t.Table(b))
		}
	}
	for _, d := range a.DayList() {
		c := a.Days[d]
		s.Days = append(s.Days, DaySummary{Date: utcday.Name(d), Records: c.Records})
		h := c.Hours
		s.hours[utcday.Name(d)] = &h
	}
	for _, d := range cfg.Dimensions {
		if t := a.Top[d]; t != nil {
			s.Top[d] = t.Top(cfg.TopN)
			s.TopExact[d] = t.Exact
		}
	}
	for _, m := range cfg.Metrics {
		if x := a.Metrics[m]; x != nil {
			s.Metrics[m] = summarizeMetric(x)
		}
	}
	for _, d := range cfg.Distinct {
		if h := a.Distinct[d]; h != nil {
			s.Distinct[d] = distinctEstimate(h, a.valuesAtMost(d))
		}
	}
	for p, f := range a.Fields {
		s.Fields = append(s.Fields, FieldSummary{Path: p, Records: f.Records, Types: typeNames(f.Types)})
	}
	sort.Slice(s.Fields, func(i, j int) bool {
		if s.Fields[i].Records != s.Fields[j].Records {
			return s.Fields[i].Records > s.Fields[j].Records
		}
		return s.Fields[i].Path < s.Fields[j].Path
	})
	return s
}

// writeDailyCSV writes daily.csv: date, records, and per metric its mean and
// p99 that day (from the day's own aggregate).
func writeDailyCSV(path string, s *Summary, days map[string]*Agg, cfg Config) error {
	fmtF := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'g', 6, 64)
	}
	return writeCSV(path, func(w *csv.Writer) {
		head := []string{"date", "records"}
		for _, m := range cfg.Metrics {
			head = append(head, m+"_mean", m+"_p99")
		}
		w.Write(head)
		for _, d := range s.Days {
			row := []string{d.Date, strconv.FormatInt(d.Records, 10)}
			for _, m := range cfg.Metrics {
				mean, p99 := math.NaN(), math.NaN()
				if a := days[d.Date]; a != nil && a.Metrics[m] != nil {
					mean, p99 = a.Metrics[m].Mean(), a.Metrics[m].Quantile(0.99)
				}
				row = append(row, fmtF(mean), fmtF(p99))
			}
			w.Write(row)
		}
	})
}

// writeTables writes the aggregates as Parquet tables: daily, hourly, top,
// metrics and fields.
func writeTables(dir string, s *Summary, cfg Config) error {
	mem := memory.DefaultAllocator
	build := func(name string, fields []arrow.Field, fill func(b *array.RecordBuilder)) error {
		b := array.NewRecordBuilder(mem, arrow.NewSchema(fields, nil))
		defer b.Release()
		fill(b)
		rec := b.NewRecord()
		defer rec.Release()
		return writeParquet(filepath.Join(dir, name), rec)
	}
	date := arrow.FixedWidthTypes.Date32
	toDate := func(d string) arrow.Date32 {
		t, _ := time.Parse(time.DateOnly, d)
		return arrow.Date32FromTime(t)
	}
	err := build("daily.parquet", []arrow.Field{{Name: "date", Type: date}, {Name: "records", Type: arrow.PrimitiveTypes.Int64}},
		func(b *array.RecordBuilder) {
			for _, d := range s.Days {
				b.Field(0).(*array.Date32Builder).Append(toDate(d.Date))
				b.Field(1).(*array.Int64Builder).Append(d.Records)
			}
		})
	if err != nil {
		return err
	}
	err = build("hourly.parquet", []arrow.Field{{Name: "date", Type: date}, {Name: "hour", Type: arrow.PrimitiveTypes.Int8},
		{Name: "records", Type: arrow.PrimitiveTypes.Int64}}, func(b *array.RecordBuilder) {
		for _, d := range s.Days {
			for h, n := range s.hours[d.Date] {
				b.Field(0).(*array.Date32Builder).Append(toDate(d.Date))
				b.Field(1).(*array.Int8Builder).Append(int8(h))
				b.Field(2).(*array.Int64Builder).Append(n)
			}
		}
	})
	if err != nil {
		return err
	}
	err = build("top.parquet", []arrow.Field{{Name: "dimension", Type: arrow.BinaryTypes.String}, {Name: "rank", Type: arrow.PrimitiveTypes.Int32},
		{Name: "value", Type: arrow.BinaryTypes.String}, {Name: "records", Type: arrow.PrimitiveTypes.Int64},
		{Name: "error", Type: arrow.PrimitiveTypes.Int64}}, func(b *array.RecordBuilder) {
		for _, dim := range cfg.Dimensions {
			for i, v := range s.Top[dim] {
				b.Field(0).(*array.StringBuilder).Append(dim)
				b.Field(1).(*array.Int32Builder).Append(int32(i + 1))
				b.Field(2).(*array.StringBuilder).Append(v.Value)
				b.Field(3).(*array.Int64Builder).Append(v.Count)
				b.Field(4).(*array.Int64Builder).Append(v.Err)
			}
		}
	})
	if err != nil {
		return err
	}
	f64 := arrow.PrimitiveTypes.Float64
	err = build("metrics.parquet", []arrow.Field{{Name: "metric", Type: arrow.BinaryTypes.String}, {Name: "count", Type: arrow.PrimitiveTypes.Int64},
		{Name: "min", Type: f64, Nullable: true}, {Name: "max", Type: f64, Nullable: true}, {Name: "sum", Type: f64},
		{Name: "mean", Type: f64, Nullable: true}, {Name: "p50", Type: f64, Nullable: true}, {Name: "p90", Type: f64, Nullable: true},
		{Name: "p99", Type: f64, Nullable: true}}, func(b *array.RecordBuilder) {
		for _, name := range cfg.Metrics {
			m := s.Metrics[name]
			b.Field(0).(*array.StringBuilder).Append(name)
			b.Field(1).(*array.Int64Builder).Append(m.Count)
			for i, v := range []*float64{m.Min, m.Max, &m.Sum, m.Mean, m.P50, m.P90, m.P99} {
				if v == nil {
					b.Field(2 + i).(*array.Float64Builder).AppendNull()
				} else {
					b.Field(2 + i).(*array.Float64Builder).Append(*v)
				}
			}
		}
	})
	if err != nil {
		return err
	}
	return build("fields.parquet", []arrow.Field{{Name: "path", Type: arrow.BinaryTypes.String}, {Name: "records", Type: arrow.PrimitiveTypes.Int64},
		{Name: "types", Type: arrow.BinaryTypes.String}}, func(b *array.RecordBuilder) {
		for _, f := range s.Fields {
			b.Field(0).(*array.StringBuilder).Append(f.Path)
			b.Field(1).(*array.Int64Builder).Append(f.Records)
			t := ""
			for i, n := range f.Types {
				if i > 0 {
					t += ","
				}
				t += n
			}
			b.Field(2).(*array.StringBuilder).Append(t)
		}
	})
}
