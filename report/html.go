package report

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
)

// Chart colours; the screenshot test looks for them.
const (
	barColor  = "#2563eb" // records per day
	heatColor = "#dc2626" // the busiest hour × weekday cell
)

var pageTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"commas": commas,
	"fnum":   fnum,
	"join":   func(s []string) string { return strings.Join(s, ", ") },
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
</style></head><body>
<h1>ingestd report — {{.S.Month}}</h1>
<div class="muted">generated {{.S.Generated.Format "2006-01-02 15:04 MST"}} · {{.S.Sources.DaysFromPartials}} days from daily partials, {{.S.Sources.DaysScanned}} scanned</div>
<div class="totals">
<div>records<b>{{commas .S.Records}}</b></div>
<div>days with data<b>{{len .S.Days}}</b></div>
{{range $k, $v := .S.Distinct}}<div>distinct {{$k}}<b>≈ {{commas $v}}</b></div>{{end}}
<div>bad lines<b>{{commas .S.Quality.BadLines}}</b></div>
</div>
<h2>Records per day</h2>
{{.DayChart}}
<h2>Records by hour (UTC) and weekday</h2>
{{.Heatmap}}
<h2>Top values</h2>
<div class="grid">
{{range .Dims}}<div><table><tr><th>{{.Name}}{{if not .Exact}} <span class="muted">(estimated)</span>{{end}}</th><th class="n">records</th><th class="n">share</th></tr>
{{range .Values}}<tr><td>{{.Value}}</td><td class="n">{{commas .Count}}</td><td class="n">{{.Share}}</td></tr>{{else}}<tr><td colspan="3" class="muted">no values</td></tr>{{end}}
</table></div>
{{end}}</div>
<h2>Metrics</h2>
<table><tr><th>metric</th><th class="n">count</th><th class="n">min</th><th class="n">mean</th><th class="n">p50</th><th class="n">p90</th><th class="n">p99</th><th class="n">max</th></tr>
{{range .Metrics}}<tr><td>{{.Name}}</td><td class="n">{{commas .M.Count}}</td><td class="n">{{fnum .M.Min}}</td><td class="n">{{fnum .M.Mean}}</td><td class="n">{{fnum .M.P50}}</td><td class="n">{{fnum .M.P90}}</td><td class="n">{{fnum .M.P99}}</td><td class="n">{{fnum .M.Max}}</td></tr>
{{end}}</table>
<div class="muted">Quantiles within {{.QErr}} % relative error (DDSketch); distinct counts within ≈ {{.DErr}} % (HyperLogLog standard error).</div>
<h2>Field inventory</h2>
<table><tr><th>path</th><th class="n">records</th><th>JSON types</th></tr>
{{range .Fields}}<tr><td>{{.Path}}</td><td class="n">{{commas .Records}}</td><td>{{join .Types}}{{if gt (len .Types) 1}} <b>(drift)</b>{{end}}</td></tr>
{{end}}</table>
{{if .MoreFields}}<div class="muted">and {{.MoreFields}} more paths (summary.json lists them all)</div>{{end}}
<h2>Data quality</h2>
<table>
<tr><td>lines that are not a JSON object</td><td class="n">{{commas .S.Quality.BadLines}}</td></tr>
<tr><td>records without a readable timestamp</td><td class="n">{{commas .S.Quality.NoTimestamp}}</td></tr>
{{range $k, $v := .S.Quality.TypeMismatch}}<tr><td>{{$k}}: values of another type (counted as missing)</td><td class="n">{{commas $v}}</td></tr>{{end}}
<tr><td>field occurrences beyond the inventory's path limit</td><td class="n">{{commas .S.Quality.FieldsOverflow}}</td></tr>
<tr><td>unsealed parts read</td><td class="n">{{commas .S.Quality.OpenParts}}</td></tr>
</table>
</body></html>
`))

type htmlDim struct {
	Name   string
	Exact  bool
	Values []struct {
		Value string
		Count int64
		Share string
	}
}

type htmlMetric struct {
	Name string
	M    MetricSummary
}

// writeHTML writes the self-contained report page: inline CSS and SVG, no
// scripts, no network.
func writeHTML(w io.Writer, s *Summary, cfg Config) error {
	data := struct {
		S          *Summary
		DayChart   template.HTML
		Heatmap    template.HTML
		Dims       []htmlDim
		Metrics    []htmlMetric
		Fields     []FieldSummary
		MoreFields int
		QErr, DErr string
	}{S: s, DayChart: dayChart(s.Days), Heatmap: heatmap(s.HourWeekday),
		QErr: fmt.Sprint(QuantileError * 100), DErr: fmt.Sprintf("%.2g", DistinctError*100)}
	for _, d := range cfg.Dimensions {
		hd := htmlDim{Name: d, Exact: s.TopExact[d]}
		for _, v := range s.Top[d] {
			share := "–"
			if s.Records > 0 {
				share = fmt.Sprintf("%.1f %%", 100*float64(v.Count)/float64(s.Records))
			}
			hd.Values = append(hd.Values, struct {
				Value string
				Count int64
				Share string
			}{v.Value, v.Count, share})
		}
		data.Dims = append(data.Dims, hd)
	}
	for _, m := range cfg.Metrics {
		data.Metrics = append(data.Metrics, htmlMetric{Name: m, M: s.Metrics[m]})
	}
	data.Fields = s.Fields
	if len(data.Fields) > 200 {
		data.MoreFields = len(data.Fields) - 200
		data.Fields = data.Fields[:200]
	}
	return pageTmpl.Execute(w, data)
}

// dayChart draws records per day as an SVG bar chart.
func dayChart(days []DaySummary) template.HTML {
	const W, H, left, bottom, top = 960, 240, 56, 28, 12
	var maxN int64
	for _, d := range days {
		maxN = max(maxN, d.Records)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg id="day-chart" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="records per day">`, W, H, W, H)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#94a3b8"/>`, left, H-bottom, W, H-bottom)
	if len(days) == 0 || maxN == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d">no records</text></svg>`, left+10, H/2)
		return template.HTML(b.String())
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, left-6, top+4, commas(maxN))
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">0</text>`, left-6, H-bottom)
	slot := float64(W-left-8) / float64(len(days))
	bw := math.Max(1, slot*0.8)
	for i, d := range days {
		h := float64(H-bottom-top) * float64(d.Records) / float64(maxN)
		x := float64(left) + 4 + slot*float64(i)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %s records</title></rect>`,
			x, float64(H-bottom)-h, bw, h, barColor, d.Date, commas(d.Records))
		if len(days) <= 16 || i%3 == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, x+bw/2, H-bottom+15, d.Date[8:])
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
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
	W, H := left+24*cw+4, top+7*ch+4
	fmt.Fprintf(&b, `<svg id="heatmap" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="records by hour and weekday">`, W, H, W, H)
	for h := 0; h < 24; h += 3 {
		fmt.Fprintf(&b, `<text x="%d" y="12">%02d</text>`, left+h*cw+8, h)
	}
	for wd, name := range []string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"} {
		fmt.Fprintf(&b, `<text x="4" y="%d">%s</text>`, top+wd*ch+16, name)
		for h := 0; h < 24; h++ {
			n := g[wd][h]
			f := 0.0
			if maxN > 0 {
				f = float64(n) / float64(maxN)
			}
			// from #f1f5f9 (empty) to heatColor #dc2626 (busiest)
			r := 241 + (220-241)*f
			gg := 245 + (38-245)*f
			bb := 249 + (38-249)*f
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="rgb(%d,%d,%d)"><title>%s %02d:00 UTC: %s records</title></rect>`,
				left+h*cw, top+wd*ch, cw-2, ch-2, int(math.Round(r)), int(math.Round(gg)), int(math.Round(bb)), name, h, commas(n))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
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
