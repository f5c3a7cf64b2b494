package report

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ingestd/ingestd/report/filter"
	"github.com/ingestd/ingestd/segment"
)

func mustStats(t *testing.T, s string) []Stat {
	t.Helper()
	st, err := ParseStats(s)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// refGroup is a group computed row by row.
type refGroup struct {
	n, errs int64
	sum     float64
	durs    []float64
	users   map[string]bool
	levels  map[string]int64
}

func refKey(parts ...string) string { return strings.Join(parts, "|") }

func cell(v any) string {
	if v == nil {
		return "\x00null"
	}
	return v.(string)
}

// breakdownConfig is the tests' config with four breakdowns: by service per
// day with every kind of statistic; by two fields under a filter; per hour
// alone; and by user id beyond its capacity.
func breakdownConfig(t *testing.T) Config {
	cfg := testConfig()
	cfg.Breakdowns = []Breakdown{
		{Name: "svc_day", By: []string{"service"}, Time: "day",
			Stats: mustStats(t, `count,share,sum(duration_ms),p99(duration_ms),distinct(user.id),top(level),rate(level == "error")`)},
		{Name: "errors", By: []string{"service", "level"}, Where: `level in ("error", "warn") and exists(duration_ms)`,
			Stats: mustStats(t, "count,mean(duration_ms),max(duration_ms)")},
		{Name: "hourly", Time: "hour"},
		{Name: "users", By: []string{"user.id"}, Capacity: 50, Stats: mustStats(t, "count")},
	}
	return cfg
}

// Every breakdown equals the answer computed row by row: counts, shares,
// sums, rates and top values exactly, quantiles within DDSketch's bound,
// distinct counts within HyperLogLog's; past its capacity, every kept count
// lies within its error bound and no dropped group had more than the
// table's bound. Merging per-day aggregates (through their JSON form, as
// partials store them) gives the same tables as one scan.
func TestBreakdownsMatchRowByRow(t *testing.T) {
	dir := t.TempDir()
	genMonth(t, dir, 3, 3000)
	files := monthFiles(t, dir)
	rows := readRows(t, files)
	cfg := breakdownConfig(t)
	whereErr, _ := filter.Parse(cfg.Breakdowns[1].Where)

	svcDay, errs, hours, users := map[string]*refGroup{}, map[string]*refGroup{}, map[string]int64{}, map[string]int64{}
	get := func(m map[string]*refGroup, k string) *refGroup {
		if m[k] == nil {
			m[k] = &refGroup{users: map[string]bool{}, levels: map[string]int64{}}
		}
		return m[k]
	}
	for _, r := range rows {
		day := r.ts.Format(time.DateOnly)
		g := get(svcDay, refKey(day, str(r.svc)))
		g.n++
		if r.dur != nil {
			g.sum += *r.dur
			g.durs = append(g.durs, *r.dur)
		}
		if r.user != nil {
			g.users[*r.user] = true
		}
		if r.level != nil {
			g.levels[*r.level]++
			if *r.level == "error" {
				g.errs++
			}
		}
		if matches(whereErr, r.line) {
			e := get(errs, refKey(str(r.svc), str(r.level)))
			e.n++
			if r.dur != nil { // else a string: no number to count
				e.sum += *r.dur
				e.durs = append(e.durs, *r.dur)
			}
		}
		hours[r.ts.Truncate(time.Hour).Format("2006-01-02T15Z")]++
		users[str(r.user)]++
	}

	a, err := Scan(context.Background(), files, cfg, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := summarize("2026-10", a, cfg)
	if len(s.Breakdowns) != 4 {
		t.Fatalf("%d breakdowns", len(s.Breakdowns))
	}
	check := func(s *Summary) {
		t.Helper()
		bt := s.Breakdowns[0]
		if !bt.Exact || bt.Records != int64(len(rows)) || len(bt.Rows) != len(svcDay) {
			t.Fatalf("svc_day: exact %v, %d records, %d rows; want %d records, %d groups", bt.Exact, bt.Records, len(bt.Rows), len(rows), len(svcDay))
		}
		want := []string{"time", "service", "count", "share", "sum(duration_ms)", "p99(duration_ms)", "distinct(user.id)", "top(level)", `rate(level == "error")`}
		if strings.Join(bt.Columns, ",") != strings.Join(want, ",") {
			t.Fatalf("columns %q", bt.Columns)
		}
		for i, row := range bt.Rows {
			g := svcDay[refKey(cell(row[0]), cell(row[1]))]
			if g == nil {
				t.Fatalf("svc_day: group %v not in the reference", row[:2])
			}
			if i > 0 && cell(row[0]) < cell(bt.Rows[i-1][0]) {
				t.Fatal("svc_day: rows not in time order")
			}
			if row[2].(int64) != g.n || row[3].(float64) != float64(g.n)/float64(len(rows)) {
				t.Errorf("svc_day %v: count %v share %v, want %d", row[:2], row[2], row[3], g.n)
			}
			if len(g.durs) > 0 {
				sort.Float64s(g.durs)
				if math.Abs(row[4].(float64)-g.sum) > 1e-9*g.sum+1e-9 {
					t.Errorf("svc_day %v: sum %v, want %g", row[:2], row[4], g.sum)
				}
				if q := exactQuantile(g.durs, 0.99); math.Abs(row[5].(float64)-q) > QuantileError*q+1e-9 {
					t.Errorf("svc_day %v: p99 %v, exact %g", row[:2], row[5], q)
				}
			} else if row[4] != nil || row[5] != nil {
				t.Errorf("svc_day %v: sum and p99 without values: %v %v", row[:2], row[4], row[5])
			}
			if d, n := float64(row[6].(int64)), float64(len(g.users)); math.Abs(d-n) > 3*DistinctError*n+1 {
				t.Errorf("svc_day %v: distinct %v, exact %g", row[:2], d, n)
			}
			type lv struct {
				v string
				n int64
			}
			var lvs []lv
			for v, n := range g.levels {
				lvs = append(lvs, lv{v, n})
			}
			sort.Slice(lvs, func(i, j int) bool { return lvs[i].n > lvs[j].n || lvs[i].n == lvs[j].n && lvs[i].v < lvs[j].v })
			if got := row[7].(string); !strings.HasPrefix(got, lvs[0].v+" (") || !strings.Contains(got, "("+itoa(lvs[0].n)+")") {
				t.Errorf("svc_day %v: top %q, want %s first with %d", row[:2], got, lvs[0].v, lvs[0].n)
			}
			if row[8].(float64) != float64(g.errs)/float64(g.n) {
				t.Errorf("svc_day %v: error rate %v, want %d/%d", row[:2], row[8], g.errs, g.n)
			}
		}

		bt = s.Breakdowns[1]
		if !bt.Exact || len(bt.Rows) != len(errs) || bt.Where != `level in ("error", "warn") and exists(duration_ms)` {
			t.Fatalf("errors: exact %v, %d rows, want %d; where %q", bt.Exact, len(bt.Rows), len(errs), bt.Where)
		}
		var total int64
		for _, row := range bt.Rows {
			g := errs[refKey(cell(row[0]), cell(row[1]))]
			if g == nil {
				t.Fatalf("errors: group %v not in the reference", row[:2])
			}
			total += g.n
			sort.Float64s(g.durs)
			mean := g.sum / float64(len(g.durs))
			if row[2].(int64) != g.n || math.Abs(row[3].(float64)-mean) > 1e-9*g.sum || row[4].(float64) != g.durs[len(g.durs)-1] {
				t.Errorf("errors %v: %v, want count %d mean %g max %g", row[:2], row[2:], g.n, mean, g.durs[len(g.durs)-1])
			}
		}
		if bt.Records != total {
			t.Errorf("errors: %d records, want %d", bt.Records, total)
		}

		bt = s.Breakdowns[2]
		if len(bt.Rows) != len(hours) {
			t.Fatalf("hourly: %d rows, want %d", len(bt.Rows), len(hours))
		}
		for _, row := range bt.Rows {
			if row[1].(int64) != hours[cell(row[0])] {
				t.Errorf("hourly %v: %v, want %d", row[0], row[1], hours[cell(row[0])])
			}
		}

		checkBound(t, s.Breakdowns[3], users, 50)
	}
	check(s)

	// Per day, through JSON, merged: the same answer.
	days, err := segment.ListDays(dir)
	if err != nil {
		t.Fatal(err)
	}
	merged := NewAgg(cfg)
	for _, d := range days {
		f, err := segment.DayInputs(d.Dir)
		if err != nil {
			t.Fatal(err)
		}
		da, err := Scan(context.Background(), f, cfg, ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(da)
		if err != nil {
			t.Fatal(err)
		}
		var back Agg
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if err := merged.Merge(&back); err != nil {
			t.Fatal(err)
		}
	}
	ms := summarize("2026-10", merged, cfg)
	// The users table is an estimate either way; the others are exact.
	ms.Breakdowns[3] = s.Breakdowns[3]
	check(ms)
	for i := 0; i < 3; i++ {
		a, b := s.Breakdowns[i].Rows, ms.Breakdowns[i].Rows
		for r := range a {
			for c := range a[r] {
				x, y := a[r][c], b[r][c]
				if fx, ok := x.(float64); ok { // sums in another order: the last bits may differ
					if fy, ok := y.(float64); !ok || math.Abs(fx-fy) > 1e-9*math.Abs(fx) {
						t.Errorf("%s row %d: merged %v, scanned %v", s.Breakdowns[i].Name, r, b[r], a[r])
					}
				} else if x != y {
					t.Errorf("%s row %d: merged %v, scanned %v", s.Breakdowns[i].Name, r, b[r], a[r])
				}
			}
		}
	}
}

// checkBound checks a breakdown past its capacity against the true counts:
// every kept count within its error bound, no dropped group above it.
func checkBound(t *testing.T, bt *BreakdownTable, truth map[string]int64, capacity int) {
	t.Helper()
	if bt.Exact || len(bt.Rows) != capacity || bt.ErrorBound <= 0 {
		t.Fatalf("%s: exact %v, %d rows, bound %d; want an estimate of %d groups", bt.Name, bt.Exact, len(bt.Rows), bt.ErrorBound, capacity)
	}
	kept := map[string]bool{}
	for _, row := range bt.Rows {
		k := cell(row[0])
		kept[k] = true
		if n := row[1].(int64); n < truth[k] || n > truth[k]+bt.ErrorBound {
			t.Errorf("%s %s: %d, true %d, bound %d", bt.Name, k, n, truth[k], bt.ErrorBound)
		}
	}
	for k, n := range truth {
		if !kept[k] && n > bt.ErrorBound {
			t.Errorf("%s %s: %d records, dropped, bound %d", bt.Name, k, n, bt.ErrorBound)
		}
	}
}

// A breakdown by a field with more values in one batch than
// maxBatchGroups prunes within the batch and keeps the same guarantee: a
// value dropped early that comes back often later in the batch is counted
// again, within the bound.
func TestBreakdownPrunesWithinBatch(t *testing.T) {
	dir := t.TempDir()
	truth := map[string]int64{}
	var lines [][]byte
	add := func(u string) {
		truth[u]++
		lines = append(lines, fmt.Appendf(nil, `{"timestamp":"2026-10-01T10:00:00Z","u":%q,"ms":%d}`, u, len(lines)%100))
	}
	add("late")
	for i := 0; i < 3*maxBatchGroups; i++ {
		add(fmt.Sprintf("x%05d", i))
	}
	for i := 0; i < 1000; i++ {
		add("late")
	}
	writePart(t, dir, october, 1, lines, len(lines), false)
	cfg := testConfig()
	cfg.BatchRows, cfg.Workers = 1<<20, 1 // one batch
	cfg.Breakdowns = []Breakdown{{Name: "users", By: []string{"u"}, Capacity: 20, Stats: mustStats(t, "count,p99(ms)")}}
	a, err := Scan(context.Background(), monthFiles(t, dir), cfg, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := a.Breakdowns["users"].Len(); n != 20 {
		t.Fatalf("%d groups kept", n)
	}
	bt := summarize("2026-10", a, cfg).Breakdowns[0]
	checkBound(t, bt, truth, 20)
	if bt.Rows[0][0] != "late" || bt.ErrorBound > 10 {
		t.Errorf("first row %v, bound %d: want late, within a few records", bt.Rows[0], bt.ErrorBound)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestBreakdownValidate(t *testing.T) {
	for _, b := range []Breakdown{
		{Name: "bad name", By: []string{"a"}},
		{Name: "x", By: []string{"a", "b", "c"}},
		{Name: "x", By: []string{"a..b"}},
		{Name: "x", Time: "week"},
		{Name: "x", Where: "a =="},
		{Name: "x", Stats: []Stat{{Fn: "median", Path: "a"}}},
		{Name: "x", Stats: []Stat{{Fn: "share", Path: "a"}}},
	} {
		cfg := testConfig()
		cfg.Breakdowns = []Breakdown{b}
		if err := cfg.Validate(); err == nil {
			t.Errorf("%+v accepted", b)
		}
	}
	cfg := testConfig()
	cfg.Breakdowns = []Breakdown{{Name: "a"}, {Name: "a"}}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "used twice") {
		t.Errorf("a name used twice: %v", err)
	}
	st, err := ParseStats(`count, rate(level in ("a,b", "c)")), top(x)`)
	if err != nil || len(st) != 3 || st[1].Path != `level in ("a,b", "c)")` {
		t.Fatalf("%+v %v", st, err)
	}
}
