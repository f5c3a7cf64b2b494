package reports

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/e2e"

	"github.com/ingestd/ingestd/internal/browser"
	"github.com/ingestd/ingestd/internal/testenv"
	"github.com/ingestd/ingestd/report"
)

const breakdownYAML = `report:
  schedule: "off"
  breakdowns:
    - name: levels
      by: [level]
      where: 'service != "svc-0"'
      stats: [count, share, sum(duration_ms), max(duration_ms)]
    - name: daily
      by: [service]
      time: day
      stats: [count, "rate(level == \"error\")", distinct(user.id)]
`

// Breakdowns configured in the YAML appear in summary.json, as CSV and
// Parquet files and on the page, with counts and sums equal to DuckDB's on
// the same files, and the page draws their bars and sparklines in Chromium.
func TestReportBreakdowns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "ingestd.yaml")
	if err := os.WriteFile(cfg, []byte(breakdownYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	d := e2e.Start(t, dir, breakdownYAML)
	postMonthRecords(t, d, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), []int{3, 4, 5}, 400)
	d.Stop()
	out := t.TempDir()
	text, code := e2e.CLI(t, "report", "--config", cfg, "--month", "2026-10", "--data-dir", dir, "--out", out)
	if code != 0 {
		t.Fatalf("report: exit %d\n%s", code, text)
	}
	rep := filepath.Join(out, "2026-10")
	s := readSummaryFile(t, filepath.Join(rep, "summary.json"))
	if len(s.Breakdowns) != 2 || s.Breakdowns[0].Name != "levels" || s.Breakdowns[1].Name != "daily" {
		t.Fatalf("breakdowns: %+v", s.Breakdowns)
	}

	// levels: as DuckDB groups the same files.
	lv := s.Breakdowns[0]
	dk := e2e.DuckDB(t, fmt.Sprintf(`select level, count(*), sum(duration_ms), max(duration_ms) from read_json('%s/segments/dt=2026-10-*/*.ndjson.zst', format='newline_delimited')
		where service <> 'svc-0' group by level order by count(*) desc, level`, dir))
	var dkRows [][]any
	if err := json.Unmarshal([]byte(dk), &dkRows); err != nil || len(dkRows) != len(lv.Rows) || len(dkRows) != 3 {
		t.Fatalf("duckdb %s (%v); ingestd %v", dk, err, lv.Rows)
	}
	num := func(v any) float64 { // DuckDB's JSON gives big integers as strings
		f, err := strconv.ParseFloat(fmt.Sprint(v), 64)
		if err != nil {
			t.Fatalf("duckdb value %v: %v", v, err)
		}
		return f
	}
	var total float64
	for _, r := range dkRows {
		total += num(r[1])
	}
	for i, r := range dkRows {
		g := lv.Rows[i]
		want := fmt.Sprint(r[0], "|", r[1], "|", num(r[1])/total, "|", r[2], "|", r[3])
		if got := fmt.Sprint(g[0], "|", g[1], "|", g[2], "|", g[3], "|", g[4]); got != want {
			t.Errorf("levels row %d: ingestd %s, duckdb %s", i, got, want)
		}
	}
	if lv.Records != int64(total) || !lv.Exact {
		t.Errorf("levels: %d records (exact %v), duckdb %g", lv.Records, lv.Exact, total)
	}

	// daily: per day and service, the error rate as DuckDB computes it.
	dd := s.Breakdowns[1]
	dk = e2e.DuckDB(t, fmt.Sprintf(`select strftime("timestamp"::timestamp, '%%Y-%%m-%%d') as day, service, count(*), avg(case when level = 'error' then 1.0 else 0.0 end), count(distinct "user".id)
		from read_json('%s/segments/dt=2026-10-*/*.ndjson.zst', format='newline_delimited') group by all order by day, count(*) desc, service`, dir))
	dkRows = nil
	if err := json.Unmarshal([]byte(dk), &dkRows); err != nil || len(dkRows) != len(dd.Rows) || len(dd.Rows) != 9 {
		t.Fatalf("duckdb %s (%v); ingestd %v", dk, err, dd.Rows)
	}
	for i, r := range dkRows {
		g := dd.Rows[i]
		if fmt.Sprint(g[0], "|", g[1], "|", g[2]) != fmt.Sprint(r[0], "|", r[1], "|", r[2]) || fmt.Sprintf("%.9f", g[3]) != fmt.Sprintf("%.9f", num(r[3])) {
			t.Errorf("daily row %d: ingestd %v, duckdb %v", i, g, r)
		}
		if u, n := g[4].(float64), num(r[4]); u < n*(1-3*report.DistinctError)-1 || u > n*(1+3*report.DistinctError)+1 {
			t.Errorf("daily row %d: %v distinct users, duckdb %g", i, g[4], n)
		}
	}

	// The files: the CSV holds every row; DuckDB reads the Parquet table.
	f, err := os.Open(filepath.Join(rep, "breakdown-daily.csv"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(recs) != 10 || strings.Join(recs[0], ",") != `time,service,count,rate(level == "error"),distinct(user.id)` {
		t.Fatalf("breakdown-daily.csv: %v %v", recs, err)
	}
	pq := e2e.DuckDB(t, fmt.Sprintf(`select count(*), sum("count") from read_parquet('%s')`, filepath.Join(rep, "breakdown-levels.parquet")))
	if want := fmt.Sprintf(`[["%d","%d"]]`, len(lv.Rows), lv.Records); strings.ReplaceAll(pq, " ", "") != want {
		t.Errorf("breakdown-levels.parquet: duckdb %s, want %s", pq, want)
	}

	// The page: both tables, their bars and sparklines.
	page, err := os.ReadFile(filepath.Join(rep, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`id="breakdown-levels"`, `id="breakdown-daily"`, `where service != &#34;svc-0&#34;`, `class="spark"`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report.html lacks %s", want)
		}
	}
	chrome := browser.Find()
	if chrome == "" {
		testenv.Missing(t, "chromium", "apt-get install chromium")
	}
	img, err := browser.Screenshot(chrome, "file://"+filepath.Join(rep, "report.html"), t.TempDir(), 1100, 3000)
	if err != nil {
		t.Fatal(err)
	}
	if n := browser.Pixels(img, 0x93, 0xc5, 0xfd); n < 300 { // the count bars of levels
		t.Errorf("%d bar pixels", n)
	}
	if n := browser.Pixels(img, 0x08, 0x91, 0xb2); n < 300 { // the sparklines of daily
		t.Errorf("%d sparkline pixels", n)
	}
}
