package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/e2e"

	"github.com/ingestd/ingestd/report"
	"github.com/ingestd/ingestd/segment"
)

// postMonthRecords posts n records a day for the given days of month m, with
// a known level distribution, and returns the count per level.
func postMonthRecords(t *testing.T, d *e2e.Daemon, m time.Time, days []int, n int) map[string]int {
	t.Helper()
	levels := map[string]int{}
	names := []string{"info", "info", "info", "warn", "error"}
	for _, day := range days {
		var body bytes.Buffer
		for i := 0; i < n; i++ {
			lv := names[i%len(names)]
			levels[lv]++
			ts := time.Date(m.Year(), m.Month(), day, i%24, i%60, 0, 0, time.UTC)
			fmt.Fprintf(&body, `{"timestamp":"%s","level":"%s","service":"svc-%d","duration_ms":%d,"user":{"id":"u%d"}}`+"\n",
				ts.Format(time.RFC3339), lv, i%3, i%1000, i%250)
		}
		if r := d.Post(t, "/v1/ingest", body.Bytes(), nil); r.Code != 200 {
			t.Fatalf("post: %d %s", r.Code, r.Body)
		}
	}
	return levels
}

func readSummaryFile(t *testing.T, path string) report.Summary {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s report.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestReportCommandEndToEnd: the daemon computes each finished day's partial
// when it compacts the day; `ingestd report` merges them into the month's
// report, which DuckDB agrees with.
func TestReportCommandEndToEnd(t *testing.T) {
	t.Parallel()
	dir, out := t.TempDir(), t.TempDir()
	d := e2e.Start(t, dir, "segments:\n  block_age: 100ms\n  seal_grace: 0s\n  seal_idle: 300ms\nreport:\n  schedule: \"off\"\n")
	oct := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	levels := postMonthRecords(t, d, oct, []int{3, 4, 5}, 600)
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(d.Log.String(), "daily report partial written") < 3 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	d.Stop()
	// Named by the node (the host name here): <node>.partial.json.
	partials, _ := filepath.Glob(filepath.Join(dir, "segments", "dt=2026-10-0*", "*.partial.json"))
	if len(partials) != 3 || filepath.Base(partials[0]) == segment.LegacyReportPartial {
		t.Fatalf("%d daily partials written by the daemon, want 3\n%s", len(partials), d.Log)
	}

	outText, code := e2e.CLI(t, "report", "--month", "2026-10", "--data-dir", dir, "--out", out)
	if code != 0 || !strings.Contains(outText, "1800 records over 3 days (3 from daily partials, 0 scanned)") {
		t.Fatalf("report: exit %d\n%s", code, outText)
	}
	s := readSummaryFile(t, filepath.Join(out, "2026-10", "summary.json"))
	if s.Records != 1800 || len(s.Days) != 3 || s.Days[0].Date != "2026-10-03" || s.Days[0].Records != 600 {
		t.Fatalf("summary: %d records, days %+v", s.Records, s.Days)
	}
	if top := s.Top["level"]; len(top) != 3 || top[0].Value != "info" || top[0].Count != int64(levels["info"]) {
		t.Fatalf("top levels %+v, want info=%d first", top, levels["info"])
	}
	if got := s.Distinct["user.id"]; got < 245 || got > 255 {
		t.Fatalf("distinct users ≈ %d, want 250", got)
	}
	// Zero-config (the default): the choice is in summary.json and on the page.
	if s.Auto == nil || !slices.Contains(s.Auto.Dimensions, "level") || !slices.Contains(s.Auto.Metrics, "duration_ms") || !slices.Contains(s.Auto.Distinct, "user.id") {
		t.Fatalf("zero-config chose %+v", s.Auto)
	}
	if page, _ := os.ReadFile(filepath.Join(out, "2026-10", "report.html")); !strings.Contains(string(page), `id="auto"`) || !strings.Contains(string(page), "dimensions: level") {
		t.Errorf("report.html does not show the zero-config choice")
	}
	for _, f := range []string{"daily.csv", "report.html", "daily.parquet", "hourly.parquet", "top.parquet", "metrics.parquet", "fields.parquet"} {
		if _, err := os.Stat(filepath.Join(out, "2026-10", f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}

	// A full rescan with the records exported gives the same report.
	outText, code = e2e.CLI(t, "report", "--month", "2026-10", "--data-dir", dir, "--out", out, "--rescan", "--export-records")
	if code != 0 || !strings.Contains(outText, "(0 from daily partials, 3 scanned)") || !strings.Contains(outText, "exported 1800 records") {
		t.Fatalf("report --rescan --export-records: exit %d\n%s", code, outText)
	}
	s2 := readSummaryFile(t, filepath.Join(out, "2026-10", "summary.json"))
	if s2.Records != s.Records || fmt.Sprint(s2.Top) != fmt.Sprint(s.Top) || fmt.Sprint(s2.Days) != fmt.Sprint(s.Days) {
		t.Fatalf("rescan differs from the report from partials:\n%+v\n%+v", s2.Top, s.Top)
	}

	// DuckDB reads the Parquet export and agrees with the report and the segments.
	pq := filepath.Join(out, "2026-10", "records.parquet")
	// Zero-config (the default): the records, typed columns only for named fields.
	got := e2e.DuckDB(t, fmt.Sprintf(`select count(*), count(distinct json_extract_string(record, '$.user.id')), sum(json_extract(record, '$.duration_ms')::double) from read_parquet('%s')`, pq))
	var want float64
	for day := 0; day < 3; day++ {
		for i := 0; i < 600; i++ {
			want += float64(i % 1000)
		}
	}
	if exp := fmt.Sprintf(`[["1800","250",%g]]`, want); got != exp {
		t.Fatalf("duckdb on records.parquet: %s, want %s", got, exp)
	}
	got = e2e.DuckDB(t, fmt.Sprintf(`select level, count(*) n from read_json('%s/segments/dt=2026-10-*/*.ndjson.zst', format='newline_delimited') group by level order by n desc, level limit 1`, dir))
	if exp := fmt.Sprintf(`[["info","%d"]]`, levels["info"]); got != exp {
		t.Fatalf("duckdb on segments: %s, want %s", got, exp)
	}
}

func TestReportCommandUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"report"}, {"report", "--month", "2026-13"}, {"report", "--month", "2026-10", "--workers", "-1"}} {
		if out, code := e2e.CLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, out)
		}
	}
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte("report:\n  schedule: \"0 3 1 *\"\n"), 0o644)
	if out, code := e2e.CLI(t, "report", "--month", "2026-10", "--config", cfg); code != 2 || !strings.Contains(out, "report.schedule") {
		t.Errorf("bad schedule: exit %d\n%s", code, out)
	}
	os.WriteFile(cfg, []byte("report:\n  dimensions: [level]\n  metrics: [level]\n"), 0o644)
	if out, code := e2e.CLI(t, "report", "--month", "2026-10", "--config", cfg); code != 2 || !strings.Contains(out, "both a metric") {
		t.Errorf("field both metric and dimension: exit %d\n%s", code, out)
	}
}

