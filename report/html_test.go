package report

import (
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ingestd/ingestd/internal/browser"
)

func findChromium() string { return browser.Find() }

// screenshot renders an HTML file in headless Chromium, or skips.
func screenshot(t *testing.T, page string) image.Image {
	t.Helper()
	chrome := findChromium()
	if chrome == "" {
		t.Skip("chromium not installed (apt-get install chromium); .ci/run installs it")
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
		t.Skip("chromium not installed (apt-get install chromium); .ci/run installs it")
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
