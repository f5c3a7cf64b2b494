package report

import (
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func findChromium() string {
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// The report page opens in a real headless browser, and its charts render:
// the screenshot holds the day chart's bar colour and the heatmap's busiest
// cell colour.
func TestReportHTMLRendersInChromium(t *testing.T) {
	chrome := findChromium()
	if chrome == "" {
		t.Skip("chromium not installed (apt-get install chromium); .ci/run installs it")
	}
	data, out := t.TempDir(), t.TempDir()
	genMonth(t, data, 6, 1500)
	res, err := RunMonth(context.Background(), monthOpts(data, out))
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(t.TempDir(), "report.png")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chrome, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--user-data-dir="+t.TempDir(), "--window-size=1100,1000", "--screenshot="+shot,
		"file://"+filepath.Join(res.Dir, "report.html"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, b)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	var bar, heat int
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			r, g, bl = r>>8, g>>8, bl>>8
			switch {
			case near(r, 0x25) && near(g, 0x63) && near(bl, 0xeb):
				bar++
			case near(r, 0xdc) && near(g, 0x26) && near(bl, 0x26):
				heat++
			}
		}
	}
	// Six bars of ≈ 120 × 190 px; at least one full heatmap cell of 32 × 22.
	if bar < 6*50*100 {
		t.Errorf("day chart: %d pixels of the bar colour, want the bars drawn", bar)
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

func near(a, b uint32) bool { return a+3 >= b && b+3 >= a }