// TestScheduledReportCaughtUpAtStart: the previous month's report was due
// while the daemon was down; it is written at start, once.
func TestScheduledReportCaughtUpAtStart(t *testing.T) {
	t.Parallel()
	dir, out := t.TempDir(), t.TempDir()
	prev := report.MonthStart(time.Now()).AddDate(0, -1, 0)
	d := e2e.Start(t, dir, "report:\n  schedule: \"off\"\n")
	postMonthRecords(t, d, prev, []int{2, 3}, 300)
	d.Stop()

	yaml := fmt.Sprintf("report:\n  dir: %s\n", out) // the default monthly schedule
	d = e2e.Start(t, dir, yaml)
	name := prev.Format("2006-01")
	summary := filepath.Join(out, name, "summary.json")
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(summary); err == nil && strings.Contains(d.Log.String(), "monthly report written") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s := readSummaryFile(t, summary); s.Records != 600 || s.Month != name {
		t.Fatalf("caught-up report: %d records for %s\n%s", s.Records, s.Month, d.Log)
	}
	if last, err := report.LastReported(out); err != nil || !last.Equal(prev) {
		t.Fatalf("marker %v %v, want %s", last, err, name)
	}
	d.Stop()
	d = e2e.Start(t, dir, yaml)
	e2e.WaitLog(t, d, "monthly reports caught up")
	d.Stop()
	if strings.Contains(d.Log.String(), "monthly report started") {
		t.Fatalf("the report ran again after it was done\n%s", d.Log)
	}
}

