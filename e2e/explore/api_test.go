package explore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/e2e"
)

// rec is one generated record and what the tests know of it.
type rec struct {
	ts       time.Time
	level    string
	service  string
	status   int
	duration int // milliseconds ×1000 (the JSON has three decimals)
	line     string
}

// month posts perDay records for each of days of October 2026 whose values
// vary (a seeded generator), and returns them: the ground truth.
func month(t *testing.T, d *e2e.Daemon, days []int, perDay int) []rec {
	t.Helper()
	r := rand.New(rand.NewSource(7))
	levels := []string{"info", "info", "info", "warn", "error", "debug"}
	var all []rec
	for _, day := range days {
		var body bytes.Buffer
		base := time.Date(2026, 10, day, 0, 0, 0, 0, time.UTC)
		for i := 0; i < perDay; i++ {
			x := rec{ts: base.Add(time.Duration(i) * (24 * time.Hour / time.Duration(perDay))).Add(time.Duration(r.Intn(1000)) * time.Microsecond),
				level: levels[r.Intn(len(levels))], service: fmt.Sprintf("svc-%d", r.Intn(7)),
				status: []int{200, 200, 200, 201, 404, 500}[r.Intn(6)], duration: r.Intn(900000)}
			x.line = fmt.Sprintf(`{"timestamp":"%s","level":"%s","service":"%s","status":%d,"duration_ms":%d.%03d,"user":{"id":"u-%05d"},"msg":"order %d %s"}`,
				x.ts.Format(time.RFC3339Nano), x.level, x.service, x.status, x.duration/1000, x.duration%1000, r.Intn(20000), r.Intn(1000000), levels[r.Intn(6)])
			body.WriteString(x.line + "\n")
			all = append(all, x)
		}
		if res := d.Post(t, "/v1/ingest", body.Bytes(), nil); res.Code != 200 {
			t.Fatalf("post: %d %s", res.Code, res.Body)
		}
	}
	return all
}

// startMonth starts a daemon on dir (reports counting level, service and
// status, days sealed at once), posts month's records and waits for every
// day's partial.
func startMonth(t *testing.T, dir string, days []int, perDay int) (*e2e.Daemon, []rec) {
	t.Helper()
	d := e2e.Start(t, dir, `report:
  schedule: "off"
  dimensions: [level, service, status]
  metrics: [duration_ms]
segments:
  block_age: 100ms
  seal_grace: 0s
  seal_idle: 200ms
`)
	truth := month(t, d, days, perDay)
	e2e.WaitFor(t, "the daily partials", func() bool { return strings.Count(d.Log.String(), "daily report partial written") >= len(days) })
	return d, truth
}

// agg is the ground truth of one group: records and their durations' sum.
type agg struct{ n, sum int }

// levels groups the records keep accepts by level.
func levels(truth []rec, keep func(rec) bool) map[string]*agg {
	out := map[string]*agg{}
	for _, x := range truth {
		if !keep(x) {
			continue
		}
		a := out[x.level]
		if a == nil {
			a = &agg{}
			out[x.level] = a
		}
		a.n++
		a.sum += x.duration
	}
	return out
}

// get asks the read API and fails the test unless it answers want.
func get(t *testing.T, d *e2e.Daemon, call string, q url.Values, want int) e2e.Reply {
	t.Helper()
	r := d.Get(t, "/api/v1/"+call+"?"+q.Encode(), "")
	if r.Code != want {
		t.Fatalf("%s %v: %d %s, want %d", call, q, r.Code, r.Body, want)
	}
	return r
}

func vals(kv ...string) url.Values {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return q
}

