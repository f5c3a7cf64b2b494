package report

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ingestd/ingestd/internal/failpoint"
	"github.com/ingestd/ingestd/internal/fsutil"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/ingestd/ingestd/segment"
)

// Progress is told how far a report run is: records and raw bytes read so
// far out of the records to read (known from the block headers).
type Progress interface {
	Update(records, total, rawBytes int64)
}

// MonthOptions select and shape one monthly report.
type MonthOptions struct {
	DataDir string    // holds segments/ (when Source is nil)
	Source  Source    // where the days are read; nil means LocalSource{DataDir}
	Node    string    // the name under which StorePartials writes (segment.ReportPartialName)
	OutDir  string    // the report goes to OutDir/YYYY-MM (OutDir/<from>_to_<last day> for a range)
	Month   time.Time // any instant of the month (UTC)
	// From and To, when set, replace Month: the whole UTC days from From
	// up to To (exclusive); daily partials serve them as they serve a month.
	From, To      time.Time
	Config        Config
	ExportRecords bool // also write records.parquet with the typed columns and the raw record
	StorePartials bool // write missing or stale daily partials beside the days (local sources only)
	Rescan        bool // ignore stored partials
	Progress      Progress
	Log           *slog.Logger
	// Rejected, when set, counts the lines intake rejected (?invalid=skip)
	// in [from, to) by reason; the report shows them beside its own data
	// quality. Nil when the rejected store is not at hand (a bucket).
	Rejected func(from, to time.Time) (map[string]int64, error)
}

// MonthResult says what a run did.
type MonthResult struct {
	Dir              string
	Records          int64
	Days             int
	DaysFromPartials int
	DaysScanned      int
	ExportedRows     int64
	Elapsed          time.Duration
}

// RangeName is the report folder of the whole days [from, to):
// "2026-11-03_to_2026-11-09" (the last day included).
func RangeName(from, to time.Time) string {
	return from.UTC().Format(time.DateOnly) + "_to_" + to.UTC().AddDate(0, 0, -1).Format(time.DateOnly)
}

// ParseRangeName reads a RangeName back into [from, to).
func ParseRangeName(name string) (from, to time.Time, ok bool) {
	a, b, found := strings.Cut(name, "_to_")
	if !found {
		return from, to, false
	}
	f, err1 := time.Parse(time.DateOnly, a)
	l, err2 := time.Parse(time.DateOnly, b)
	if err1 != nil || err2 != nil || l.Before(f) {
		return from, to, false
	}
	return f, l.AddDate(0, 0, 1), true
}

// reportRange is the report's first instant, end (exclusive) and folder
// name: the month, or the whole days From..To.
func reportRange(opt MonthOptions) (start, end time.Time, name string, err error) {
	if opt.From.IsZero() && opt.To.IsZero() {
		start = MonthStart(opt.Month)
		return start, start.AddDate(0, 1, 0), start.Format("2006-01"), nil
	}
	start, end = opt.From.UTC(), opt.To.UTC()
	switch {
	case !start.Equal(start.Truncate(24*time.Hour)) || !end.Equal(end.Truncate(24*time.Hour)):
		return start, end, "", fmt.Errorf("report: a range is whole UTC days: %s to %s", start.Format(time.RFC3339), end.Format(time.RFC3339))
	case !end.After(start):
		return start, end, "", fmt.Errorf("report: the range ends (%s) before it starts (%s)", end.Format(time.DateOnly), start.Format(time.DateOnly))
	case end.Sub(start) > 366*24*time.Hour:
		return start, end, "", fmt.Errorf("report: a range of at most 366 days")
	}
	return start, end, RangeName(start, end), nil
}

// MonthStart returns the first instant of t's month in UTC.
func MonthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// MonthDays returns the day folders of the month that exist under dataDir.
func MonthDays(dataDir string, month time.Time) ([]segment.Day, error) {
	start := MonthStart(month)
	return LocalSource{DataDir: dataDir}.Days(context.Background(), start, start.AddDate(0, 1, 0))
}

