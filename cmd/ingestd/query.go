package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/ingestd/ingestd/explore"
	"github.com/ingestd/ingestd/ingest/ship"
	"github.com/ingestd/ingestd/report"
	"github.com/ingestd/ingestd/report/filter"
)

const querySynopsis = `query --from T --to T [--where EXPR] [--by PATHS] [--stats LIST] [--format F] [--limit N]

Answers a question over [--from, --to) with the report engine. Without --by
and --stats it prints the matching records (NDJSON); with them, a table of
statistics per group, largest count first: from the daily partials when the
question is a configured breakdown (or a count by a configured dimension)
over whole days, else by scanning. T is RFC 3339 or a date
(2026-11-03, midnight UTC). Examples:

  ingestd query --from 2026-11-01 --to 2026-12-01 --where 'level == "error"' --limit 20
  ingestd query --from 2026-11-01 --to 2026-12-01 --by service,status --stats 'count,p99(duration_ms)'`

func runQuery(args []string) int {
	var from, to, where, by, stats, format, source *string
	var limit *int
	var rescan *bool
	cfg, code := prepare("query", querySynopsis, args, func(fs *flag.FlagSet) {
		from = fs.String("from", "", "first `time` (inclusive; required)")
		to = fs.String("to", "", "`time` to stop before (exclusive; required)")
		where = fs.String("where", "", "only records matching this filter `expression` (docs/REPORTS.md \"Filters\")")
		by = fs.String("by", "", "group by one or two comma-separated field `paths`")
		stats = fs.String("stats", "", "comma-separated `statistics` per group: count, share, rate(filter), sum|min|max|mean|p50|p90|p99|distinct|top(field) (default count)")
		format = fs.String("format", "", "`format`: table (default with --by/--stats), csv, json, ndjson (default for records)")
		limit = fs.Int("limit", 0, "print at most `N` rows or records (0: all)")
		source = fs.String("source", "", "read every node's segments from object storage, `s3://bucket/prefix`")
		rescan = fs.Bool("rescan", false, "scan the files even when the daily partials hold the answer")
	})
	if code >= 0 {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "ingestd query: "+format+"\n", a...)
		return code
	}
	lo, err := parseTimeFlag(*from)
	if err != nil || *from == "" {
		return fail(2, "--from: give a time (RFC 3339 or YYYY-MM-DD)%s", errSuffix(err))
	}
	hi, err := parseTimeFlag(*to)
	if err != nil || *to == "" {
		return fail(2, "--to: give a time (RFC 3339 or YYYY-MM-DD)%s", errSuffix(err))
	}
	if hi <= lo {
		return fail(2, "--to must be after --from")
	}
	q := report.Question{From: time.Unix(0, lo).UTC(), To: time.Unix(0, hi).UTC(), Where: *where, Limit: *limit}
	if *where != "" {
		if _, err := filter.Parse(*where); err != nil {
			return fail(2, "--where: %v\n  %s", err, *where)
		}
	}
	if *by != "" {
		q.By = strings.Split(*by, ",")
		if len(q.By) > 2 {
			return fail(2, "--by: at most two fields")
		}
	}
	if *stats != "" {
		if q.Stats, err = report.ParseStats(*stats); err != nil {
			return fail(2, "--%v", err)
		}
	}
	grouped := len(q.By) > 0 || len(q.Stats) > 0
	switch {
	case *format == "":
		*format = "ndjson"
		if grouped {
			*format = "table"
		}
	case *format != "table" && *format != "csv" && *format != "json" && *format != "ndjson":
		return fail(2, "--format %q: want table, csv, json or ndjson", *format)
	case !grouped && *format != "ndjson" && *format != "json":
		return fail(2, "--format %s: records print as ndjson or json; tables need --by or --stats", *format)
	}
	if *limit < 0 {
		return fail(2, "--limit: want ≥ 0")
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var src report.Source = report.LocalSource{DataDir: cfg.DataDir}
	if *source != "" {
		s3, err := ship.OpenSource(ctx, *source, cfg.shipConfig())
		if err != nil {
			return fail(1, "%v", err)
		}
		src = s3
	} else if _, err := os.Stat(cfg.DataDir); err != nil {
		return fail(1, "data directory: %v", err)
	}
	rcfg := cfg.reportConfig(0)
	rcfg.Workers = 0 // every core
	out := bufio.NewWriterSize(os.Stdout, 1<<16)
	defer out.Flush()
	if grouped && !*rescan {
		// A configured breakdown (or a count by a configured dimension) over
		// whole days: the stored partials answer without a scan.
		t, n, ok, err := report.FromPartials(ctx, src, q, rcfg)
		if err != nil {
			return fail(1, "%v", err)
		}
		if ok {
			fmt.Fprintf(os.Stderr, "ingestd query: answered from the daily partials of %d days (--rescan scans the files)\n", n)
			return printTable(out, t, *format, *limit, fail)
		}
	}
	dayStart := q.From.Truncate(24 * time.Hour)
	days, err := src.Days(ctx, dayStart, q.To)
	if err != nil {
		return fail(1, "%v", err)
	}
	var files []string
	for _, d := range days {
		in, err := src.Inputs(ctx, d)
		if err != nil {
			return fail(1, "%v", err)
		}
		for _, f := range in {
			files = append(files, src.Path(d, f.Name))
		}
	}
	prog := newProgress(os.Stderr, term.IsTerminal(int(os.Stderr.Fd())))
	prog.quiet = !prog.tty // a progress bar on a terminal only
	opt := report.ScanOptions{Open: src.Open, Prefetch: src.Prefetch(), Progress: func(r, b int64) { prog.Update(r, 0, b) }}

	first := true
	records := func(line []byte) error {
		if *format == "json" {
			sep := ",\n"
			if first {
				sep = "[\n"
			}
			first = false
			out.WriteString(sep)
		}
		out.Write(line)
		if *format == "ndjson" {
			return out.WriteByte('\n')
		}
		return nil
	}
	t, err := report.Ask(ctx, files, q, rcfg, opt, records)
	prog.finish()
	if ctx.Err() != nil {
		out.Flush()
		fmt.Fprintln(os.Stderr, "ingestd query: interrupted")
		return 130
	}
	if err != nil {
		return fail(1, "%v", err)
	}
	if !grouped {
		if *format == "json" {
			if first {
				out.WriteString("[")
			}
			out.WriteString("\n]\n")
		}
		return 0
	}
	return printTable(out, t, *format, *limit, fail)
}

// printTable writes a grouped answer and says on stderr when --limit cut it.
func printTable(out *bufio.Writer, t *report.Table, format string, limit int, fail func(int, string, ...any) int) int {
	if err := explore.WriteTable(out, t, format); err != nil {
		return fail(1, "%v", err)
	}
	if limit > 0 && t.Groups > limit {
		out.Flush()
		fmt.Fprintf(os.Stderr, "ingestd query: %d of %d groups shown (--limit)\n", limit, t.Groups)
	}
	return 0
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return ": " + err.Error()
}
