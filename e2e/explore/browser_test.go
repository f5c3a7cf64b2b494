package explore

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/ingestd/ingestd/internal/browser"
	"github.com/ingestd/ingestd/internal/testenv"
)

// The explorer page in headless Chromium, driven through the DevTools
// protocol: a filter typed and run fills the group table with the API's
// numbers; a drag across the histogram zooms the range; a click on a
// field's value adds it to the filter and the URL; the URL reloaded gives
// the same view; live tail shows records posted after it was turned on.
// Every request the page makes goes to the daemon. With
// INGESTD_EXPLORE_SCREENSHOT set, the view is saved there as PNG (the
// README's picture).
func TestExplorerInChromium(t *testing.T) {
	t.Parallel()
	chrome := browser.Find()
	if chrome == "" {
		testenv.Missing(t, "Chromium", "apt-get install chromium")
	}
	d, truth := startMonth(t, t.TempDir(), []int{3, 4, 5}, 2000)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox,
		chromedp.WindowSize(1400, 900), chromedp.UserDataDir(t.TempDir()), chromedp.Flag("disable-quic", true))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancelC := chromedp.NewContext(actx)
	defer cancelC()
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	defer cancelT()
	var mu sync.Mutex
	var requests []string
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			requests = append(requests, e.Request.URL)
			mu.Unlock()
		}

	}); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// waitJS polls a JavaScript expression until it is true.
	waitJS := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(60*time.Second))); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	eval := func(what, expr string, v any) {
		t.Helper()
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](expr))
		if err == nil {
			err = json.Unmarshal(raw, v)
		}
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// rendered waits until the page shows the state its URL holds.
	rendered := func(what string) {
		t.Helper()
		waitJS(what, `document.body.dataset.rendered === location.search`)
	}
	tableRows := func() [][]string {
		t.Helper()
		var rows [][]string
		eval("read the table", `Array.from(document.querySelectorAll("#table tr")).slice(1).map(r => Array.from(r.cells).slice(0, -1).map(c => c.textContent))`, &rows)
		return rows
	}
	location := func() url.Values {
		t.Helper()
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatal(err)
		}
		return u.Query()
	}

	// The first view: the histogram counts every record of the range.
	page := d.URL + "/ui/?from=2026-10-03T00:00:00Z&to=2026-10-06T00:00:00Z"
	if _, err := chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{})
		return chromedp.Void{}, err
	}); err != nil {
		t.Fatalf("network events: %v", err)
	}
	run("open the page", chromedp.Navigate(page))
	rendered("the first view")
	waitJS("the histogram", fmt.Sprintf(`document.getElementById("chart").dataset.total === "%d"`, len(truth)))

	// A filter typed and run with Enter: the group table holds the API's
	// numbers.
	filter := `status >= 404`
	run("type a filter and a grouping", chromedp.SetValue(chromedp.CSS("#by"), "service"),
		chromedp.SendKeys(chromedp.CSS("#where"), filter), chromedp.SendKeys(chromedp.CSS("#where"), kb.Enter))
	waitJS("the query in the URL", `new URLSearchParams(location.search).get("where") !== null`)
	rendered("the table")
	api := d.Get(t, "/api/v1/query?"+vals("from", "2026-10-03T00:00:00Z", "to", "2026-10-06T00:00:00Z", "where", filter, "by", "service").Encode(), "")
	var want []map[string]any
	if err := json.Unmarshal([]byte(api.Body), &want); err != nil {
		t.Fatalf("API: %v %s", err, api.Body)
	}
	rows := tableRows()
	if len(rows) != len(want) {
		t.Fatalf("table %v, API %s", rows, api.Body)
	}
	n := 0
	for _, x := range truth {
		if x.status >= 404 {
			n++
		}
	}
	sum := 0
	for i, r := range rows {
		c := int(want[i]["count"].(float64))
		sum += c
		if r[0] != want[i]["service"] || strings.ReplaceAll(r[1], ",", "") != fmt.Sprint(c) {
			t.Errorf("table row %d: %v, API %v", i, r, want[i])
		}
	}
	if sum != n {
		t.Errorf("the table counts %d records, the ground truth %d", sum, n)
	}
	if q := location(); q.Get("where") != filter || q.Get("by") != "service" {
		t.Errorf("URL after the query: %v", q)
	}

	// A drag across the histogram zooms the range to the buckets under it.
	var box []float64
	eval("find the histogram", `(() => { const r = document.getElementById("chart").getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`, &box)
	x0, x1, y := box[0]+box[2]*0.25, box[0]+box[2]*0.5, box[1]+box[3]/2
	drag := []chromedp.Action[chromedp.Void]{chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, x0, y, chromedp.ButtonLeft, chromedp.ClickCount(1))}
	for x := x0; x <= x1; x += 20 {
		drag = append(drag, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x, y, chromedp.ButtonLeft))
	}
	run("drag across the histogram", append(drag, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, x1, y, chromedp.ButtonLeft, chromedp.ClickCount(1)))...)
	waitJS("the zoom", `new URLSearchParams(location.search).get("from") !== "2026-10-03T00:00:00Z"`)
	rendered("the zoomed view")
	q := location()
	from, err1 := time.Parse(time.RFC3339, q.Get("from"))
	to, err2 := time.Parse(time.RFC3339, q.Get("to"))
	if err1 != nil || err2 != nil || from.Before(time.Date(2026, 10, 3, 12, 0, 0, 0, time.UTC)) || to.After(time.Date(2026, 10, 4, 16, 0, 0, 0, time.UTC)) || !to.After(from) {
		t.Errorf("zoomed to %v – %v, want about the second quarter of 3–5 October", q.Get("from"), q.Get("to"))
	}

	// A click on a field's top value adds it to the filter and the URL.
	run("open the level field", chromedp.Click(chromedp.CSS(`#fieldlist li[data-path="level"] > span`)),
		chromedp.WaitVisible(chromedp.CSS(`#fieldlist li[data-path="level"] ol li`)))
	attr, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`#fieldlist li[data-path="level"] ol li`), "data-where"))
	if err != nil {
		t.Fatal(err)
	}
	valueWhere := attr.Value
	run("click a value", chromedp.Click(chromedp.CSS(`#fieldlist li[data-path="level"] ol li`)))
	wantWhere := "(" + filter + ") and " + valueWhere
	waitJS("the filter", fmt.Sprintf(`document.getElementById("where").value === %q`, wantWhere))
	if q := location(); q.Get("where") != wantWhere || !strings.HasPrefix(valueWhere, `level == "`) {
		t.Errorf("URL after the click: %v (value %q)", q, valueWhere)
	}
	rendered("the new table")
	before := tableRows()

	// The URL reloaded gives the same view.
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	run("reload", chromedp.Navigate(loc), chromedp.WaitVisible(chromedp.CSS("#fieldlist li")))
	rendered("the reloaded view")
	where, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#where")))
	if err != nil {
		t.Fatal(err)
	}
	if after := tableRows(); where != wantWhere || fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("reloaded: filter %q table %v; before %q %v", where, after, wantWhere, before)
	}

	// A mistake in the filter is shown at its position.
	var set bool
	eval("type a broken filter", `(() => { document.getElementById("where").value = 'level == "x" and'; return true; })()`, &set)
	run("run it", chromedp.SendKeys(chromedp.CSS("#where"), kb.Enter))
	waitJS("the mistake", `document.getElementById("where").classList.contains("bad")`)
	var caret, msg string
	eval("read the caret", `document.getElementById("caret").textContent`, &caret)
	eval("read the message", `document.getElementById("error").textContent`, &msg)
	if caret != strings.Repeat(" ", 16)+"^" || !strings.Contains(msg, "at 17") {
		t.Errorf("a broken filter: caret %q, message %q", caret, msg)
	}

	// Live tail: records posted after it is on appear at the top.
	var cleared bool
	eval("clear the filter", `(() => { document.getElementById("where").value = ""; return true; })()`, &cleared)
	run("run and turn tail on", chromedp.SendKeys(chromedp.CSS("#where"), kb.Enter), chromedp.Click(chromedp.CSS("#tail")))
	waitJS("tail in the URL", `new URLSearchParams(location.search).get("tail") === "1"`)
	time.Sleep(500 * time.Millisecond) // the event stream connects
	var body strings.Builder
	for i := 0; i < 5; i++ {
		fmt.Fprintf(&body, `{"level":"error","msg":"live %d"}`+"\n", i)
	}
	if r := d.Post(t, "/v1/ingest", []byte(body.String()), nil); r.Code != 200 {
		t.Fatalf("post: %d %s", r.Code, r.Body)
	}
	waitJS("the live records", `document.querySelectorAll("#reclist li.live").length >= 5`)
	var live []string
	eval("read the live records", `Array.from(document.querySelectorAll("#reclist li.live")).map(l => l.textContent)`, &live)
	for i := 0; i < 5; i++ {
		if !strings.Contains(strings.Join(live, "\n"), fmt.Sprintf(`"msg":"live %d"`, i)) {
			t.Errorf("live record %d missing: %v", i, live)
		}
	}

	if shot := os.Getenv("INGESTD_EXPLORE_SCREENSHOT"); shot != "" {
		run("the screenshot's view", chromedp.Navigate(page+"&by=service&stats=count,p99(duration_ms)"), chromedp.WaitVisible(chromedp.CSS("#table tr")),
			chromedp.Sleep(time.Second))
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(shot, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Every request went to the daemon.
	mu.Lock()
	defer mu.Unlock()
	if len(requests) < 10 {
		t.Errorf("only %d requests recorded: %v", len(requests), requests)
	}
	for _, r := range requests {
		if !strings.HasPrefix(r, d.URL+"/") {
			t.Errorf("the page requested %s, outside the daemon", r)
		}
	}
}