// TestReportOutputIsTidy: a one-day report says "1 day", leaves no lock
// file behind, and on a non-terminal stderr ends its progress lines with a
// final "done" line instead of a stale percentage.
func TestReportOutputIsTidy(t *testing.T) {
	t.Parallel()
	dir, out := t.TempDir(), t.TempDir()
	d := e2e.Start(t, dir, "segments:\n  block_age: 100ms\nreport:\n  schedule: \"off\"\n")
	postMonthRecords(t, d, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), []int{3}, 300)
	d.Stop()
	text, code := e2e.CLI(t, "report", "--month", "2026-10", "--data-dir", dir, "--out", out)
	if code != 0 || !strings.Contains(text, "300 records over 1 day (") {
		t.Fatalf("report: exit %d\n%s", code, text)
	}
	var last string // the last progress line: "done", not a stale percentage
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "report: ") {
			last = l
		}
	}
	if !strings.HasPrefix(last, "report: done, 300 records") {
		t.Errorf("the last progress line is %q, not the final one:\n%s", last, text)
	}
	if locks, _ := filepath.Glob(filepath.Join(out, ".*.lock")); len(locks) != 0 {
		t.Errorf("lock files left behind: %v", locks)
	}
}

// TestScheduledReportWaitsForData: on a brand-new data dir the missed
// report of last month finds no data and does not mark the month done, so
// records posted for it afterwards get their report at the next start.
func TestScheduledReportWaitsForData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := time.Now().UTC()
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0)
	if now.Day() == 1 && now.Hour() < 3 {
		month = month.AddDate(0, -1, 0) // the schedule (1st, 03:00) has not fired yet this month
	}
	d := e2e.Start(t, dir, "segments:\n  block_age: 100ms\n")
	e2e.WaitLog(t, d, "no data for the month yet")
	if _, err := os.Stat(filepath.Join(dir, "reports", report.MarkerName)); err == nil {
		t.Fatalf("a month without data was marked reported\n%s", d.Log)
	}
	var body strings.Builder
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&body, `{"ts":"%s","i":%d}`+"\n", month.Add(14*24*time.Hour).Format(time.RFC3339), i)
	}
	if r := d.Post(t, "/v1/ingest", []byte(body.String()), nil); r.Code != 200 {
		t.Fatal(r.Body)
	}
	d.Stop()
	d = e2e.Start(t, dir, "segments:\n  block_age: 100ms\n")
	name := month.Format("2006-01")
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if last, _ := report.LastReported(filepath.Join(dir, "reports")); last.Format("2006-01") == name {
			break
		}
	}
	d.Stop()
	s := readSummaryFile(t, filepath.Join(dir, "reports", name, "summary.json"))
	if s.Records != 100 {
		t.Fatalf("report of %s: %d records, want 100\n%s", name, s.Records, d.Log)
	}
}

