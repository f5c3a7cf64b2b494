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

	"github.com/robfig/cron/v3"
)

// MarkerName is the file in the reports folder that holds the last month
// reported by the schedule (YYYY-MM).
const MarkerName = ".last-reported"

// Scheduler runs the monthly report on a cron schedule inside the daemon:
// each run reports the month before the one it fires in. A run missed while
// the daemon was down happens at start. One report runs at a time; a run
// still going when the next fires is skipped, and a panic in a run is
// recovered and logged.
type Scheduler struct {
	sched  cron.Schedule
	outDir string
	run    func(ctx context.Context, month time.Time) error
	log    *slog.Logger
	now    func() time.Time

	c  *cron.Cron
	mu sync.Mutex // one report at a time

	// fingerprint, when set, names the inputs of a month (its files and
	// sizes); a reported month whose inputs changed is written again.
	fingerprint func(ctx context.Context, month time.Time) (string, error)
	ctx         context.Context
	cancel      context.CancelFunc
	wg          sync.WaitGroup
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

func inputsName(month time.Time) string { return "." + month.Format("2006-01") + ".inputs" }

// ParseSchedule checks a cron spec (five fields, optional CRON_TZ= prefix).
func ParseSchedule(spec string) (cron.Schedule, error) {
	s, err := cronParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("report: schedule %q: %w", spec, err)
	}
	return s, nil
}

// NewScheduler prepares a schedule; run writes the report of a month.
func NewScheduler(spec, outDir string, run func(ctx context.Context, month time.Time) error, log *slog.Logger) (*Scheduler, error) {
	sched, err := ParseSchedule(spec)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Scheduler{sched: sched, outDir: outDir, run: run, log: log, now: time.Now, ctx: ctx, cancel: cancel}, nil
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

// Due returns the month the schedule should have reported by now: the month
// before the one of the schedule's latest firing at or before now (looking
// back 62 days), or false when it did not fire in that time.
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
	return MonthStart(last).AddDate(0, -1, 0), true
}

// Start runs a missed report now (in the background) and starts the cron.
func (s *Scheduler) Start() {
	if due, ok := s.Due(s.now()); ok {
		last, err := LastReported(s.outDir)
		if err != nil {
			s.log.Warn("cannot read the last reported month; catching up", "err", err)
		}
		if last.Before(due) {
			s.log.Info("monthly report missed while stopped: running it now", "month", due.Format("2006-01"))
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer func() {
					if r := recover(); r != nil {
						s.log.Error("monthly report panicked", "panic", r)
					}
				}()
				s.report(due)
			}()
		}
	}
	logger := cronLogger{s.log}
	s.c = cron.New(cron.WithParser(cronParser), cron.WithChain(cron.Recover(logger), cron.SkipIfStillRunning(logger)), cron.WithLogger(logger))
	s.c.Schedule(s.sched, cron.FuncJob(func() {
		s.report(MonthStart(s.now()).AddDate(0, -1, 0))
	}))
	if s.fingerprint != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.recheck()
		}()
		s.c.Schedule(cron.Every(time.Hour), cron.FuncJob(s.recheck))
	}
	s.c.Start()
}

// report runs one month's report unless the marker says it is done, and
// moves the marker forward after success.
func (s *Scheduler) report(month time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return
	}
	if last, err := LastReported(s.outDir); err == nil && !last.Before(month) {
		return
	}
	s.write(month, true)
}

// recheck rewrites the last two reported months whose inputs changed, once
// their report is a day old.
func (s *Scheduler) recheck() {
	s.mu.Lock()
	defer s.mu.Unlock()
	last, err := LastReported(s.outDir)
	if err != nil || last.IsZero() {
		return
	}
	for _, m := range []time.Time{last.AddDate(0, -1, 0), last} {
		if s.ctx.Err() != nil {
			return
		}
		p := filepath.Join(s.outDir, inputsName(m))
		b, err := os.ReadFile(p)
		st, serr := os.Stat(p)
		if err != nil || serr != nil || s.now().Sub(st.ModTime()) < rewriteAfter {
			continue
		}
		fp, err := s.fingerprint(s.ctx, m)
		if err != nil || fp == strings.TrimSpace(string(b)) {
			continue
		}
		s.log.Info("late data changed a reported month: writing its report again", "month", m.Format("2006-01"))
		s.write(m, false)
	}
}

// write runs month's report and records it: the marker (when mark) and the
// month's inputs fingerprint. Called with s.mu held.
func (s *Scheduler) write(month time.Time, mark bool) {
	t0 := time.Now()
	name := month.Format("2006-01")
	s.log.Info("monthly report started", "month", name)
	var fp string
	if s.fingerprint != nil {
		fp, _ = s.fingerprint(s.ctx, month) // before the run: data arriving meanwhile counts as a change
	}
	if err := s.run(s.ctx, month); err != nil {
		if errors.Is(err, ErrNoData) {
			s.log.Info("no data for the month yet; it is not marked reported, and records that arrive for it get a report at the next start or schedule", "month", name)
			return
		}
		s.log.Error("monthly report failed; it runs again at the next start or schedule", "month", name, "err", err)
		return
	}
	failpoint.Hit("report.write.mkdirdurable")
	if err := fsutil.MkdirDurable(s.outDir); err != nil {
		s.log.Error("cannot record the reported month", "err", err)
		return
	}
	if fp != "" {
		failpoint.Hit("report.write.inputs")
		if err := fsutil.WriteFileDurable(filepath.Join(s.outDir, inputsName(month)), []byte(fp+"\n")); err != nil {
			s.log.Error("cannot record the month's inputs", "err", err)
		}
	}
	if mark {
		failpoint.Hit("report.write.marker")
		if err := fsutil.WriteFileDurable(filepath.Join(s.outDir, MarkerName), []byte(name+"\n")); err != nil {
			s.log.Error("cannot record the reported month", "err", err)
		}
	}
	s.log.Info("monthly report written", "month", name, "seconds", time.Since(t0).Seconds())
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
