package explore

import (
	"bufio"
	"bytes"
	"container/heap"
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/ingestd/ingestd/report"
)

// query is GET /api/v1/query: the engine of `ingestd query` with its
// parameters (from, to, where, by, stats, limit, format, rescan) and
// offset for paging the records.
func (e *Engine) query(arg func(string) string) (*Answer, error) {
	from, to, w, err := spanWhere(arg)
	if err != nil {
		return nil, err
	}
	q := report.Question{From: from, To: to, Where: w}
	if by := arg("by"); by != "" {
		q.By = strings.Split(by, ",")
		if len(q.By) > 2 {
			return nil, bad("by", "by: at most two fields")
		}
		for _, p := range q.By {
			if strings.TrimSpace(p) == "" {
				return nil, bad("by", "by: an empty field path")
			}
		}
	}
	if s := arg("stats"); s != "" {
		var perr error
		if q.Stats, perr = report.ParseStats(s); perr != nil {
			return nil, bad("stats", "%v", perr)
		}
	}
	grouped := len(q.By) > 0 || len(q.Stats) > 0
	format := arg("format")
	switch {
	case format == "":
		format = "json"
	case format != "json" && format != "ndjson" && format != "csv":
		return nil, bad("format", "format %q: want json, ndjson or csv", format)
	case !grouped && format == "csv":
		return nil, bad("format", "format csv: records are json or ndjson; tables need by or stats")
	}
	if grouped {
		if q.Limit, err = count(arg, "limit", 0); err != nil {
			return nil, err
		}
		return e.table(q, format, boolArg(arg, "rescan")), nil
	}
	limit, err := count(arg, "limit", DefaultLimit)
	if err != nil {
		return nil, err
	}
	offset, err := count(arg, "offset", 0)
	if err != nil {
		return nil, err
	}
	if limit == 0 {
		limit = DefaultLimit
	}
	if limit+offset > e.maxRecords() {
		return nil, bad("limit", "limit + offset: at most %d records an answer (query.max_records)", e.maxRecords())
	}
	return e.records(q, limit, offset, format), nil
}

// table answers a grouped question: from the daily partials when they hold
// it (unless rescan), else by a scan.
func (e *Engine) table(q report.Question, format string, rescan bool) *Answer {
	a := &Answer{ContentType: contentType(format), Header: map[string]string{}}
	var t *report.Table
	a.Run = func(ctx context.Context) error {
		cfg := e.Config
		if !rescan {
			pt, n, ok, err := report.FromPartials(ctx, e.Source, q, cfg)
			if err != nil {
				return err
			}
			if ok {
				t = pt
				a.Header["X-Ingestd-Answered-From"] = "partials of " + strconv.Itoa(n) + " days"
				a.Header["X-Ingestd-Groups"] = strconv.Itoa(t.Groups)
				return nil
			}
		}
		files, err := allFiles(ctx, e.Source, q.From, q.To)
		if err != nil {
			return err
		}
		t, err = report.Ask(ctx, files, q, cfg, report.ScanOptions{Open: e.Source.Open, Prefetch: e.Source.Prefetch()}, nil)
		if errors.Is(err, report.ErrTooManyGroups) {
			return &Error{Status: 422, Msg: err.Error(), Param: "by", Pos: -1}
		}
		if err != nil {
			return err
		}
		a.Header["X-Ingestd-Answered-From"] = "scan of " + strconv.Itoa(len(files)) + " files"
		a.Header["X-Ingestd-Groups"] = strconv.Itoa(t.Groups)
		return nil
	}
	a.Write = func(_ context.Context, w *bufio.Writer) error { return WriteTable(w, t, format) }
	return a
}

// found is one matching record and its timestamp (µs).
type found struct {
	ts  int64
	rec []byte
}

// newer orders records newest first; equal times by their bytes, so that
// pages agree.
func newer(a, b found) bool {
	if a.ts != b.ts {
		return a.ts > b.ts
	}
	return bytes.Compare(a.rec, b.rec) > 0
}

// oldestFirst is a heap whose top is the oldest record kept.
type oldestFirst []found

func (h oldestFirst) Len() int           { return len(h) }
func (h oldestFirst) Less(i, j int) bool { return newer(h[j], h[i]) }
func (h oldestFirst) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *oldestFirst) Push(x any)        { *h = append(*h, x.(found)) }
func (h *oldestFirst) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// records answers a question without by and stats: the matching records,
// newest first, skipping offset and returning limit. Intake stores every
// record in its timestamp's day, so days are scanned newest first and the
// scan stops at the first day after which limit+offset records are kept:
// no older day can hold a newer record.
func (e *Engine) records(q report.Question, limit, offset int, format string) *Answer {
	a := &Answer{ContentType: contentType(format), Header: map[string]string{}}
	var out []found
	a.Run = func(ctx context.Context) error {
		days, err := scanFiles(ctx, e.Source, q.From, q.To)
		if err != nil {
			return err
		}
		need := limit + offset
		cfg := bare(e.Config)
		cfg.Where, cfg.From, cfg.To = q.Where, q.From, q.To
		var mu sync.Mutex
		h := make(oldestFirst, 0, need)
		scanned := 0
		for i := len(days) - 1; i >= 0 && h.Len() < need; i-- {
			if len(days[i]) == 0 {
				continue
			}
			scanned++
			sink := func(rec arrow.Record) error {
				ts := rec.Column(0).(*array.Timestamp)
				raw := rec.Column(int(rec.NumCols()) - 1).(*array.String)
				mu.Lock()
				defer mu.Unlock()
				for r := 0; r < raw.Len(); r++ {
					t, v := int64(ts.Value(r)), raw.Value(r)
					if h.Len() < need {
						heap.Push(&h, found{ts: t, rec: []byte(v)})
						continue
					}
					if t < h[0].ts || t == h[0].ts && v <= string(h[0].rec) {
						continue // no newer than the oldest kept
					}
					h[0] = found{ts: t, rec: []byte(v)}
					heap.Fix(&h, 0)
				}
				return nil
			}
			if _, err := report.Scan(ctx, days[i], cfg, report.ScanOptions{Sink: sink, Open: e.Source.Open, Prefetch: e.Source.Prefetch()}); err != nil {
				return err
			}
		}
		out = []found(h)
		sort.Slice(out, func(i, j int) bool { return newer(out[i], out[j]) })
		if offset < len(out) {
			out = out[offset:]
		} else {
			out = nil
		}
		a.Header["X-Ingestd-Days-Scanned"] = strconv.Itoa(scanned)
		a.Header["X-Ingestd-Records"] = strconv.Itoa(len(out))
		return nil
	}
	a.Write = func(_ context.Context, w *bufio.Writer) error {
		if format == "json" {
			w.WriteString("[")
		}
		for i, f := range out {
			if format == "json" && i > 0 {
				w.WriteString(",\n")
			} else if format == "json" {
				w.WriteString("\n")
			}
			w.Write(f.rec)
			if format == "ndjson" {
				w.WriteByte('\n')
			}
		}
		if format == "json" {
			w.WriteString("\n]\n")
		}
		return nil
	}
	return a
}

func contentType(format string) string {
	switch format {
	case "csv":
		return "text/csv; charset=utf-8"
	case "ndjson":
		return "application/x-ndjson"
	}
	return "application/json"
}

// timeText formats a bucket's start as the API writes times.
func timeText(t time.Time) string { return t.UTC().Format(time.RFC3339) }