// The read API gives ingestd query's answers byte for byte, DuckDB's on
// the same files and the ground truth's: groups (from the partials and by
// scan), records newest first with paging, hits per hour and the fields
// with their top values; and refuses mistakes with the position.
func TestQueryAPIMatchesCLIAndDuckDB(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var days []int
	for day := 1; day <= 31; day++ {
		days = append(days, day)
	}
	d, truth := startMonth(t, dir, days, 1000)
	from, to := "2026-10-01", "2026-11-01"

	// Groups: the API equals the CLI (from the partials, then by scan), and
	// both equal the ground truth and DuckDB.
	byLevel := levels(truth, func(rec) bool { return true })
	api := get(t, d, "query", vals("from", from, "to", to, "by", "level", "format", "csv"), 200)
	if !strings.HasPrefix(api.Hdr.Get("X-Ingestd-Answered-From"), "partials of 31 days") {
		t.Errorf("by level over whole days: answered from %q, want the partials", api.Hdr.Get("X-Ingestd-Answered-From"))
	}
	cli, code := e2e.CLI(t, "query", "--data-dir", dir, "--from", from, "--to", to, "--by", "level", "--format", "csv")
	if code != 0 || cli != api.Body {
		t.Errorf("CLI (exit %d)\n%s\nAPI\n%s", code, cli, api.Body)
	}
	for lv, a := range byLevel {
		if !strings.Contains(api.Body, fmt.Sprintf("\n%s,%d\n", lv, a.n)) {
			t.Errorf("by level: %q lacks %s,%d", api.Body, lv, a.n)
		}
	}
	q := vals("from", from, "to", to, "by", "level", "stats", "count,sum(duration_ms)", "where", `service != "svc-0"`, "format", "json")
	api = get(t, d, "query", q, 200)
	if !strings.HasPrefix(api.Hdr.Get("X-Ingestd-Answered-From"), "scan of") {
		t.Errorf("a filtered question: answered from %q, want a scan", api.Hdr.Get("X-Ingestd-Answered-From"))
	}
	cli, _ = e2e.CLI(t, "query", "--data-dir", dir, "--from", from, "--to", to, "--by", "level", "--stats", "count,sum(duration_ms)", "--where", `service != "svc-0"`, "--format", "json")
	var rows, cliRows []map[string]any
	if err := json.Unmarshal([]byte(api.Body), &rows); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal([]byte(cli), &cliRows)
	// The same groups in the same order; sums of floats equal up to the
	// order in which parallel workers added them.
	for i := range max(len(rows), len(cliRows)) {
		if i >= len(rows) || i >= len(cliRows) || rows[i]["level"] != cliRows[i]["level"] || rows[i]["count"] != cliRows[i]["count"] ||
			math.Abs(rows[i]["sum(duration_ms)"].(float64)-cliRows[i]["sum(duration_ms)"].(float64)) > 1e-6 {
			t.Errorf("CLI\n%s\nAPI\n%s", cli, api.Body)
			break
		}
	}
	want := levels(truth, func(x rec) bool { return x.service != "svc-0" })
	if len(rows) != len(want) {
		t.Fatalf("%d groups, want %d: %s", len(rows), len(want), api.Body)
	}
	for _, r := range rows {
		a := want[r["level"].(string)]
		if a == nil || int(r["count"].(float64)) != a.n || fmt.Sprintf("%.3f", r["sum(duration_ms)"].(float64)) != fmt.Sprintf("%.3f", float64(a.sum)/1000) {
			t.Errorf("row %v, want %+v", r, a)
		}
	}
	dk := e2e.DuckDB(t, fmt.Sprintf(`select level, count(*), round(sum(duration_ms), 3) from read_json('%s/segments/dt=2026-10-*/*.ndjson.zst', format='newline_delimited')
		where service <> 'svc-0' group by level order by count(*) desc, level`, dir))
	var dkRows [][]any
	json.Unmarshal([]byte(dk), &dkRows)
	for i, r := range dkRows {
		if i >= len(rows) || fmt.Sprint(r[0], r[1]) != fmt.Sprint(rows[i]["level"], rows[i]["count"]) {
			t.Errorf("row %d: DuckDB %v, API %v", i, r, rows)
		}
	}

	// Records: newest first, limit and offset, the filter applied.
	var errs []rec
	for _, x := range truth {
		if x.level == "error" && x.status == 500 {
			errs = append(errs, x)
		}
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].ts.After(errs[j].ts) })
	w := `level == "error" and status == 500`
	api = get(t, d, "query", vals("from", from, "to", to, "where", w, "limit", "7", "format", "ndjson"), 200)
	lines := strings.Split(strings.TrimSpace(api.Body), "\n")
	if len(lines) != 7 {
		t.Fatalf("limit 7: %d records\n%s", len(lines), api.Body)
	}
	for i, l := range lines {
		if l != errs[i].line {
			t.Errorf("record %d: %s\nwant %s", i, l, errs[i].line)
		}
	}
	if got := api.Hdr.Get("X-Ingestd-Days-Scanned"); got != "1" {
		t.Errorf("the newest day holds 7 records: %s days scanned, want 1", got)
	}
	api = get(t, d, "query", vals("from", from, "to", to, "where", w, "limit", "3", "offset", "5", "format", "ndjson"), 200)
	if got := strings.Split(strings.TrimSpace(api.Body), "\n"); len(got) != 3 || got[0] != errs[5].line || got[2] != errs[7].line {
		t.Errorf("offset 5 limit 3: %v", got)
	}
	api = get(t, d, "query", vals("from", "2026-10-04T06:00:00Z", "to", "2026-10-04T07:00:00Z", "limit", "10000"), 200)
	var inHour []json.RawMessage
	if err := json.Unmarshal([]byte(api.Body), &inHour); err != nil {
		t.Fatalf("json records: %v\n%.300s", err, api.Body)
	}

	// Hits: per hour from the partials, and with a filter by scan.
	perHour := map[string]int{}
	perDayErr := map[string]int{}
	for _, x := range truth {
		perHour[x.ts.Truncate(time.Hour).Format(time.RFC3339)]++
		if x.level == "error" {
			perDayErr[x.ts.Truncate(24*time.Hour).Format(time.RFC3339)]++
		}
	}
	if n := perHour["2026-10-04T06:00:00Z"]; len(inHour) != n {
		t.Errorf("records of one hour: %d, want %d", len(inHour), n)
	}
	var hits struct {
		Hits []struct {
			Time  string
			Count int
		}
	}
	api = get(t, d, "hits", vals("from", from, "to", to, "step", "1h"), 200)
	json.Unmarshal([]byte(api.Body), &hits)
	if len(hits.Hits) != 31*24 || !strings.HasPrefix(api.Hdr.Get("X-Ingestd-Answered-From"), "partials of 31 days") {
		t.Fatalf("hits: %d buckets, from %q", len(hits.Hits), api.Hdr.Get("X-Ingestd-Answered-From"))
	}
	for _, h := range hits.Hits {
		if h.Count != perHour[h.Time] {
			t.Errorf("hits %s: %d, want %d", h.Time, h.Count, perHour[h.Time])
		}
	}
	api = get(t, d, "hits", vals("from", from, "to", to, "step", "1d", "where", `level == "error"`, "format", "csv"), 200)
	var csv strings.Builder
	csv.WriteString("time,count\n")
	for _, day := range days {
		k := time.Date(2026, 10, day, 0, 0, 0, 0, time.UTC).Format(time.RFC3339)
		fmt.Fprintf(&csv, "%s,%d\n", k, perDayErr[k])
	}
	if api.Body != csv.String() {
		t.Errorf("hits csv:\n%s\nwant\n%s", api.Body, csv.String())
	}

	// Fields: every path, shares and top values; with a filter, of the
	// matching records only.
	var fields struct {
		Records int64
		Fields  []struct {
			Path    string
			Types   []string
			Records int64
			Share   float64
			Top     []struct {
				Value   string
				Records int64
				Where   string
			}
		}
	}
	api = get(t, d, "fields", vals("from", from, "to", to, "top", "3"), 200)
	json.Unmarshal([]byte(api.Body), &fields)
	paths := map[string]int{}
	for i, f := range fields.Fields {
		paths[f.Path] = i
	}
	for _, p := range []string{"timestamp", "level", "service", "status", "duration_ms", "user", "user.id", "msg"} {
		if _, ok := paths[p]; !ok {
			t.Errorf("fields: no %s in %s", p, api.Body)
		}
	}
	if fields.Records != int64(len(truth)) {
		t.Errorf("fields: %d records, want %d", fields.Records, len(truth))
	}
	lv := fields.Fields[paths["level"]]
	if lv.Share != 1 || len(lv.Top) != 3 || lv.Top[0].Value != "info" || lv.Top[0].Records != int64(byLevel["info"].n) || lv.Top[0].Where != `level == "info"` {
		t.Errorf("level: %+v", lv)
	}
	st := fields.Fields[paths["status"]]
	if len(st.Top) == 0 || st.Top[0].Value != "200" || st.Top[0].Where != "status == 200" {
		t.Errorf("status: %+v", st)
	}
	api = get(t, d, "fields", vals("from", from, "to", to, "where", `level == "warn"`), 200)
	json.Unmarshal([]byte(api.Body), &fields)
	for _, f := range fields.Fields {
		if f.Records != int64(byLevel["warn"].n) {
			t.Errorf("fields of the warn records: %s has %d, want %d", f.Path, f.Records, byLevel["warn"].n)
		}
		if f.Path == "level" && (len(f.Top) != 1 || f.Top[0].Value != "warn") {
			t.Errorf("fields of the warn records: level's top %+v", f.Top)
		}
	}

	// Mistakes: JSON errors, the filter's with its position.
	r := get(t, d, "query", vals("from", from, "to", to, "where", `level == "x" and`), 400)
	var e struct {
		Error     string
		Parameter string
		Position  *int
	}
	if json.Unmarshal([]byte(r.Body), &e); e.Parameter != "where" || e.Position == nil || *e.Position != 16 || !strings.Contains(e.Error, "at 17") {
		t.Errorf("filter mistake: %s", r.Body)
	}
	for _, bad := range []url.Values{
		vals("to", to), vals("from", "yesterday", "to", to), vals("from", to, "to", from),
		vals("from", from, "to", to, "by", "a,b,c"), vals("from", from, "to", to, "stats", "avg(x)"),
		vals("from", from, "to", to, "limit", "20000"), vals("from", from, "to", to, "format", "xml"),
	} {
		if r := get(t, d, "query", bad, 400); !strings.HasPrefix(r.Body, `{"error":`) {
			t.Errorf("%v: %s", bad, r.Body)
		}
	}
	get(t, d, "hits", vals("from", from, "to", to, "step", "1s"), 400) // too many buckets
	get(t, d, "nothing", nil, 404)
}
