package report

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

type runs struct {
	mu     sync.Mutex
	months []string
	plan   []string // what the first runs do, in order: "panic" or "fail"; then succeed
	done   chan struct{}
}

func (r *runs) run(_ context.Context, m time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer func() {
		select {
		case r.done <- struct{}{}:
		default:
		}
	}()
	r.months = append(r.months, m.Format("2006-01"))
	if len(r.plan) == 0 {
		return nil
	}
	next := r.plan[0]
	r.plan = r.plan[1:]
	if next == "panic" {
		panic("report bug")
	}
	return errors.New("disk on fire")
}

func TestScheduleDue(t *testing.T) {
	s, err := NewScheduler("CRON_TZ=UTC 0 3 1 * *", t.TempDir(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for now, want := range map[string]string{
		"2026-11-01T02:59:00Z": "2026-09", // this month's run has not fired yet
		"2026-11-01T03:00:00Z": "2026-10",
		"2026-11-26T12:00:00Z": "2026-10",
		"2027-01-15T00:00:00Z": "2026-12",
	} {
		tm, _ := time.Parse(time.RFC3339, now)
		got, ok := s.Due(tm)
		if !ok || got.Format("2006-01") != want {
			t.Errorf("Due(%s) = %s %v, want %s", now, got.Format("2006-01"), ok, want)
		}
	}
	if _, err := NewScheduler("0 3 1 *", t.TempDir(), nil, nil); err == nil {
		t.Fatal("a four-field spec was accepted")
	}
}

func TestMissedReportRunsAtStart(t *testing.T) {
	out := t.TempDir()
	r := &runs{done: make(chan struct{}, 1)}
	s, err := NewScheduler("CRON_TZ=UTC 0 3 1 * *", out, r.run, nil)
	if err != nil {
		t.Fatal(err)
	}
	now, _ := time.Parse(time.RFC3339, "2026-11-26T12:00:00Z")
	s.now = func() time.Time { return now }
	os.WriteFile(filepath.Join(out, MarkerName), []byte("2026-09\n"), 0o600)
	s.Start()
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the missed October report did not run at start")
	}
	s.Stop()
	if last, _ := LastReported(out); last.Format("2006-01") != "2026-10" {
		t.Fatalf("marker %v, want 2026-10", last)
	}
	// Started again: nothing is due.
	r2 := &runs{}
	s2, _ := NewScheduler("CRON_TZ=UTC 0 3 1 * *", out, r2.run, nil)
	s2.now = s.now
	s2.Start()
	s2.Stop()
	if len(r2.months) != 0 {
		t.Fatalf("ran %v again", r2.months)
	}
}

func TestScheduledRunSurvivesFailureAndPanic(t *testing.T) {
	out := t.TempDir()
	r := &runs{done: make(chan struct{}, 10)}
	s, err := NewScheduler("@every 1s", out, r.run, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	s.now = func() time.Time { return now }
	os.WriteFile(filepath.Join(out, MarkerName), []byte("2000-01\n"), 0o600)
	// Catch-up panics (recovered), the first cron run fails, the next succeeds.
	r.plan = []string{"panic", "fail"}
	s.Start()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if last, _ := LastReported(out); !last.IsZero() && last.Year() > 2000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("runs %v", r.months)
		}
	}
	s.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.months) < 3 {
		t.Fatalf("runs %v: want a panic, a failure, then success", r.months)
	}
}