// The report counts the lines intake rejected in its month, by reason, and
// says so on the page (it used to show "bad lines 0" beside them).
func TestReportCountsRejectedLines(t *testing.T) {
	t.Parallel()
	dir, out := t.TempDir(), t.TempDir()
	month := time.Now().UTC()
	d := e2e.Start(t, dir, "segments:\n  block_age: 100ms\nreport:\n  schedule: \"off\"\n")
	body := fmt.Sprintf("{\"ts\":%q,\"ok\":1}\nnot json\n[1]\n{\"ts\":\"yesterday\"}\n{\"broken\":\n", month.Format(time.RFC3339))
	if r := d.Post(t, "/v1/ingest?invalid=skip", []byte(body), nil); r.Code != 200 || !strings.Contains(r.Body, `"rejected":4`) {
		t.Fatalf("%d %s", r.Code, r.Body)
	}
	d.Stop() // the rejected store's last frame is closed
	if time.Now().UTC().Month() != month.Month() {
		t.Skip("the month changed while the test ran")
	}
	if text, code := e2e.CLI(t, "report", "--month", month.Format("2006-01"), "--data-dir", dir, "--out", out); code != 0 {
		t.Fatalf("report: exit %d\n%s", code, text)
	}
	s := readSummaryFile(t, filepath.Join(out, month.Format("2006-01"), "summary.json"))
	want := map[string]int64{"invalid_json": 2, "not_object": 1, "timestamp": 1}
	if fmt.Sprint(s.Rejected) != fmt.Sprint(want) {
		t.Errorf("rejected_at_intake %v, want %v", s.Rejected, want)
	}
	page, _ := os.ReadFile(filepath.Join(out, month.Format("2006-01"), "report.html"))
	if !strings.Contains(string(page), "rejected at intake<b>4</b>") || !strings.Contains(string(page), "<td>invalid_json</td><td class=\"n\">2</td>") {
		t.Errorf("report.html does not show the rejected lines")
	}
	// The month before has none, and says so.
	prev := report.MonthStart(month).AddDate(0, -1, 0).Format("2006-01")
	e2e.CLI(t, "report", "--month", prev, "--data-dir", dir, "--out", out)
	if s := readSummaryFile(t, filepath.Join(out, prev, "summary.json")); s.Rejected == nil || len(s.Rejected) != 0 {
		t.Errorf("%s: rejected_at_intake %v, want {}", prev, s.Rejected)
	}
}

// ingestd report --where counts only the matching records, into another
// folder, leaving the daily partials those of the configured report; a bad
// filter names its position.
func TestReportWhere(t *testing.T) {
	t.Parallel()
	dir, out := t.TempDir(), t.TempDir()
	d := e2e.Start(t, dir, "segments:\n  block_age: 100ms\n  seal_grace: 0s\n  seal_idle: 300ms\nreport:\n  schedule: \"off\"\n")
	levels := postMonthRecords(t, d, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), []int{3, 4}, 500)
	d.Stop()
	partials, _ := filepath.Glob(filepath.Join(dir, "segments", "dt=2026-10-0*", "*.partial.json"))
	before := map[string]string{}
	for _, p := range partials {
		b, _ := os.ReadFile(p)
		before[p] = string(b)
	}
	text, code := e2e.CLI(t, "report", "--month", "2026-10", "--data-dir", dir, "--out", out, "--where", `level == "error" or service == "svc-1" and duration_ms >= 400`)
	if code != 0 {
		t.Fatalf("report --where: exit %d\n%s", code, text)
	}
	// The reference: the records postMonthRecords made, decided in Go.
	names := []string{"info", "info", "info", "warn", "error"}
	var want int64
	for day := 0; day < 2; day++ {
		for i := 0; i < 500; i++ {
			if names[i%5] == "error" || (i%3 == 1 && i%1000 >= 400) {
				want++
			}
		}
	}
	s := readSummaryFile(t, filepath.Join(out, "2026-10", "summary.json"))
	if s.Records != want || s.Config["where"] != `level == "error" or service == "svc-1" and duration_ms >= 400` {
		t.Fatalf("filtered report: %d records (where %v), want %d", s.Records, s.Config["where"], want)
	}
	if top := s.Top["level"]; len(top) == 0 || top[0].Value != "error" || top[0].Count != int64(levels["error"]) {
		t.Fatalf("levels %+v: want every error (%d) first", top, levels["error"])
	}
	page, _ := os.ReadFile(filepath.Join(out, "2026-10", "report.html"))
	if !strings.Contains(string(page), "Only the records matching") {
		t.Error("the page does not say it is filtered")
	}
	for _, p := range partials {
		if b, _ := os.ReadFile(p); string(b) != before[p] {
			t.Errorf("%s changed: a filtered run stores no partials", p)
		}
	}
	if text, code := e2e.CLI(t, "report", "--month", "2026-10", "--data-dir", dir, "--where", `level == "error"`); code != 2 || !strings.Contains(text, "give --out") {
		t.Errorf("--where without --out: exit %d\n%s", code, text)
	}
	if text, code := e2e.CLI(t, "report", "--month", "2026-10", "--data-dir", dir, "--out", out, "--where", `level == `); code != 2 || !strings.Contains(text, "at 10") {
		t.Errorf("a bad filter: exit %d\n%s", code, text)
	}
	// Any range of whole days (daily partials serve it when the days have them: TestRangeReport).
	text, code = e2e.CLI(t, "report", "--from", "2026-10-04", "--to", "2026-10-05", "--data-dir", dir, "--out", out)
	if code != 0 || !strings.Contains(text, "2026-10-04_to_2026-10-04: 500 records over 1 day (") {
		t.Fatalf("report --from --to: exit %d\n%s", code, text)
	}
	if s := readSummaryFile(t, filepath.Join(out, "2026-10-04_to_2026-10-04", "summary.json")); s.From != "2026-10-04" || s.To != "2026-10-04" || s.Records != 500 {
		t.Errorf("range summary %s..%s %d records", s.From, s.To, s.Records)
	}
	for _, bad := range [][]string{{"--from", "2026-10-04"}, {"--from", "2026-10-05", "--to", "2026-10-04"}, {"--month", "2026-10", "--from", "2026-10-04", "--to", "2026-10-05"}} {
		if text, code := e2e.CLI(t, append([]string{"report", "--data-dir", dir, "--out", out}, bad...)...); code != 2 {
			t.Errorf("%v: exit %d\n%s", bad, code, text)
		}
	}
}

