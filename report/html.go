package report

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ingestd/ingestd/report/filter"
)

// Chart colours; the screenshot test looks for them.
const (
	barColor  = "#2563eb" // records per day
	heatColor = "#dc2626" // the busiest hour × weekday cell
)

var pageTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"commas": commas,
	"fnum":   fnum,
	"plural": plural,
	"join":   func(s []string) string { return strings.Join(s, ", ") },
	"mul":    func(a, b float64) float64 { return a * b },
	"pct": func(v *float64) string { // a change as a signed percentage
		if *v > 0 {
			return "+" + strconv.FormatFloat(*v*100, 'f', 1, 64) + " %"
		}
		return strconv.FormatFloat(*v*100, 'f', 1, 64) + " %"
	},
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ingestd report {{.S.Month}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1000px;color:#0f172a;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #e2e8f0;padding-bottom:4px}
.muted{color:#64748b}.totals{display:flex;gap:24px;flex-wrap:wrap;margin:16px 0}
.totals div{background:#f8fafc;border:1px solid #e2e8f0;border-radius:6px;padding:8px 14px}
.totals b{display:block;font-size:20px}
table{border-collapse:collapse;margin:6px 0 12px}td,th{padding:3px 10px;text-align:left;border-bottom:1px solid #f1f5f9}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}.grid{display:flex;flex-wrap:wrap;gap:28px}
svg text{font:11px system-ui,sans-serif;fill:#475569}
.hint{background:#fffbeb;border:1px solid #fcd34d;border-radius:6px;padding:8px 12px}
h3{font-size:14px;margin:18px 0 2px}.bar{display:inline-block;height:10px;background:#93c5fd;margin-right:6px;vertical-align:middle}
code{font:12px ui-monospace,monospace;background:#f1f5f9;padding:1px 4px;border-radius:3px}
</style></head><body>
<h1>ingestd report — {{.S.Month}}</h1>
<div class="muted">generated {{.S.Generated.Format "2006-01-02 15:04 MST"}} · {{.S.Sources.DaysFromPartials}} {{plural .S.Sources.DaysFromPartials "day" "days"}} from daily partials, {{.S.Sources.DaysScanned}} scanned</div>
{{with index .S.Config "where"}}{{if .}}<p>Only the records matching <code>{{.}}</code> are counted (the field inventory and data quality cover every record read).</p>{{end}}{{end}}
<div class="totals">
<div>records<b>{{commas .S.Records}}</b></div>
<div>days with data<b>{{len .S.Days}}</b></div>
{{range $k, $v := .S.Distinct}}<div>distinct {{$k}}<b>≈ {{commas $v}}</b></div>{{end}}
{{if .S.Rejected}}<div>rejected at intake<b>{{commas .RejectedTotal}}</b></div>{{end}}
</div>
{{with .S.Compared}}<h2 id="compared">Compared with {{.Previous}}</h2>
<p>{{commas .Records}} records then{{if .Change}}; the change: {{pct .Change}}{{end}}.{{if .NewFields}} New fields: <code>{{join .NewFields}}</code>.{{end}}{{if .GoneFields}} Vanished fields: <code>{{join .GoneFields}}</code>.{{end}}</p>
{{if .Top}}<div class="grid">{{range $dim, $list := .Top}}<div><table><tr><th>{{$dim}}: rose or fell most</th><th class="n">now</th><th class="n">before</th><th class="n">change</th></tr>
{{range $list}}<tr><td>{{.Value}}</td><td class="n">{{commas .Now}}</td><td class="n">{{commas .Before}}</td><td class="n">{{if gt .Delta 0}}+{{end}}{{commas .Delta}}</td></tr>{{end}}
</table></div>{{end}}</div>{{end}}
{{range $dim, $vals := .NewValues}}<p>New {{$dim}} values: <code>{{join $vals}}</code></p>{{end}}
{{if .Metrics}}<table><tr><th>metric</th><th class="n">p50 now</th><th class="n">p50 before</th><th class="n">p99 now</th><th class="n">p99 before</th></tr>
{{range $m, $c := .Metrics}}<tr><td>{{$m}}</td><td class="n">{{fnum $c.P50}}</td><td class="n">{{fnum $c.P50Before}}</td><td class="n">{{fnum $c.P99}}</td><td class="n">{{fnum $c.P99Before}}</td></tr>{{end}}
</table>{{end}}
{{if .Approximate}}<div class="muted">Values beyond either period's top list (or estimated) count as 0 there.</div>{{end}}
{{end}}
<h2>Records per day</h2>
{{.DayChart}}
<h2>Records by hour (UTC) and weekday</h2>
{{.Heatmap}}
<h2>Top values</h2>
{{if .Hint}}<p class="hint">{{.Hint}}</p>{{end}}
{{with .S.Auto}}<p class="muted" id="auto">Chosen from the data, as the config names no fields (<code>report.dimensions</code>, <code>metrics</code>, <code>distinct</code>): {{$.AutoNote}}. Name fields there to choose others.</p>{{end}}
<div class="grid">
{{range .Dims}}<div><table><tr><th>{{.Name}}{{if not .Exact}} <span class="muted">(estimated)</span>{{end}}</th><th class="n">records</th><th class="n">share</th></tr>
{{range .Values}}<tr><td>{{if .Link}}<a href="{{.Link}}" title="these records in the explorer">{{.Value}}</a>{{else}}{{.Value}}{{end}}</td><td class="n">{{commas .Count}}</td><td class="n">{{.Share}}</td></tr>{{else}}<tr><td colspan="3" class="muted">no values</td></tr>{{end}}
</table></div>
{{end}}</div>
<h2>Metrics</h2>
<table><tr><th>metric</th><th class="n">count</th><th class="n">min</th><th class="n">mean</th><th class="n">p50</th><th class="n">p90</th><th class="n">p99</th><th class="n">max</th></tr>
{{range .Metrics}}<tr><td>{{.Name}}</td><td class="n">{{commas .M.Count}}</td><td class="n">{{fnum .M.Min}}</td><td class="n">{{fnum .M.Mean}}</td><td class="n">{{fnum .M.P50}}</td><td class="n">{{fnum .M.P90}}</td><td class="n">{{fnum .M.P99}}</td><td class="n">{{fnum .M.Max}}</td></tr>
{{end}}</table>
<div class="muted">Quantiles within {{.QErr}} % relative error (DDSketch); distinct counts within ≈ {{.DErr}} % (HyperLogLog standard error).</div>
{{if .Breakdowns}}<h2>Breakdowns</h2>
{{range .Breakdowns}}<h3 id="breakdown-{{.Name}}">{{.Title}}</h3><div class="muted">{{.Note}} · all groups: <a href="breakdown-{{.Name}}.csv">CSV</a>, <a href="breakdown-{{.Name}}.parquet">Parquet</a></div>
<table class="breakdown"><tr>{{range .Columns}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td{{if .Num}} class="n"{{end}}>{{if .Spark}}{{.Spark}}{{else}}{{if gt .Bar 0.0}}<span class="bar" style="width:{{printf "%.0f" (mul .Bar 80)}}px"></span>{{end}}{{.Text}}{{end}}</td>{{end}}</tr>
{{else}}<tr><td class="muted">no records matched</td></tr>{{end}}</table>
{{if .More}}<div class="muted">and {{commas .More}} more groups (in the files)</div>{{end}}
{{end}}{{end}}<h2>Field inventory</h2>
<table><tr><th>path</th><th class="n">records</th><th>JSON types</th></tr>
{{range .Fields}}<tr><td>{{.Path}}</td><td class="n">{{commas .Records}}</td><td>{{join .Types}}{{if gt (len .Types) 1}} <b>(drift)</b>{{end}}</td></tr>
{{end}}</table>
{{if .MoreFields}}<div class="muted">and {{.MoreFields}} more paths (summary.json lists them all)</div>{{end}}
<h2>Data quality</h2>
<table>
<tr><td>stored lines that are not a JSON object (damage: <code>ingestd verify</code>)</td><td class="n">{{commas .S.Quality.BadLines}}</td></tr>
<tr><td>records without a readable timestamp</td><td class="n">{{commas .S.Quality.NoTimestamp}}</td></tr>
{{range $k, $v := .S.Quality.TypeMismatch}}<tr><td>{{$k}}: values of another type (counted as missing)</td><td class="n">{{commas $v}}</td></tr>{{end}}
<tr><td>field occurrences beyond the inventory's path limit</td><td class="n">{{commas .S.Quality.FieldsOverflow}}</td></tr>
<tr><td>files still being written when the report ran (read up to that moment: records that reached them later are not counted)</td><td class="n">{{commas .S.Quality.OpenParts}}</td></tr>
</table>
<h2>Rejected at intake</h2>
{{if not .S.Rejected}}{{if .RejectedKnown}}<p>No line was rejected in {{.S.Month}}.</p>{{else}}<p class="muted">Not known: this report was not made beside the daemon's data directory (its <code>rejected/</code> folder is not shipped).</p>{{end}}{{else}}
<p>Lines received in {{.S.Month}} that requests sent with <code>?invalid=skip</code> had refused, by reason, among those still kept in the data directory's <code>rejected/</code> folder (<code>ingestd replay-rejected --list</code> shows them; fixed, they can be sent again). They are not in the counts above.</p>
<table><tr><th>reason</th><th class="n">lines</th></tr>
{{range .RejectedRows}}<tr><td>{{.Reason}}</td><td class="n">{{commas .Lines}}</td></tr>
{{end}}</table>{{end}}
</body></html>
`))

type htmlDim struct {
	Name   string
	Exact  bool
	Values []struct {
		Value string
		Count int64
		Share string
		Link  string // the explorer with this value's filter over the period
	}
}

// exploreLink is the explorer page (/ui/ on the daemon that serves the
// report) showing the records of the period [from, to] (days, to
// included) that have value v at path.
func exploreLink(from, to, path, v string, types []string) string {
	end, err := time.Parse(time.DateOnly, to)
	if err != nil {
		return ""
	}
	q := url.Values{"from": {from}, "to": {end.AddDate(0, 0, 1).Format(time.DateOnly)}, "where": {filter.ForValue(path, v, types)}}
	return "/ui/?" + q.Encode()
}

type htmlMetric struct {
	Name string
	M    MetricSummary
}

type htmlRejected struct {
	Reason string
	Lines  int64
}

// writeHTML writes the self-contained report page: inline CSS and SVG, no
// scripts, no network.
func writeHTML(w io.Writer, s *Summary, cfg Config) error {
	data := struct {
		S             *Summary
		DayChart      template.HTML
		Heatmap       template.HTML
		Hint          template.HTML
		Dims          []htmlDim
		Metrics       []htmlMetric
		Fields        []FieldSummary
		MoreFields    int
		QErr, DErr    string
		RejectedKnown bool
		RejectedTotal int64
		RejectedRows  []htmlRejected
		Breakdowns    []htmlBreakdown
		AutoNote      string
	}{S: s, DayChart: dayChart(s.Month, s.Days), Heatmap: heatmap(s.HourWeekday), Hint: configHint(s, cfg),
		QErr: fmt.Sprint(QuantileError * 100), DErr: fmt.Sprintf("%.2g", DistinctError*100), RejectedKnown: s.Rejected != nil}
	for r, n := range s.Rejected {
		data.RejectedTotal += n
		data.RejectedRows = append(data.RejectedRows, htmlRejected{r, n})
	}
	sort.Slice(data.RejectedRows, func(i, j int) bool {
		a, b := data.RejectedRows[i], data.RejectedRows[j]
		return a.Lines > b.Lines || a.Lines == b.Lines && a.Reason < b.Reason
	})
	types := map[string][]string{}
	for _, f := range s.Fields {
		types[f.Path] = f.Types
	}
	for _, d := range cfg.Dimensions {
		hd := htmlDim{Name: d, Exact: s.TopExact[d] || len(s.Top[d]) == 0}
		for _, v := range s.Top[d] {
			share := "–"
			if s.Records > 0 {
				share = fmt.Sprintf("%.1f %%", 100*float64(v.Count)/float64(s.Records))
			}
			hd.Values = append(hd.Values, struct {
				Value string
				Count int64
				Share string
				Link  string
			}{v.Value, v.Count, share, exploreLink(s.From, s.To, d, v.Value, types[d])})
		}
		data.Dims = append(data.Dims, hd)
	}
	for _, m := range cfg.Metrics {
		data.Metrics = append(data.Metrics, htmlMetric{Name: m, M: s.Metrics[m]})
	}
	data.Breakdowns = htmlBreakdowns(s)
	data.AutoNote = autoNote(cfg)
	data.Fields = s.Fields
	if len(data.Fields) > 200 {
		data.MoreFields = len(data.Fields) - 200
		data.Fields = data.Fields[:200]
	}
	return pageTmpl.Execute(w, data)
}

// dayChart draws records per day as an SVG bar chart with a slot for every
// day of the month, empty days included.
func dayChart(month string, days []DaySummary) template.HTML {
	const W, H, bottom, top = 960, 240, 28, 12
	count := map[string]int64{}
	var maxN int64
	for _, d := range days {
		count[d.Date] = d.Records
		maxN = max(maxN, d.Records)
	}
	// The busiest day's count labels the axis, right-aligned left of the
	// bars: the margin grows with it, so that a large count is not clipped.
	left := max(56, 12+textWidth(commas(maxN)))
	var dates []string
	if m, err := time.Parse("2006-01", month); err == nil {
		for d := m; d.Before(m.AddDate(0, 1, 0)); d = d.AddDate(0, 0, 1) {
			dates = append(dates, d.Format(time.DateOnly))
		}
	} else if from, to, ok := ParseRangeName(month); ok {
		for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
			dates = append(dates, d.Format(time.DateOnly))
		}
	} else { // neither: the days with data
		for _, d := range days {
			dates = append(dates, d.Date)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg id="day-chart" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="records per day">`, W, H, W, H)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#94a3b8"/>`, left, H-bottom, W, H-bottom)
	if len(dates) == 0 || maxN == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d">no records</text></svg>`, left+10, H/2)
		return template.HTML(b.String())
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, left-6, top+4, commas(maxN))
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">0</text>`, left-6, H-bottom)
	slot := float64(W-left-8) / float64(len(dates))
	bw := math.Max(1, slot*0.8)
	for i, date := range dates {
		n := count[date]
		x := float64(left) + 4 + slot*float64(i)
		if n > 0 {
			h := math.Max(1, float64(H-bottom-top)*float64(n)/float64(maxN))
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %s records</title></rect>`,
				x, float64(H-bottom)-h, bw, h, barColor, date, commas(n))
		}
		if len(dates) <= 16 || i%2 == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, x+bw/2, H-bottom+15, date[8:])
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// heatShade is a cell's shade, 0 (empty) to 1 (the busiest), on a log scale so
// that a few records next to thousands still show: any record gives 0.15.
func heatShade(n, maxN int64) float64 {
	switch {
	case n <= 0 || maxN <= 0:
		return 0
	case maxN == 1:
		return 1
	}
	return 0.15 + 0.85*math.Log(float64(n))/math.Log(float64(maxN))
}

// heatFill is the colour of shade f, from #f1f5f9 (empty) to heatColor.
func heatFill(f float64) string {
	r := 241 + (220-241)*f
	g := 245 + (38-245)*f
	b := 249 + (38-249)*f
	return fmt.Sprintf("rgb(%d,%d,%d)", int(math.Round(r)), int(math.Round(g)), int(math.Round(b)))
}

// heatmap draws records by weekday and UTC hour as an SVG grid.
func heatmap(g [7][24]int64) template.HTML {
	const cw, ch, left, top = 34, 24, 40, 18
	var maxN int64
	for _, row := range g {
		for _, n := range row {
			maxN = max(maxN, n)
		}
	}
	var b strings.Builder
	W, H := left+24*cw+4, top+7*ch+40
	fmt.Fprintf(&b, `<svg id="heatmap" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="records by hour and weekday">`, W, H, W, H)
	for h := 0; h < 24; h += 3 {
		fmt.Fprintf(&b, `<text x="%d" y="12">%02d</text>`, left+h*cw+8, h)
	}
	for wd, name := range []string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"} {
		fmt.Fprintf(&b, `<text x="4" y="%d">%s</text>`, top+wd*ch+16, name)
		for h := 0; h < 24; h++ {
			n := g[wd][h]
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"><title>%s %02d:00 UTC: %s records</title></rect>`,
				left+h*cw, top+wd*ch, cw-2, ch-2, heatFill(heatShade(n, maxN)), name, h, commas(n))
		}
	}
	// The legend: the shade of 0, 1, powers of ten and the busiest, spaced
	// by the widest label so that none runs into the next swatch.
	y := top + 7*ch + 14
	ticks := legendTicks(maxN, W-left-100)
	step := legendStep(ticks)
	fmt.Fprintf(&b, `<g id="heatmap-legend"><text x="4" y="%d">records (log scale)</text>`, y+14)
	for i, v := range ticks {
		x := left + 100 + i*step
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="24" height="16" fill="%s" stroke="#cbd5e1"/><text x="%d" y="%d">%s</text>`,
			x, y+2, heatFill(heatShade(v, maxN)), x+28, y+14, commas(v))
	}
	b.WriteString(`</g></svg>`)
	return template.HTML(b.String())
}

// textWidth is a generous width in pixels of s in the charts' 11 px font.
func textWidth(s string) int { return 7 * len(s) }

// legendStep is the distance between the legend's swatches: a swatch, a gap
// and the widest label.
func legendStep(ticks []int64) int {
	step := 70
	for _, v := range ticks {
		step = max(step, 28+textWidth(commas(v))+14)
	}
	return step
}

// legendTicks are the values the heatmap legend shows within width pixels:
// 0, 1, powers of ten (every second, third … one when they do not all fit)
// and the busiest, never one beside it.
func legendTicks(maxN int64, width int) []int64 {
	if maxN <= 0 {
		return []int64{0}
	}
	for stride := 1; ; stride++ {
		ticks := []int64{0}
		for v, i := int64(1), 0; 2*v <= maxN; v, i = v*10, i+1 {
			if i%stride == 0 {
				ticks = append(ticks, v)
			}
		}
		ticks = append(ticks, maxN)
		if len(ticks)*legendStep(ticks) <= width || len(ticks) <= 3 {
			return ticks
		}
	}
}

// configHint says what to configure when the configured dimensions or
// metrics are absent from the data, naming fields the inventory saw.
func configHint(s *Summary, cfg Config) template.HTML {
	var noDims, noMetrics []string
	for _, d := range cfg.Dimensions {
		if len(s.Top[d]) == 0 {
			noDims = append(noDims, d)
		}
	}
	for _, m := range cfg.Metrics {
		if s.Metrics[m].Count == 0 {
			noMetrics = append(noMetrics, m)
		}
	}
	if s.Records == 0 || len(noDims)+len(noMetrics) == 0 || cfg.Auto {
		return ""
	}
	var strs, nums []string
	for _, f := range s.Fields { // most common first
		switch {
		case len(f.Types) == 1 && f.Types[0] == "string" && len(strs) < 4:
			strs = append(strs, f.Path)
		case len(f.Types) == 1 && f.Types[0] == "number" && len(nums) < 3:
			nums = append(nums, f.Path)
		}
	}
	var b strings.Builder
	b.WriteString("No record has ")
	b.WriteString(codeList(append(noDims, noMetrics...), "or"))
	b.WriteString(", which the config names (<code>report.dimensions</code>, <code>report.metrics</code>), so their tables are empty.")
	b.WriteString(" Name fields your records have: the field inventory below lists them")
	if len(strs) > 0 || len(nums) > 0 {
		b.WriteString(", for example")
		if len(strs) > 0 {
			b.WriteString(" <code>dimensions: [" + template.HTMLEscapeString(strings.Join(strs, ", ")) + "]</code>")
		}
		if len(nums) > 0 {
			b.WriteString(" <code>metrics: [" + template.HTMLEscapeString(strings.Join(nums, ", ")) + "]</code>")
		}
	}
	b.WriteString(".")
	return template.HTML(b.String())
}

func codeList(names []string, conj string) string {
	var parts []string
	for _, n := range names {
		parts = append(parts, "<code>"+template.HTMLEscapeString(n)+"</code>")
	}
	if len(parts) <= 1 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " " + conj + " " + parts[len(parts)-1]
}

// plural is one when n is 1, else many.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// commas formats an integer with thousands separators.
func commas(v any) string {
	s := fmt.Sprint(v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func fnum(v *float64) string {
	if v == nil {
		return "–"
	}
	if x := math.Abs(*v); x >= 1e4 && x < 1e15 {
		return commas(int64(math.Round(*v)))
	}
	return fmt.Sprintf("%.4g", *v)
}
