package reports

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/e2e"
)

// ingestd query answers grouped questions as DuckDB does on the same
// files (counts and sums), prints matching records, and refuses bad
// questions with exit 2.
func TestQueryCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := e2e.Start(t, dir, "report:\n  schedule: \"off\"\n")
	postMonthRecords(t, d, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), []int{3, 4, 5}, 400)
	d.Stop()
	args := func(extra ...string) []string {
		return append([]string{"query", "--data-dir", dir, "--from", "2026-10-04", "--to", "2026-10-06"}, extra...)
	}
	out, code := e2e.CLI(t, args("--by", "level", "--stats", "count,sum(duration_ms),max(duration_ms)", "--where", `service != "svc-0"`, "--format", "json")...)
	if code != 0 {
		t.Fatalf("query: exit %d\n%s", code, out)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("JSON: %v\n%s", err, out)
	}
	var got []string
	for _, r := range rows {
		got = append(got, fmt.Sprintf("%v|%v|%v", r["level"], r["count"], r["sum(duration_ms)"]))
	}
	// The reference, computed from what postMonthRecords wrote.
	names := []string{"info", "info", "info", "warn", "error"}
	type agg struct{ n, sum int }
	ref := map[string]*agg{}
	for day := 0; day < 2; day++ {
		for i := 0; i < 400; i++ {
			if i%3 == 0 {
				continue // svc-0
			}
			a := ref[names[i%5]]
			if a == nil {
				a = &agg{}
				ref[names[i%5]] = a
			}
			a.n++
			a.sum += i % 1000
		}
	}
	for _, lv := range []string{"info", "warn", "error"} {
		want := fmt.Sprintf("%s|%d|%d", lv, ref[lv].n, ref[lv].sum)
		if !strings.Contains(strings.Join(got, " "), want) {
			t.Errorf("query: %v, want %s among them", got, want)
		}
	}
	if got[0] != fmt.Sprintf("info|%d|%d", ref["info"].n, ref["info"].sum) {
		t.Errorf("largest group first: %v", got)
	}
	// DuckDB on the same files, same question.
	dk := e2e.DuckDB(t, fmt.Sprintf(`select level, count(*), sum(duration_ms) from read_json('%s/segments/dt=2026-10-*/*.ndjson.zst', format='newline_delimited')
		where "timestamp" >= '2026-10-04' and "timestamp" < '2026-10-06' and service <> 'svc-0' group by level order by count(*) desc, level`, dir))
	var dkRows [][]any
	json.Unmarshal([]byte(dk), &dkRows)
	if len(dkRows) != len(rows) {
		t.Fatalf("duckdb: %s; ingestd: %s", dk, out)
	}
	for i, r := range dkRows {
		if fmt.Sprint(r[0], "|", r[1], "|", r[2]) != got[i] {
			t.Errorf("row %d: duckdb %v, ingestd %s", i, r, got[i])
		}
	}

	// The table, CSV and records forms.
	out, code = e2e.CLI(t, args("--by", "level,service", "--limit", "2")...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || !strings.HasPrefix(lines[0], "level  service  count") || !strings.Contains(out, "2 of 9 groups shown") {
		t.Errorf("table: exit %d\n%s", code, out)
	}
	out, code = e2e.CLI(t, args("--stats", "count", "--format", "csv")...)
	if code != 0 || strings.TrimSpace(out) != "count\n800" {
		t.Errorf("csv: exit %d\n%s", code, out)
	}
	out, code = e2e.CLI(t, args("--where", `level == "error" and duration_ms >= 395`)...)
	recs := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(recs) != 2 || !strings.Contains(recs[0], `"level":"error"`) || !strings.Contains(out, `"duration_ms":399`) {
		t.Errorf("records: exit %d\n%s", code, out)
	}
	for _, bad := range [][]string{
		{"query", "--data-dir", dir, "--to", "2026-10-06"},
		args("--where", `level ==`),
		args("--stats", "avg(x)"),
		args("--by", "a,b,c"),
		args("--format", "table"),
		{"query", "--data-dir", dir, "--from", "2026-10-06", "--to", "2026-10-04"},
	} {
		if out, code := e2e.CLI(t, bad...); code != 2 || !strings.HasPrefix(out, "ingestd query: ") {
			t.Errorf("%v: exit %d\n%s", bad, code, out)
		}
	}
}

// A question that a configured breakdown, or a count by a configured
// dimension, answers over whole days comes from the daily partials the
// daemon stored, and equals the scan's answer (--rescan); other questions
// are scanned.
func TestQueryFromPartials(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	yaml := `report:
  schedule: "off"
  dimensions: [level, service]
  metrics: [duration_ms]
  breakdowns:
    - {name: lv, by: [level], where: 'service != "svc-0"', stats: [count, share, sum(duration_ms), max(duration_ms)]}
segments:
  block_age: 100ms
  seal_grace: 0s
  seal_idle: 200ms
`
	cfg := filepath.Join(t.TempDir(), "ingestd.yaml")
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	d := e2e.Start(t, dir, yaml)
	postMonthRecords(t, d, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), []int{3, 4, 5}, 400)
	e2e.WaitFor(t, "three daily partials", func() bool { return strings.Count(d.Log.String(), "daily report partial written") >= 3 })
	d.Stop()

	ask := func(extra ...string) (string, string) {
		t.Helper()
		args := append([]string{"query", "--config", cfg, "--data-dir", dir, "--from", "2026-10-03", "--to", "2026-10-06", "--format", "csv"}, extra...)
		cmd := exec.Command(e2e.Bin, args...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v: %v\n%s%s", extra, err, stdout.String(), stderr.String())
		}
		return stdout.String(), stderr.String()
	}
	for _, q := range [][]string{
		{"--by", "level", "--where", `service!="svc-0"`, "--stats", "sum(duration_ms),count"},
		{"--by", "level", "--where", `service != "svc-0"`, "--stats", "share", "--limit", "2"},
		{"--by", "level"},
		{"--by", "service", "--stats", "count"},
	} {
		out, note := ask(q...)
		if !strings.Contains(note, "answered from the daily partials of 3 days") {
			t.Errorf("%v: not from the partials (stderr %q)", q, note)
		}
		scanned, snote := ask(append(q, "--rescan")...)
		if strings.Contains(snote, "partials") || out != scanned || len(strings.Split(strings.TrimSpace(out), "\n")) < 3 {
			t.Errorf("%v: partials\n%s\nscan\n%s(stderr %q)", q, out, scanned, snote)
		}
	}
	// Not a breakdown's question, or not whole days: scanned.
	for _, q := range [][]string{
		{"--by", "level", "--stats", "p50(duration_ms)"},
		{"--by", "level", "--where", `service == "svc-1"`},
		{"--by", "level", "--to", "2026-10-05T12:00:00Z"},
	} {
		if _, note := ask(q...); strings.Contains(note, "partials") {
			t.Errorf("%v: answered from partials (stderr %q)", q, note)
		}
	}
}