// report.schedules: a daily and a weekly report, caught up at start once
// their periods have data, each in its own folder, and not run again at
// the next start.
func TestReportSchedulesDailyWeekly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := "report:\n  schedule: \"off\"\n  schedules:\n    - {name: daily, cron: \"CRON_TZ=UTC 0 0 * * *\", period: day}\n    - {name: weekly, cron: \"CRON_TZ=UTC 0 0 * * 1\", period: week}\n"
	now := time.Now().UTC()
	yesterday := report.Day.Prev(report.Day.Start(now))
	lastWeek := report.Week.Prev(report.Week.Start(now))
	d := e2e.Start(t, dir, cfg)
	var body bytes.Buffer
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&body, `{"timestamp":"%s","n":%d}`+"\n", yesterday.Add(time.Duration(i)*time.Minute).Format(time.RFC3339), i)
		fmt.Fprintf(&body, `{"timestamp":"%s","n":%d}`+"\n", lastWeek.Add(time.Duration(i)*time.Hour).Format(time.RFC3339), i)
	}
	if r := d.Post(t, "/v1/ingest", body.Bytes(), nil); r.Code != 200 {
		t.Fatalf("post: %d %s", r.Code, r.Body)
	}
	d.Stop()
	d = e2e.Start(t, dir, cfg)
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		l := d.Log.String()
		if strings.Contains(l, "daily report written") && strings.Contains(l, "weekly report written") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the scheduled reports were not caught up:\n%s", l)
		}
	}
	d.Stop()
	out := filepath.Join(dir, "reports")
	dayName, weekName := report.Day.Name(yesterday), report.Week.Name(lastWeek)
	daily := readSummaryFile(t, filepath.Join(out, dayName, "summary.json"))
	weekly := readSummaryFile(t, filepath.Join(out, weekName, "summary.json"))
	wantWeek := int64(30)
	if !yesterday.Before(lastWeek) && yesterday.Before(report.Week.Next(lastWeek)) {
		wantWeek = 60 // yesterday was in the last ISO week (today is a Monday)
	}
	if daily.Records != 30 || weekly.Records != wantWeek {
		t.Fatalf("daily %s: %d records, weekly %s: %d, want 30 and %d", dayName, daily.Records, weekName, weekly.Records, wantWeek)
	}
	d = e2e.Start(t, dir, cfg)
	e2e.WaitLog(t, d, "daily reports caught up")
	e2e.WaitLog(t, d, "weekly reports caught up")
	d.Stop()
	if strings.Contains(d.Log.String(), "report started") {
		t.Fatalf("a reported period ran again:\n%s", d.Log)
	}
}
