package report

import (
	"context"
	"encoding/json"
	"fmt"
	stdhtml "html"
	"image"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ingestd/ingestd/internal/browser"
	"github.com/ingestd/ingestd/internal/testenv"
)

func findChromium() string { return browser.Find() }

// screenshot renders an HTML file in headless Chromium, or skips.
func screenshot(t *testing.T, page string) image.Image {
	t.Helper()
	chrome := findChromium()
	if chrome == "" {
		testenv.Missing(t, "chromium", "apt-get install chromium")
	}
	img, err := browser.Screenshot(chrome, "file://"+page, t.TempDir(), 1100, 1400)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func pixels(img image.Image, r0, g0, b0 uint32) int { return browser.Pixels(img, r0, g0, b0) }

// The report page opens in a real headless browser, and its charts render:
// the screenshot holds the day chart's bar colour and the heatmap's busiest
// cell colour.
func TestReportHTMLRendersInChromium(t *testing.T) {
	if findChromium() == "" {
		testenv.Missing(t, "chromium", "apt-get install chromium")
	}
	data, out := t.TempDir(), t.TempDir()
	genMonth(t, data, 6, 1500)
	res, err := RunMonth(context.Background(), monthOpts(data, out))
	if err != nil {
		t.Fatal(err)
	}
	img := screenshot(t, filepath.Join(res.Dir, "report.html"))
	bar, heat := pixels(img, 0x25, 0x63, 0xeb), pixels(img, 0xdc, 0x26, 0x26)
	// Six bars in 31 day slots of ≈ 29 px: each ≈ 23 × up to 200 px.
	if bar < 6*15*100 || bar > 6*30*200 {
		t.Errorf("day chart: %d pixels of the bar colour, want six day-wide bars", bar)
	}
	if heat < 32*22/2 {
		t.Errorf("heatmap: %d pixels of the busiest-cell colour", heat)
	}
	html, _ := os.ReadFile(filepath.Join(res.Dir, "report.html"))
	for _, bad := range []string{"<script", "src=\"http", "href=\"http", "@import"} {
		if strings.Contains(string(html), bad) {
			t.Errorf("report.html is not self-contained: has %q", bad)
		}
	}
}

// A month with one day of data, 2 records at Tuesday 10:00 and 1,007 at
// 18:00, seen in the browser: the day is one narrow bar among the month's 30
// day slots, and the 2-record cell is visibly shaded (log scale) with a
// legend below the grid.
func TestReportPageOneDaySparseHours(t *testing.T) {
	s := &Summary{Month: "2026-11", Records: 1009, Days: []DaySummary{{Date: "2026-11-03", Records: 1009}},
		Top: map[string][]TopValue{}, Metrics: map[string]MetricSummary{}, Distinct: map[string]uint64{},
		Fields:  []FieldSummary{{Path: "msg", Records: 1009, Types: []string{"string"}}, {Path: "took", Records: 1009, Types: []string{"number"}}},
		Quality: Quality{TypeMismatch: map[string]int64{}}, Rejected: map[string]int64{"invalid_json": 3, "timestamp": 1}}
	s.HourWeekday[2][10], s.HourWeekday[2][18] = 2, 1007
	page := filepath.Join(t.TempDir(), "report.html")
	if err := writeHTMLFile(page, s, testConfig()); err != nil {
		t.Fatal(err)
	}
	html, _ := os.ReadFile(page)
	for _, want := range []string{
		"records (log scale)",
		"No record has <code>level</code>, <code>service</code>, <code>status</code>, <code>duration_ms</code> or <code>bytes</code>",
		"<code>dimensions: [msg]</code> <code>metrics: [took]</code>",
		"<td>invalid_json</td><td class=\"n\">3</td>",
		"rejected at intake<b>4</b>",
		"files still being written when the report ran",
	} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if strings.Contains(string(html), "unsealed parts") {
		t.Error("report.html still says 'unsealed parts'")
	}
	if c := strings.Count(string(html), "<title>2026-11-"); c != 1 {
		t.Errorf("%d bars, want 1", c)
	}

	img := screenshot(t, page)
	// One bar ≈ 24 × 200 px; the old chart drew it 700 px wide.
	if bar := pixels(img, 0x25, 0x63, 0xeb); bar < 2000 || bar > 8000 {
		t.Errorf("day chart: %d pixels of the bar colour, want one day-wide bar", bar)
	}
	var r, g, b uint32
	if _, err := fmt.Sscanf(heatFill(heatShade(2, 1007)), "rgb(%d,%d,%d)", &r, &g, &b); err != nil {
		t.Fatal(err)
	}
	if g > 215 { // linear: 245 - 207·2/1007 ≈ 245, the empty colour
		t.Errorf("2 records next to 1,007 are shaded rgb(%d,%d,%d), too close to empty", r, g, b)
	}
	if n := pixels(img, r, g, b); n < 32*22/2 {
		t.Errorf("the 2-record cell's shade rgb(%d,%d,%d) shows in %d pixels, want a cell", r, g, b, n)
	}
	// Legend: the swatch of the busiest value beside the cell itself.
	if n := pixels(img, 0xdc, 0x26, 0x26); n < 32*22/2+24*16/2 {
		t.Errorf("busiest shade in %d pixels, want the cell and its legend swatch", n)
	}
}

// layoutScript measures the laid-out charts in the browser: every label of
// the day chart and the heatmap lies within its SVG (else it is clipped),
// and no legend label runs into the next swatch. It leaves the problems as
// a JSON list in the body's data-layout attribute.
const layoutScript = `<script>
const out = [], box = e => e.getBoundingClientRect();
for (const id of ["day-chart", "heatmap"]) {
  const svg = document.getElementById(id), sb = box(svg);
  for (const t of svg.querySelectorAll("text")) {
    const r = box(t);
    if (r.left < sb.left - 0.5 || r.right > sb.right + 0.5) out.push(id + ": " + JSON.stringify(t.textContent) + " clipped (" + Math.round(r.left) + "–" + Math.round(r.right) + " of " + Math.round(sb.left) + "–" + Math.round(sb.right) + ")");
  }
}
const g = document.getElementById("heatmap-legend");
const rects = [...g.querySelectorAll("rect")], texts = [...g.querySelectorAll("text")];
for (let i = 0; i < texts.length && i < rects.length; i++) {
  if (box(texts[i]).right + 2 > box(rects[i]).left) out.push("legend: " + JSON.stringify(texts[i].textContent) + " runs into the next swatch");
}
document.body.setAttribute("data-layout", JSON.stringify(out));
</script>`

// Large counts, seen in the browser: the busiest day's axis label
// (21,957,665) is not clipped, and the heatmap legend's labels (up to
// 21,957,665 beside powers of ten) leave room for the next swatch.
func TestReportPageLargeNumbersFit(t *testing.T) {
	chrome := findChromium()
	if chrome == "" {
		testenv.Missing(t, "chromium", "apt-get install chromium")
	}
	f := func(name string, days []DaySummary, busiest int64) {
		t.Helper()
		s := &Summary{Month: "2026-11", Days: days, Top: map[string][]TopValue{}, Metrics: map[string]MetricSummary{},
			Distinct: map[string]uint64{}, Quality: Quality{TypeMismatch: map[string]int64{}}}
		for _, d := range days {
			s.Records += d.Records
		}
		for h := range 24 {
			s.HourWeekday[h%7][h] = busiest >> (h % 20)
		}
		page := filepath.Join(t.TempDir(), "report.html")
		if err := writeHTMLFile(page, s, testConfig()); err != nil {
			t.Fatal(err)
		}
		html, _ := os.ReadFile(page)
		if err := os.WriteFile(page, []byte(strings.Replace(string(html), "</body>", layoutScript+"</body>", 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		dom, err := browser.DumpDOM(chrome, "file://"+page, t.TempDir(), 1100, 1400)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`data-layout="([^"]*)"`).FindStringSubmatch(dom)
		if m == nil {
			t.Fatalf("%s: the layout script left no result", name)
		}
		var problems []string
		if err := json.Unmarshal([]byte(stdhtml.UnescapeString(m[1])), &problems); err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("%s: %s", name, p)
		}
	}
	f("21,957,665 records a day", []DaySummary{{Date: "2026-11-01", Records: 21957665}, {Date: "2026-11-02", Records: 19000000}}, 2_000_000)
	f("a full month of billions", func() (d []DaySummary) {
		for i := 1; i <= 30; i++ {
			d = append(d, DaySummary{Date: fmt.Sprintf("2026-11-%02d", i), Records: 1_234_567_890 + int64(i)})
		}
		return d
	}(), 51_234_567)
	f("100,000 in the legend", []DaySummary{{Date: "2026-11-03", Records: 300000}}, 250_000)
}

// The page says "1 day", not "1 days".
func TestReportPageSingularDay(t *testing.T) {
	for n, want := range map[int]string{1: "1 day from daily partials", 2: "2 days from daily partials", 0: "0 days from daily partials"} {
		s := &Summary{Month: "2026-11", Records: 3, Days: []DaySummary{{Date: "2026-11-03", Records: 3}}, Top: map[string][]TopValue{},
			Metrics: map[string]MetricSummary{}, Distinct: map[string]uint64{}, Quality: Quality{TypeMismatch: map[string]int64{}},
			Sources: Sources{DaysFromPartials: n}}
		page := filepath.Join(t.TempDir(), "report.html")
		if err := writeHTMLFile(page, s, testConfig()); err != nil {
			t.Fatal(err)
		}
		if html, _ := os.ReadFile(page); !strings.Contains(string(html), want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// Each top value links to the explorer with its filter over the period
// (the last day included, so the link's to is the day after).
func TestReportPageLinksTopValuesToTheExplorer(t *testing.T) {
	s := &Summary{Month: "2026-11", From: "2026-11-01", To: "2026-11-30", Records: 3, Days: []DaySummary{{Date: "2026-11-03", Records: 3}},
		Top:     map[string][]TopValue{"level": {{Value: "error", Count: 2}}, "status": {{Value: "500", Count: 1}}},
		Fields:  []FieldSummary{{Path: "level", Records: 3, Types: []string{"string"}}, {Path: "status", Records: 3, Types: []string{"number"}}},
		Metrics: map[string]MetricSummary{}, Distinct: map[string]uint64{}, Quality: Quality{TypeMismatch: map[string]int64{}}}
	cfg := testConfig()
	cfg.Dimensions = []string{"level", "status"}
	page := filepath.Join(t.TempDir(), "report.html")
	if err := writeHTMLFile(page, s, cfg); err != nil {
		t.Fatal(err)
	}
	html, _ := os.ReadFile(page)
	for _, want := range []string{
		`<a href="/ui/?from=2026-11-01&amp;to=2026-12-01&amp;where=level&#43;%3D%3D&#43;%22error%22"`,
		`<a href="/ui/?from=2026-11-01&amp;to=2026-12-01&amp;where=status&#43;%3D%3D&#43;500"`,
	} {
		if !strings.Contains(string(html), want) {
			t.Errorf("page lacks %s", want)
		}
	}
}
