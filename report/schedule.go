package report

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ingestd/ingestd/internal/failpoint"
	"github.com/ingestd/ingestd/internal/fsutil"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/robfig/cron/v3"
)

// MarkerName is the file in the reports folder that holds the last month
// reported by the schedule (YYYY-MM).
const MarkerName = ".last-reported"

// LastSuccessGauge is ingestd_report_last_success_timestamp_seconds: when
// the monthly schedule writing into outDir last succeeded (its marker's
// modification time; 0: never).
func LastSuccessGauge(outDir string) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ingestd_report_last_success_timestamp_seconds",
		Help: "When the scheduled monthly report last succeeded (0: never)."}, func() float64 {
		st, err := os.Stat(filepath.Join(outDir, MarkerName))
		if err != nil {
			return 0
		}
		return float64(st.ModTime().Unix())
	})
}

// Period is what a schedule reports: the day, ISO week (Monday to Sunday)
// or month before the one it fires in, all in UTC.
type Period string

// Periods.
const (
	Day   Period = "day"
	Week  Period = "week"
	Month Period = "month"
)

// ParsePeriod checks a period name.
func ParsePeriod(s string) (Period, error) {
	switch p := Period(s); p {
	case Day, Week, Month:
		return p, nil
	}
	return "", fmt.Errorf("report: period %q: want day, week or month", s)
}

// Start is the first instant of the period holding t.
func (p Period) Start(t time.Time) time.Time {
	t = t.UTC()
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	switch p {
	case Week:
		return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7)) // back to Monday
	case Month:
		return MonthStart(t)
	}
	return d
}

// Next is the start of the period after the one starting at start.
func (p Period) Next(start time.Time) time.Time {
	switch p {
	case Week:
		return start.AddDate(0, 0, 7)
	case Month:
		return start.AddDate(0, 1, 0)
	}
	return start.AddDate(0, 0, 1)
}

// Prev is the start of the period before the one starting at start.
func (p Period) Prev(start time.Time) time.Time {
	switch p {
	case Week:
		return start.AddDate(0, 0, -7)
	case Month:
		return start.AddDate(0, -1, 0)
	}
	return start.AddDate(0, 0, -1)
}

// Name is the report folder of the period starting at start: YYYY-MM for
// a month, RangeName for a day or a week.
func (p Period) Name(start time.Time) string {
	if p == Month {
		return start.Format("2006-01")
	}
	return RangeName(start, p.Next(start))
}

func (p Period) parse(name string) (time.Time, error) {
	if p == Month {
		return time.Parse("2006-01", name)
	}
	from, _, ok := ParseRangeName(name)
	if !ok {
		return time.Time{}, fmt.Errorf("not a %s: %q", p, name)
	}
	return from, nil
}

// adjective names the period in log lines: "monthly report written".
func (p Period) adjective() string {
	switch p {
	case Week:
		return "weekly"
	case Month:
		return "monthly"
	}
	return "daily"
}

// Scheduler runs a report on a cron schedule inside the daemon: each run
// reports the period (by default the month) before the one it fires in. A
// run missed while the daemon was down happens at start. One report runs
// at a time; a run still going when the next fires is skipped, and a panic
// in a run is recovered and logged. Each schedule keeps its own marker of
// the last period reported, so no period is reported twice.
type Scheduler struct {
	sched  cron.Schedule
	outDir string
	run    func(ctx context.Context, start time.Time) error
	log    *slog.Logger
	now    func() time.Time
	period Period
	marker string // file in outDir holding the last period reported

	c  *cron.Cron
	mu sync.Mutex // one report at a time

	// fingerprint, when set, names the inputs of a month (its files and
	// sizes); a reported month whose inputs changed is written again.
	fingerprint func(ctx context.Context, month time.Time) (string, error)
	ctx         context.Context
	cancel      context.CancelFunc
	wg          sync.WaitGroup // every goroutine Start began; Stop waits for them
	startup     sync.WaitGroup // the catch-up and the first recheck
}

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ErrNoData is what a run returns for a month without data: the month is
// not marked reported, so records that arrive for it later get a report.
var ErrNoData = errors.New("report: no data for the month")

// rewriteAfter is how long a report stands before late data rewrites it.
const rewriteAfter = 24 * time.Hour

