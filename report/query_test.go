package report

import (
	"context"
	"encoding/json"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ingestd/ingestd/report/filter"
	"github.com/ingestd/ingestd/segment"
)

// queryRow is a generated record as the reference reads it.
type queryRow struct {
	line  []byte
	ts    time.Time
	hasTS bool
	level *string
	svc   *string
	dur   *float64
	user  *string
}

func readRows(t *testing.T, files []string) []queryRow {
	var rows []queryRow
	err := segment.ScanFiles(context.Background(), files, segment.ScanOptions{}, func(_ string, _ segment.BlockMeta, raw []byte) error {
		for _, l := range strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n") {
			var r struct {
				Timestamp *string
				TS        *int64
				Level     *string
				Service   *string
				Duration  any `json:"duration_ms"`
				User      struct{ ID *string }
			}
			json.Unmarshal([]byte(l), &r)
			q := queryRow{line: []byte(l), level: r.Level, svc: r.Service, user: r.User.ID}
			if f, ok := r.Duration.(float64); ok {
				q.dur = &f
			}
			if r.TS != nil {
				q.ts, q.hasTS = time.Unix(*r.TS, 0).UTC(), true
			} else if r.Timestamp != nil {
				if ts, err := time.Parse(time.RFC3339Nano, *r.Timestamp); err == nil {
					q.ts, q.hasTS = ts, true
				}
			}
			rows = append(rows, q)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func str(p *string) string {
	if p == nil {
		return "\x00null"
	}
	return *p
}

// A grouped question equals the answer computed row by row: counts and
// sums exactly, quantiles within DDSketch's bound, distinct counts within
// HyperLogLog's; a records question returns exactly the matching records.
func TestAskMatchesRowByRow(t *testing.T) {
	dir := t.TempDir()
	genMonth(t, dir, 3, 3000)
	files := monthFiles(t, dir)
	rows := readRows(t, files)
	from, to := october.Add(30*time.Hour), october.Add(66*time.Hour) // mid-day to mid-day
	where := `level != "debug" and exists(duration_ms)`
	e, _ := filter.Parse(where)
	type ref struct {
		n     int64
		sum   float64
		durs  []float64
		users map[string]bool
	}
	want := map[string]*ref{}
	var matching []string
	for _, r := range rows {
		if !r.hasTS || r.ts.Before(from) || !r.ts.Before(to) || !matches(e, r.line) {
			continue
		}
		matching = append(matching, string(r.line))
		k := str(r.level) + "|" + str(r.svc)
		g := want[k]
		if g == nil {
			g = &ref{users: map[string]bool{}}
			want[k] = g
		}
		g.n++
		if r.dur != nil {
			g.sum += *r.dur
			g.durs = append(g.durs, *r.dur)
		}
		if r.user != nil {
			g.users[*r.user] = true
		}
	}
	stats, err := ParseStats("count,sum(duration_ms),p90(duration_ms),distinct(user.id)")
	if err != nil {
		t.Fatal(err)
	}
	q := Question{From: from, To: to, Where: where, By: []string{"level", "service"}, Stats: stats}
	tab, err := Ask(context.Background(), files, q, testConfig(), ScanOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tab.Groups != len(want) || len(tab.Rows) != len(want) {
		t.Fatalf("%d groups, want %d", tab.Groups, len(want))
	}
	for i, row := range tab.Rows {
		k := row[0].(string) + "|" + row[1].(string)
		g := want[k]
		if g == nil {
			t.Fatalf("group %s not in the reference", k)
		}
		if i > 0 && row[2].(int64) > tab.Rows[i-1][2].(int64) {
			t.Fatal("rows not by count, largest first")
		}
		if row[2].(int64) != g.n || math.Abs(row[3].(float64)-g.sum) > 1e-6*g.sum {
			t.Errorf("%s: count %v sum %v, want %d %g", k, row[2], row[3], g.n, g.sum)
		}
		sort.Float64s(g.durs)
		if exact := exactQuantile(g.durs, 0.9); math.Abs(row[4].(float64)-exact) > QuantileError*exact+1e-9 {
			t.Errorf("%s: p90 %v, exact %g", k, row[4], exact)
		}
		if d, n := float64(row[5].(int64)), float64(len(g.users)); math.Abs(d-n) > 3*DistinctError*n+1 {
			t.Errorf("%s: distinct %v, exact %g", k, d, n)
		}
	}

	// Records: exactly the matching ones; with a limit, that many.
	var got []string
	if _, err := Ask(context.Background(), files, Question{From: from, To: to, Where: where}, testConfig(), ScanOptions{},
		func(l []byte) error { got = append(got, string(l)); return nil }); err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	sort.Strings(matching)
	if strings.Join(got, "\n") != strings.Join(matching, "\n") {
		t.Fatalf("records: %d, want %d", len(got), len(matching))
	}
	got = nil
	if _, err := Ask(context.Background(), files, Question{From: from, To: to, Where: where, Limit: 7}, testConfig(), ScanOptions{},
		func(l []byte) error { got = append(got, string(l)); return nil }); err != nil || len(got) != 7 {
		t.Fatalf("limit 7: %d records, %v", len(got), err)
	}
}

func TestParseStats(t *testing.T) {
	s, err := ParseStats(" count , sum(bytes),p99( duration_ms ),distinct(user.id)")
	if err != nil || len(s) != 4 || s[2].Name() != "p99(duration_ms)" || s[3].Fn != "distinct" {
		t.Fatalf("%+v %v", s, err)
	}
	for _, bad := range []string{"", "avg(x)", "count(x)", "sum", "sum(a b)"} {
		if _, err := ParseStats(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