// RunMonth writes the report of one month: it merges the days' partial
// aggregates (computing those missing or stale), then writes summary.json,
// daily.csv, report.html and the Parquet tables into a temporary folder that
// becomes OutDir/YYYY-MM by one rename. A run that fails or is cancelled
// leaves no report folder behind (an earlier report of that month stays).
func RunMonth(ctx context.Context, opt MonthOptions) (*MonthResult, error) {
	t0 := time.Now()
	if err := opt.Config.Validate(); err != nil {
		return nil, err
	}
	cfg := opt.Config.withDefaults()
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	month, end, name, err := reportRange(opt)
	if err != nil {
		return nil, err
	}
	src := opt.Source
	if src == nil {
		src = LocalSource{DataDir: opt.DataDir}
	}
	_, local := src.(LocalSource)
	days, err := src.Days(ctx, month, end)
	if err != nil {
		return nil, err
	}
	failpoint.Hit("report.RunMonth.mkdirdurable")
	if err := fsutil.MkdirDurable(opt.OutDir); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	unlock, err := lockMonth(opt.OutDir, name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	cleanStale(opt.OutDir, name)
	tmp, err := os.MkdirTemp(opt.OutDir, "."+name+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	done := false
	defer func() {
		if !done {
			failpoint.Hit("report.RunMonth.remove-tmp")
			os.RemoveAll(tmp)
		}
	}()

	var export *parquetFile
	if opt.ExportRecords {
		if export, err = createParquet(filepath.Join(tmp, "records.parquet"), Schema(cfg, true)); err != nil {
			return nil, err
		}
		defer export.w.Close()
	}

	// What must be read: every file when exporting or rescanning, else the
	// files no fresh stored partial covers.
	fp := cfg.Fingerprint()
	type dayJob struct {
		day      segment.Day
		partials []*Partial
		rest     []Input // files to scan
	}
	jobs := make([]dayJob, len(days))
	var total int64
	for i, d := range days {
		jobs[i].day = d
		in, err := src.Inputs(ctx, d)
		if err != nil {
			return nil, err
		}
		jobs[i].rest = in
		if !opt.Rescan && !opt.ExportRecords {
			raw, err := src.Partials(ctx, d)
			if err != nil {
				return nil, err
			}
			jobs[i].partials, jobs[i].rest = cover(raw, fp, in, func(name string, err error) {
				log.Warn("unreadable daily partial; its files are scanned", "dir", d.Dir, "partial", name, "err", err)
			})
		}
		n, err := countRecords(src, d, jobs[i].rest)
		if err != nil {
			return nil, err
		}
		total += n
	}

	res := &MonthResult{Days: len(days)}
	all := NewAgg(cfg)
	perDay := map[string]*Agg{}
	var doneRecords, doneBytes int64
	for _, j := range jobs {
		var day *Agg
		if len(j.partials) == 1 {
			day = j.partials[0].Agg // the usual case: one node, one partial
		} else {
			day = NewAgg(cfg)
			for _, p := range j.partials {
				if err := day.Merge(p.Agg); err != nil {
					return nil, err
				}
			}
		}
		if len(j.rest) == 0 {
			res.DaysFromPartials++
		} else {
			base, baseBytes := doneRecords, doneBytes
			sopt := ScanOptions{Open: src.Open, Prefetch: src.Prefetch()}
			if opt.Progress != nil {
				sopt.Progress = func(r, b int64) {
					doneRecords, doneBytes = base+r, baseBytes+b
					opt.Progress.Update(doneRecords, total, doneBytes)
				}
			}
			if export != nil {
				sopt.Sink = func(rec arrow.Record) error { return export.write(rec) }
			}
			var agg *Agg
			stored := false
			if opt.StorePartials && local && len(j.partials) == 0 {
				// The whole day is read: keep its partial for next time.
				r, err := DayPartial(ctx, j.day.Dir, opt.Node, cfg, true, true, sopt)
				if err != nil {
					return nil, err
				}
				agg, stored = r.Partial.Agg, r.Stored
			} else {
				files := make([]string, len(j.rest))
				for i, f := range j.rest {
					files[i] = src.Path(j.day, f.Name)
				}
				if agg, err = Scan(ctx, files, cfg, sopt); err != nil {
					return nil, fmt.Errorf("report: scan %s: %w", j.day.Dir, err)
				}
			}
			if err := day.Merge(agg); err != nil {
				return nil, err
			}
			res.DaysScanned++
			log.Info("scanned day", "day", j.day.Start.Format(time.DateOnly), "files", len(j.rest),
				"from_partials", len(j.partials), "records", day.Records, "stored_partial", stored)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		perDay[j.day.Start.Format(time.DateOnly)] = day
		if err := all.Merge(day); err != nil {
			return nil, err
		}
	}
	res.Records = all.Records

	cfg = cfg.chosen(all) // a zero-config report chooses its fields from the whole range
	s := summarize(name, all, cfg)
	s.From, s.To = month.Format(time.DateOnly), end.AddDate(0, 0, -1).Format(time.DateOnly)
	if s.Compared, err = comparePrevious(opt.OutDir, s); err != nil {
		log.Warn("report: cannot compare with the previous period", "err", err) // the report stands without it
		s.Compared = nil
	}
	s.Sources = Sources{DaysFromPartials: res.DaysFromPartials, DaysScanned: res.DaysScanned}
	if opt.Rejected != nil {
		if s.Rejected, err = opt.Rejected(month, end); err != nil {
			return nil, fmt.Errorf("report: rejected lines: %w", err)
		}
	}
	if err := writeJSON(filepath.Join(tmp, "summary.json"), s); err != nil {
		return nil, err
	}
	if err := writeDailyCSV(filepath.Join(tmp, "daily.csv"), s, perDay, cfg); err != nil {
		return nil, fmt.Errorf("report: daily.csv: %w", err)
	}
	if err := writeTables(tmp, s, cfg); err != nil {
		return nil, err
	}
	if err := writeBreakdowns(tmp, s); err != nil {
		return nil, err
	}
	if err := writeHTMLFile(filepath.Join(tmp, "report.html"), s, cfg); err != nil {
		return nil, err
	}
	if export != nil {
		res.ExportedRows = export.rows
		if err := export.close(); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	final := filepath.Join(opt.OutDir, name)
	if err := publish(tmp, final); err != nil {
		return nil, err
	}
	done = true
	res.Dir = final
	res.Elapsed = time.Since(t0)
	return res, nil
}

// countRecords sums the record counts of the files' block headers.
func countRecords(src Source, day segment.Day, files []Input) (int64, error) {
	var n int64
	for _, f := range files {
		r, err := src.Open(src.Path(day, f.Name))
		if err != nil {
			return 0, err
		}
		idx, err := r.Index()
		r.Close()
		if err != nil {
			return 0, err
		}
		for _, e := range idx {
			n += int64(e.Records)
		}
	}
	return n, nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("report: %s: %w", filepath.Base(path), err)
	}
	failpoint.Hit("report.writeJSON.writefile")
	return os.WriteFile(path, append(b, '\n'), 0o600)
}

func writeHTMLFile(path string, s *Summary, cfg Config) error {
	failpoint.Hit("report.writeHTMLFile.openfile")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	w := bufio.NewWriter(f)
	err = writeHTML(w, s, cfg)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("report: report.html: %w", err)
	}
	return nil
}

// publish syncs every file of tmp and renames it to final, replacing an
// earlier report of the same month.
func publish(tmp, final string) error {
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	for _, e := range ents {
		f, err := os.Open(filepath.Join(tmp, e.Name()))
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
		failpoint.Hit("report.publish.sync")
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("report: sync %s: %w", e.Name(), err)
		}
	}
	failpoint.Hit("report.publish.syncdir")
	if err := fsutil.SyncDir(tmp); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o700); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	var old string
	if _, err := os.Stat(final); err == nil {
		old = filepath.Join(filepath.Dir(final), "."+filepath.Base(final)+".old-"+fmt.Sprint(time.Now().UnixNano()))
		failpoint.Hit("report.publish.rename")
		if err := os.Rename(final, old); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	failpoint.Hit("report.publish.rename.2")
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if old != "" {
		failpoint.Hit("report.publish.removeall")
		os.RemoveAll(old)
	}
	failpoint.Hit("report.publish.syncdir.2")
	return fsutil.SyncDir(filepath.Dir(final))
}

// cleanStale removes what an interrupted run of this month left behind. A
// run stopped between its two renames left the previous report as .old:
// it is put back.
func cleanStale(outDir, name string) {
	final := filepath.Join(outDir, name)
	_, err := os.Stat(final)
	restore := os.IsNotExist(err)
	ents, _ := os.ReadDir(outDir)
	for _, e := range ents {
		n, p := e.Name(), filepath.Join(outDir, e.Name())
		switch {
		case strings.HasPrefix(n, "."+name+".old-") && restore:
			failpoint.Hit("report.cleanStale.rename")
			if os.Rename(p, final) == nil {
				restore = false
				continue
			}
			failpoint.Hit("report.cleanStale.removeall")
			os.RemoveAll(p)
		case strings.HasPrefix(n, "."+name+".tmp-"), strings.HasPrefix(n, "."+name+".old-"):
			failpoint.Hit("report.cleanStale.removeall.2")
			os.RemoveAll(p)
		}
	}
}

// lockMonth takes an exclusive lock on one month's report, so a run from the
// command line and a scheduled run never write the same month at once.
func lockMonth(outDir, name string) (func(), error) {
	p := filepath.Join(outDir, "."+name+".lock")
	for {
		failpoint.Hit("report.lockMonth.openfile")
		f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			return nil, fmt.Errorf("report: the %s report is being written by another run (%s is locked)", name, p)
		}
		// The holder removes the file before it unlocks: a lock taken on a
		// file that is no longer at p is stale, so try again.
		var held, cur syscall.Stat_t
		if syscall.Fstat(int(f.Fd()), &held) == nil && syscall.Stat(p, &cur) == nil && held.Ino == cur.Ino && held.Dev == cur.Dev {
			return func() {
				failpoint.Hit("report.lockMonth.remove")
				os.Remove(p)
				f.Close()
			}, nil
		}
		f.Close()
	}
}