// TestNoDataIsNotReported: a month without data is not marked reported, so
// records that arrive for it later get a report; a reported month whose
// inputs changed is written again once its report is a day old, once.
func TestNoDataIsNotReported(t *testing.T) {
	out := t.TempDir()
	var mu sync.Mutex
	hasData, inputs, ran := false, "a", 0
	run := func(ctx context.Context, month time.Time) error {
		mu.Lock()
		defer mu.Unlock()
		if !hasData {
			return ErrNoData
		}
		ran++
		os.MkdirAll(out, 0o700)
		return nil
	}
	now := time.Now()
	due := MonthStart(now).AddDate(0, -1, 0).Format("2006-01")
	if now.Day() == 1 && now.Hour() < 3 {
		due = MonthStart(now).AddDate(0, -2, 0).Format("2006-01")
	}
	start := func() {
		s, err := NewScheduler("CRON_TZ=UTC 0 3 1 * *", out, run, nil)
		if err != nil {
			t.Fatal(err)
		}
		s.now = func() time.Time { return now }
		s.SetFingerprint(func(context.Context, time.Time) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			return inputs, nil
		})
		s.Start()
		s.waitStartup()
		s.Stop()
	}
	start()
	if last, _ := LastReported(out); !last.IsZero() {
		t.Fatalf("a month without data was marked reported: %v", last)
	}
	mu.Lock()
	hasData = true
	mu.Unlock()
	start()
	if last, _ := LastReported(out); last.Format("2006-01") != due || ran != 1 {
		t.Fatalf("after data arrived: marker %v, %d runs", last, ran)
	}
	mu.Lock()
	inputs = "b" // a late part
	mu.Unlock()
	start()
	if ran != 1 {
		t.Fatalf("rewritten within a day of the report: %d runs", ran)
	}
	// A day later (the inputs file is what the one-day rule reads).
	old := time.Now().Add(-25 * time.Hour)
	if err := os.Chtimes(filepath.Join(out, "."+due+".inputs"), old, old); err != nil {
		t.Fatal(err)
	}
	start()
	if ran != 2 {
		t.Fatalf("late data: %d runs, want a rewrite", ran)
	}
	start()
	if ran != 2 {
		t.Fatalf("rewritten again without a change: %d runs", ran)
	}
}

func TestPeriods(t *testing.T) {
	at, _ := time.Parse(time.RFC3339, "2026-11-26T12:34:00Z") // a Thursday
	for _, c := range []struct {
		p               Period
		start, prevName string
	}{
		{Day, "2026-11-26", "2026-11-25_to_2026-11-25"},
		{Week, "2026-11-23", "2026-11-16_to_2026-11-22"},
		{Month, "2026-11-01", "2026-10"},
	} {
		s := c.p.Start(at)
		if s.Format(time.DateOnly) != c.start || c.p.Name(c.p.Prev(s)) != c.prevName {
			t.Errorf("%s: start %s, previous %s", c.p, s.Format(time.DateOnly), c.p.Name(c.p.Prev(s)))
		}
		if back, err := c.p.parse(c.p.Name(s)); err != nil || !back.Equal(s) {
			t.Errorf("%s: %s parses back to %v %v", c.p, c.p.Name(s), back, err)
		}
	}
	if _, err := ParsePeriod("year"); err == nil {
		t.Fatal("period year accepted")
	}
}

// Named daily and weekly schedules: each reports the period before its
// latest firing at start when it was missed, keeps its own marker, and
// never runs twice for one period.
func TestNamedSchedulesCatchUpOnce(t *testing.T) {
	out := t.TempDir()
	now, _ := time.Parse(time.RFC3339, "2026-11-26T12:00:00Z")
	var mu sync.Mutex
	ran := map[string][]string{}
	start := func(name string, p Period, spec string) *Scheduler {
		s, err := NewPeriodScheduler(name, p, spec, out, func(_ context.Context, from time.Time) error {
			mu.Lock()
			ran[name] = append(ran[name], p.Name(from))
			mu.Unlock()
			return nil
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		s.now = func() time.Time { return now }
		s.Start()
		return s
	}
	for round := 0; round < 2; round++ {
		d := start("daily", Day, "CRON_TZ=UTC 0 1 * * *")
		w := start("weekly", Week, "CRON_TZ=UTC 0 2 * * 1")
		// Start's catch-up runs in the background: wait for the markers.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			_, e1 := os.Stat(filepath.Join(out, MarkerName+"-daily"))
			_, e2 := os.Stat(filepath.Join(out, MarkerName+"-weekly"))
			if e1 == nil && e2 == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the catch-up runs did not write their markers")
			}
		}
		d.Stop()
		w.Stop()
	}
	if got := ran["daily"]; len(got) != 1 || got[0] != "2026-11-25_to_2026-11-25" {
		t.Errorf("daily runs %v, want yesterday once", got)
	}
	if got := ran["weekly"]; len(got) != 1 || got[0] != "2026-11-16_to_2026-11-22" {
		t.Errorf("weekly runs %v, want the last ISO week once", got)
	}
	if b, _ := os.ReadFile(filepath.Join(out, MarkerName)); len(b) != 0 {
		t.Errorf("the monthly marker was written: %q", b)
	}
}
