package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/ingestd/ingestd/ingest/ship"
	"github.com/ingestd/ingestd/report"
	"github.com/ingestd/ingestd/report/filter"
)

func runReport(args []string) int {
	fs := newFlagSet("report", "report (--month YYYY-MM | --from DATE --to DATE) [--config FILE] [--data-dir DIR] [--out DIR] [--export-records] [--where EXPR]")
	var cf commonFlags
	cf.register(fs)
	month := fs.String("month", "", "the `month` to report, YYYY-MM (this or --from/--to is required)")
	out := fs.String("out", "", "reports `directory`; the month goes to DIR/YYYY-MM (default from config: <data-dir>/reports)")
	export := fs.Bool("export-records", false, "also write the month's records as records.parquet (typed columns and the raw record)")
	workers := fs.Int("workers", 0, "parallel decoders and parsers (default: every core)")
	rescan := fs.Bool("rescan", false, "ignore stored daily partials and read every record")
	noStore := fs.Bool("no-partials", false, "do not write missing or stale daily partials beside the days")
	source := fs.String("source", "", "read the segments from object storage, `s3://bucket/prefix` (every node's files; endpoint and credentials from the config's storage section)")
	whereExpr := fs.String("where", "", "count only the records matching this filter `expression` (docs/REPORTS.md \"Filters\"), e.g. 'level == \"error\" and status >= 500'; needs --out, so the scheduled report is not replaced, and stores no partials")
	fromDay := fs.String("from", "", "instead of --month: the first `day` of a range, YYYY-MM-DD (daily partials serve it as they serve a month)")
	toDay := fs.String("to", "", "with --from: the `day` the range ends before, YYYY-MM-DD (exclusive); the report goes to DIR/<from>_to_<last day>")
	dayDir := fs.String("day-dir", "", "instead of a month: compute and store the daily partial of this day `folder` (what serve runs as each day is compacted)")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if *dayDir != "" {
		return runDayPartial(&cf, *dayDir, *workers)
	}
	var m, rangeFrom, rangeTo time.Time
	var err error
	switch {
	case *month != "" && (*fromDay != "" || *toDay != ""):
		fmt.Fprintln(os.Stderr, "ingestd report: give --month or --from/--to, not both")
		return 2
	case *fromDay != "" || *toDay != "":
		rangeFrom, err = time.Parse(time.DateOnly, *fromDay)
		if err == nil {
			rangeTo, err = time.Parse(time.DateOnly, *toDay)
		}
		if err != nil || !rangeTo.After(rangeFrom) {
			fmt.Fprintf(os.Stderr, "ingestd report: --from %q --to %q: want two days YYYY-MM-DD, --to after --from (exclusive)\n", *fromDay, *toDay)
			return 2
		}
		*month = report.RangeName(rangeFrom, rangeTo)
	case *month == "":
		fmt.Fprintln(os.Stderr, "ingestd report: --month YYYY-MM (or --from DAY --to DAY) is required")
		return 2
	default:
		if m, err = time.Parse("2006-01", *month); err != nil {
			fmt.Fprintf(os.Stderr, "ingestd report: --month %q: want YYYY-MM\n", *month)
			return 2
		}
	}
	if *workers < 0 {
		fmt.Fprintln(os.Stderr, "ingestd report: --workers: want ≥ 0")
		return 2
	}
	cfg, err := cf.load()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingestd report:", err)
		return 2
	}
	outDir := cfg.reportDir()
	if *out != "" {
		outDir = *out
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var src report.Source = report.LocalSource{DataDir: cfg.DataDir}
	where := cfg.DataDir
	if *source != "" {
		if *out == "" {
			fmt.Fprintln(os.Stderr, "ingestd report: with --source, give --out")
			return 2
		}
		s3, err := ship.OpenSource(ctx, *source, cfg.shipConfig())
		if err != nil {
			fmt.Fprintln(os.Stderr, "ingestd report:", err)
			return 1
		}
		src, where = s3, *source
		*noStore = true
	} else if _, err := os.Stat(cfg.DataDir); err != nil {
		fmt.Fprintln(os.Stderr, "ingestd report: data directory:", err)
		return 1
	}
	rcfg := cfg.reportConfig(0)
	rcfg.Workers = *workers // 0: every core (report.workers is for runs inside serve)
	if *whereExpr != "" {
		if *out == "" {
			fmt.Fprintln(os.Stderr, "ingestd report: with --where, give --out: a filtered report must not replace the month's report")
			return 2
		}
		if _, err := filter.Parse(*whereExpr); err != nil {
			fmt.Fprintf(os.Stderr, "ingestd report: --where: %v\n  %s\n", err, *whereExpr)
			return 2
		}
		rcfg.Where = *whereExpr
		*noStore = true // the day partials stay those of the configured report
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	first, end := report.MonthStart(m), report.MonthStart(m).AddDate(0, 1, 0)
	if !rangeFrom.IsZero() {
		first, end = rangeFrom, rangeTo
	}
	days, err := src.Days(ctx, first, end)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingestd report:", err)
		return 1
	}
	if len(days) == 0 {
		fmt.Fprintf(os.Stderr, "ingestd report: warning: no day folders for %s under %s; the report will be empty\n", *month, where)
	}
	prog := newProgress(os.Stderr, term.IsTerminal(int(os.Stderr.Fd())))
	opts := report.MonthOptions{Source: src, Node: cfg.node(), OutDir: outDir, Month: m, From: rangeFrom, To: rangeTo, Config: rcfg,
		ExportRecords: *export, StorePartials: !*noStore, Rescan: *rescan, Progress: prog, Log: log}
	if *source == "" {
		opts.Rejected = func(from, to time.Time) (map[string]int64, error) { return rejectedByReason(cfg.DataDir, from, to) }
	}
	res, err := report.RunMonth(ctx, opts)
	prog.finish()
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(os.Stderr, "ingestd report: interrupted; no report was written")
			return 1
		}
		fmt.Fprintln(os.Stderr, "ingestd report:", err)
		return 1
	}
	fmt.Printf("%s: %d records over %d %s (%d from daily partials, %d scanned) in %.1fs\n",
		res.Dir, res.Records, res.Days, plural(res.Days, "day", "days"), res.DaysFromPartials, res.DaysScanned, res.Elapsed.Seconds())
	if *export {
		fmt.Printf("exported %d records to %s/records.parquet\n", res.ExportedRows, res.Dir)
	}
	return 0
}