// SetFingerprint makes the scheduler rewrite a reported month (the last
// two) whose inputs changed since its report, at most once a day, checked
// at start and every hour. Call before Start.
func (s *Scheduler) SetFingerprint(f func(ctx context.Context, month time.Time) (string, error)) {
	s.fingerprint = f
}

func (s *Scheduler) inputsName(start time.Time) string { return "." + s.period.Name(start) + ".inputs" }

// ParseSchedule checks a cron spec (five fields, optional CRON_TZ= prefix).
func ParseSchedule(spec string) (cron.Schedule, error) {
	s, err := cronParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("report: schedule %q: %w", spec, err)
	}
	return s, nil
}

// NewScheduler prepares the monthly schedule; run writes the report of a
// month (given its first instant).
func NewScheduler(spec, outDir string, run func(ctx context.Context, month time.Time) error, log *slog.Logger) (*Scheduler, error) {
	return NewPeriodScheduler("", Month, spec, outDir, run, log)
}

// NewPeriodScheduler prepares a named schedule of period p; run writes the
// report of the period starting at its argument. The monthly schedule has
// no name (its marker is MarkerName); a named one keeps MarkerName-<name>.
func NewPeriodScheduler(name string, p Period, spec, outDir string, run func(ctx context.Context, start time.Time) error, log *slog.Logger) (*Scheduler, error) {
	sched, err := ParseSchedule(spec)
	if err != nil {
		return nil, err
	}
	if _, err := ParsePeriod(string(p)); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	marker := MarkerName
	if name != "" {
		marker += "-" + name
		log = log.With("schedule", name)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Scheduler{sched: sched, outDir: outDir, run: run, log: log, now: time.Now, ctx: ctx, cancel: cancel, period: p, marker: marker}, nil
}

// lastReported returns the period in the schedule's marker, or the zero
// time.
func (s *Scheduler) lastReported() (time.Time, error) {
	b, err := os.ReadFile(filepath.Join(s.outDir, s.marker))
	if errors.Is(err, os.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("report: %w", err)
	}
	t, err := s.period.parse(strings.TrimSpace(string(b)))
	if err != nil {
		return time.Time{}, fmt.Errorf("report: marker %s: %w", filepath.Join(s.outDir, s.marker), err)
	}
	return t, nil
}

// LastReported returns the month in the marker, or the zero time.
func LastReported(outDir string) (time.Time, error) {
	b, err := os.ReadFile(filepath.Join(outDir, MarkerName))
	if errors.Is(err, os.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("report: %w", err)
	}
	t, err := time.Parse("2006-01", strings.TrimSpace(string(b)))
	if err != nil {
		return time.Time{}, fmt.Errorf("report: marker %s: %w", filepath.Join(outDir, MarkerName), err)
	}
	return t, nil
}

// Due returns the period the schedule should have reported by now: the
// period before the one of the schedule's latest firing at or before now
// (looking back 62 days), or false when it did not fire in that time.
func (s *Scheduler) Due(now time.Time) (time.Time, bool) {
	var last time.Time
	n := 0
	for t := s.sched.Next(now.AddDate(0, 0, -62)); !t.IsZero() && !t.After(now); t = s.sched.Next(t) {
		last = t
		if n++; n > 100000 { // a schedule firing every few seconds
			last = now
			break
		}
	}
	if last.IsZero() {
		return time.Time{}, false
	}
	return s.period.Prev(s.period.Start(last)), true
}

// Start runs a missed report now (in the background) and starts the cron.
func (s *Scheduler) Start() {
	if due, ok := s.Due(s.now()); ok {
		last, err := s.lastReported()
		if err != nil {
			s.log.Warn("cannot read the last reported period; catching up", "err", err)
		}
		if last.Before(due) {
			s.log.Info(s.period.adjective()+" report missed while stopped: running it now", string(s.period), s.period.Name(due))
			s.wg.Add(1)
			s.startup.Add(1)
			go func() {
				defer s.wg.Done()
				defer s.startup.Done()
				defer func() {
					if r := recover(); r != nil {
						s.log.Error(s.period.adjective()+" report panicked", "panic", r)
					}
				}()
				s.report(due)
			}()
		}
	}
	logger := cronLogger{s.log}
	s.c = cron.New(cron.WithParser(cronParser), cron.WithChain(cron.Recover(logger), cron.SkipIfStillRunning(logger)), cron.WithLogger(logger))
	s.c.Schedule(s.sched, cron.FuncJob(func() {
		s.report(s.period.Prev(s.period.Start(s.now())))
	}))
	if s.fingerprint != nil {
		s.wg.Add(1)
		s.startup.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.startup.Done()
			s.recheck()
		}()
		s.c.Schedule(cron.Every(time.Hour), cron.FuncJob(s.recheck))
	}
	s.c.Start()
	// The start-up work's end, for an operator reading the log (and the
	// tests, which wait for it instead of sleeping).
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.startup.Wait()
		if s.ctx.Err() == nil {
			s.log.Info(s.period.adjective()+" reports caught up", string(s.period), s.period.Name(s.period.Prev(s.period.Start(s.now()))))
		}
	}()
}

