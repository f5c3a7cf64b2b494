// Package scrub verifies sealed segment files, and their shipped copies, in
// the background at a bounded read rate, so that a flipped bit on disk or
// in the bucket is found while a good copy may still exist, not the day a
// report or a restore needs the file.
//
// A pass lists every target (Lister), reads each front to back through
// segment.VerifyReader (zstd frame checksums, block CRC-32C, record rules,
// index) and remembers which files had problems. Passes start every
// Config.Interval. Open parts are never scrubbed: they grow, and recovery
// checks them at each start.
package scrub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ingestd/ingestd/segment"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Target is one file a pass verifies.
type Target struct {
	Name string    // how problems name it: a path, or an s3:// URL
	Day  time.Time // start of the UTC day its records must lie in
	Size int64
	// Open returns a reader for the file's bytes; close releases it.
	Open func() (ra io.ReaderAt, close func(), err error)
}

// Lister lists the targets of a pass (local sealed files, shipped objects).
type Lister interface {
	List(ctx context.Context) ([]Target, error)
}

// Config says how often and how fast to scrub. The zero value is invalid:
// Interval must be positive.
type Config struct {
	Interval time.Duration         // between the starts of two passes
	Rate     int64                 // bytes per second read at most; 0 = 32 MiB/s
	Check    segment.RecordCheck   // the record rules; nil checks the JSON shape only
	Log      *slog.Logger          // problems and pass summaries; nil = slog.Default()
	sleep    func(d time.Duration) // tests count the throttle's sleeps
}

// DefaultRate is the read rate when Config.Rate is 0.
const DefaultRate = 32 << 20

// Scrubber runs passes. Its counters are safe to read at any time.
type Scrubber struct {
	cfg     Config
	listers []Lister

	corrupt  atomic.Int64 // files with problems in the last full pass
	lastPass atomic.Int64 // unix ns when the last full pass ended; 0 = none yet
	checked  atomic.Int64 // files verified since start

	mu  sync.Mutex // guards bad
	bad []string   // names of the corrupt files of the last full pass

	stop chan struct{}
	done chan struct{}
}

// New returns a scrubber over the listers' targets and registers its
// gauges in reg (nil: not exported); Start runs it.
func New(cfg Config, reg prometheus.Registerer, listers ...Lister) (*Scrubber, error) {
	if cfg.Interval <= 0 {
		return nil, errors.New("scrub: interval must be positive")
	}
	if cfg.Rate < 0 {
		return nil, errors.New("scrub: rate must not be negative")
	}
	if cfg.Rate == 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.sleep == nil {
		cfg.sleep = time.Sleep
	}
	s := &Scrubber{cfg: cfg, listers: listers, stop: make(chan struct{}), done: make(chan struct{})}
	s.register(reg)
	return s, nil
}

// register exports the scrub's progress.
func (s *Scrubber) register(reg prometheus.Registerer) {
	f := promauto.With(reg) // nil: made, not registered
	gauge := func(name, help string, fn func() float64) {
		f.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn)
	}
	gauge("ingestd_scrub_corrupt_files", "Files the last full scrub pass found corrupt (local and shipped).",
		func() float64 { return float64(s.CorruptFiles()) })
	gauge("ingestd_scrub_last_pass_age_seconds", "Seconds since the last full scrub pass ended (-1: none yet).", func() float64 {
		if t := s.LastPass(); !t.IsZero() {
			return time.Since(t).Seconds()
		}
		return -1
	})
	gauge("ingestd_scrub_interval_seconds", "scrub.interval.", func() float64 { return s.cfg.Interval.Seconds() })
	gauge("ingestd_scrub_files_checked", "Files verified by the scrub since start.", func() float64 { return float64(s.Checked()) })
}

// Start runs a pass now and then every Interval, until Close.
func (s *Scrubber) Start() {
	go func() {
		defer close(s.done)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			<-s.stop
			cancel()
		}()
		for {
			t0 := time.Now()
			if _, err := s.Pass(ctx); err != nil && ctx.Err() == nil {
				s.cfg.Log.Error("scrub: pass failed; it runs again at the next interval", "err", err)
			}
			select {
			case <-s.stop:
				return
			case <-time.After(s.cfg.Interval - time.Since(t0)):
			}
		}
	}()
}

// Close stops the scrubber and waits for it.
func (s *Scrubber) Close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

// CorruptFiles returns how many files the last full pass found corrupt.
func (s *Scrubber) CorruptFiles() int64 { return s.corrupt.Load() }

// Corrupt returns the names of those files, sorted.
func (s *Scrubber) Corrupt() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bad...)
}

// LastPass returns when the last full pass ended (zero before the first).
func (s *Scrubber) LastPass() time.Time {
	if ns := s.lastPass.Load(); ns > 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// Checked returns how many files were verified since start.
func (s *Scrubber) Checked() int64 { return s.checked.Load() }

// Pass verifies every target once and returns what it found. A cancelled
// pass does not count as full.
func (s *Scrubber) Pass(ctx context.Context) (segment.VerifyReport, error) {
	var rep segment.VerifyReport
	th := &throttle{rate: s.cfg.Rate, start: time.Now(), sleep: s.cfg.sleep}
	for _, l := range s.listers {
		targets, err := l.List(ctx)
		if err != nil {
			return rep, fmt.Errorf("scrub: list: %w", err)
		}
		for _, t := range targets {
			if err := ctx.Err(); err != nil {
				return rep, err
			}
			ra, closeFn, err := t.Open()
			if err != nil {
				if errors.Is(err, errGone) {
					continue // compacted or shipped away since the listing
				}
				rep.Files++
				rep.Problems = append(rep.Problems, segment.Problem{Path: t.Name, Offset: -1, Err: err})
				continue
			}
			segment.VerifyReader(&rep, t.Name, &throttledReader{ra: ra, th: th, ctx: ctx}, t.Size, t.Day, s.cfg.Check)
			closeFn()
			s.checked.Add(1)
		}
	}
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	seen := map[string]bool{}
	var bad []string
	for _, p := range rep.Problems {
		s.cfg.Log.Error("scrub: corrupt file (restore it from a shipped copy or run ingestd repair)", "problem", p.String())
		if !seen[p.Path] {
			seen[p.Path] = true
			bad = append(bad, p.Path)
		}
	}
	sort.Strings(bad)
	s.mu.Lock()
	s.bad = bad
	s.mu.Unlock()
	s.corrupt.Store(int64(len(bad)))
	s.lastPass.Store(time.Now().UnixNano())
	s.cfg.Log.Info("scrub: pass done", "files", rep.Files, "blocks", rep.Blocks, "records", rep.Records, "corrupt", len(bad))
	return rep, nil
}

// throttle keeps the bytes read since start under rate per second.
type throttle struct {
	rate  int64
	start time.Time
	read  int64
	sleep func(time.Duration)
}

func (t *throttle) wait(n int) {
	t.read += int64(n)
	due := time.Duration(float64(t.read) / float64(t.rate) * float64(time.Second))
	if ahead := due - time.Since(t.start); ahead > 0 {
		t.sleep(ahead)
	}
}

type throttledReader struct {
	ra  io.ReaderAt
	th  *throttle
	ctx context.Context
}

func (r *throttledReader) ReadAt(p []byte, off int64) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := r.ra.ReadAt(p, off)
	r.th.wait(n)
	return n, err
}
