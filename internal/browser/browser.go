// Package browser renders pages in headless Chromium for the tests that
// look at what a person sees (the report page, the reports index), and
// counts the pixels of a colour in the screenshot.
package browser

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Find returns the Chromium binary, or "" when none is installed.
func Find() string {
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// Screenshot renders url (http:// or file://) at width × height in headless
// Chromium, using scratch as its profile and output folder.
func Screenshot(chrome, url, scratch string, width, height int) (image.Image, error) {
	shot := filepath.Join(scratch, "screenshot.png")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chrome, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--user-data-dir="+filepath.Join(scratch, "profile"), fmt.Sprintf("--window-size=%d,%d", width, height), "--screenshot="+shot, url)
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("chromium: %v\n%s", err, b)
	}
	f, err := os.Open(shot)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return png.Decode(f)
}

// Pixels counts the pixels of the colour rgb(r, g, b), ± 3 per channel.
func Pixels(img image.Image, r0, g0, b0 uint32) int {
	near := func(a, b uint32) bool { return a+3 >= b && b+3 >= a }
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if near(r>>8, r0) && near(g>>8, g0) && near(bl>>8, b0) {
				n++
			}
		}
	}
	return n
}

// DumpDOM loads url in headless Chromium, lets its scripts run, and returns
// the document as serialised after them: a test's script can measure the
// laid-out page (text boxes, overlaps) and leave its findings in an
// attribute.
func DumpDOM(chrome, url, scratch string, width, height int) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chrome, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--user-data-dir="+filepath.Join(scratch, "profile"), fmt.Sprintf("--window-size=%d,%d", width, height),
		"--virtual-time-budget=5000", "--dump-dom", url)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("chromium: %v\n%s", err, stderr.String())
	}
	return string(out), nil
}