// waitStartup waits until the work Start began (a missed report, the first
// recheck) is over.
func (s *Scheduler) waitStartup() { s.startup.Wait() }

// report runs one period's report unless the marker says it is done, and
// moves the marker forward after success.
func (s *Scheduler) report(start time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return
	}
	if last, err := s.lastReported(); err == nil && !last.Before(start) {
		return
	}
	s.write(start, true)
}

// recheck rewrites the last two reported periods whose inputs changed,
// once their report is a day old.
func (s *Scheduler) recheck() {
	s.mu.Lock()
	defer s.mu.Unlock()
	last, err := s.lastReported()
	if err != nil || last.IsZero() {
		return
	}
	for _, m := range []time.Time{s.period.Prev(last), last} {
		if s.ctx.Err() != nil {
			return
		}
		p := filepath.Join(s.outDir, s.inputsName(m))
		b, err := os.ReadFile(p)
		st, serr := os.Stat(p)
		if err != nil || serr != nil || s.now().Sub(st.ModTime()) < rewriteAfter {
			continue
		}
		fp, err := s.fingerprint(s.ctx, m)
		if err != nil || fp == strings.TrimSpace(string(b)) {
			continue
		}
		s.log.Info("late data changed a reported "+string(s.period)+": writing its report again", string(s.period), s.period.Name(m))
		s.write(m, false)
	}
}

// write runs a period's report and records it: the marker (when mark) and
// the period's inputs fingerprint. Called with s.mu held.
func (s *Scheduler) write(month time.Time, mark bool) {
	t0 := time.Now()
	name, adj, per := s.period.Name(month), s.period.adjective(), string(s.period)
	s.log.Info(adj+" report started", per, name)
	var fp string
	if s.fingerprint != nil {
		fp, _ = s.fingerprint(s.ctx, month) // before the run: data arriving meanwhile counts as a change
	}
	if err := s.run(s.ctx, month); err != nil {
		if errors.Is(err, ErrNoData) {
			s.log.Info("no data for the "+per+" yet; it is not marked reported, and records that arrive for it get a report at the next start or schedule", per, name)
			return
		}
		s.log.Error(adj+" report failed; it runs again at the next start or schedule", per, name, "err", err)
		return
	}
	failpoint.Hit("report.write.mkdirdurable")
	if err := fsutil.MkdirDurable(s.outDir); err != nil {
		s.log.Error("cannot record the reported month", "err", err)
		return
	}
	if fp != "" {
		failpoint.Hit("report.write.inputs")
		if err := fsutil.WriteFileDurable(filepath.Join(s.outDir, s.inputsName(month)), []byte(fp+"\n")); err != nil {
			s.log.Error("cannot record the month's inputs", "err", err)
		}
	}
	if mark {
		failpoint.Hit("report.write.marker")
		if err := fsutil.WriteFileDurable(filepath.Join(s.outDir, s.marker), []byte(name+"\n")); err != nil {
			s.log.Error("cannot record the reported month", "err", err)
		}
	}
	s.log.Info(adj+" report written", per, name, "seconds", time.Since(t0).Seconds())
}

// Stop cancels a running report and waits for it.
func (s *Scheduler) Stop() {
	s.cancel()
	if s.c != nil {
		<-s.c.Stop().Done()
	}
	s.wg.Wait()
}

// cronLogger adapts slog to cron's logger.
type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Debug("cron: "+msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append(kv, "err", err)...)
}