// runDayPartial computes and stores one day's partial.
func runDayPartial(cf *commonFlags, dir string, workers int) int {
	cfg, err := cf.load()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingestd report:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	res, err := report.StorePartial(ctx, dir, cfg.node(), cfg.reportConfig(workers))
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingestd report:", err)
		return 1
	}
	fmt.Printf("%s: %d records, partial stored: %v\n", dir, res.Partial.Agg.Records, res.Stored)
	return 0
}

// progress shows a run's progress: a bar redrawn in place on a terminal,
// otherwise a plain log line every 5 seconds.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	start time.Time
	last  time.Time
	drawn bool
	rec   int64
	total int64 // 0: unknown (no bar, only the counts)
	bytes int64
	quiet bool // draw nothing (query, off a terminal)
}

func newProgress(w io.Writer, tty bool) *progress {
	return &progress{w: w, tty: tty, start: time.Now()}
}

func (p *progress) Update(records, total, raw int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rec, p.total, p.bytes = records, total, raw
	if p.quiet {
		return
	}
	now := time.Now()
	every := 5 * time.Second
	if p.tty {
		every = 200 * time.Millisecond
	}
	if now.Sub(p.last) < every {
		return
	}
	p.last = now
	p.draw(now)
}

func (p *progress) draw(now time.Time) {
	el := now.Sub(p.start).Seconds()
	mbs := float64(p.bytes) / 1e6 / max(el, 1e-9)
	frac := 0.0
	if p.total > 0 {
		frac = min(1, float64(p.rec)/float64(p.total))
	}
	eta := "--:--"
	if frac > 0 && frac < 1 {
		s := int(el / frac * (1 - frac))
		eta = fmt.Sprintf("%d:%02d", s/60, s%60)
	} else if frac >= 1 {
		eta = "0:00"
	}
	if p.tty && p.total == 0 {
		fmt.Fprintf(p.w, "\r%s records read  %.0f MB/s ", humanCount(p.rec), mbs)
		p.drawn = true
		return
	}
	if p.tty {
		const width = 30
		n := int(frac * width)
		fmt.Fprintf(p.w, "\r[%s%s] %5.1f%%  %s records  %.0f MB/s  ETA %s ", strings.Repeat("=", n), strings.Repeat(" ", width-n),
			frac*100, humanCount(p.rec), mbs, eta)
		p.drawn = true
		return
	}
	fmt.Fprintf(p.w, "report: %.1f%% %d/%d records, %.0f MB/s, ETA %s\n", frac*100, p.rec, p.total, mbs, eta)
	p.drawn = true
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.drawn {
		return
	}
	if p.tty {
		p.draw(time.Now())
		fmt.Fprintln(p.w)
		return
	}
	fmt.Fprintf(p.w, "report: done, %d records in %.1fs\n", p.rec, time.Since(p.start).Seconds())
}

func humanCount(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fG", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
