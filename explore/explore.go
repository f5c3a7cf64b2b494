// Package explore answers the daemon's read API — /api/v1/query, /hits,
// /fields and /tail — with the report engine, as `ingestd query` does: the
// daily partials where they hold the answer, a scan where they do not. The
// HTTP server (ingest/httpapi) calls it through the small interface it
// defines and knows nothing of reports; explore knows nothing of HTTP
// beyond a status in its errors.
package explore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ingestd/ingestd/report"
	"github.com/ingestd/ingestd/report/filter"
)

// Engine answers the read API over one source.
type Engine struct {
	Source report.Source
	// Config is the daemon's report config (timestamp rules, fields): the
	// stored partials were computed with it, so unfiltered questions over
	// whole days are answered from them.
	Config report.Config
	// MaxRecords bounds the records one answer returns (limit + offset);
	// 0 means DefaultMaxRecords.
	MaxRecords int
	// Tail, when set, follows the records as they become durable.
	Tail Subscriber

	partials report.PartialCache // parsed daily partials, for hits and fields
}

// DefaultMaxRecords is the cap on records one answer returns.
const DefaultMaxRecords = 10000

// DefaultLimit is the records a raw query returns without a limit.
const DefaultLimit = 100

// MaxBuckets bounds the buckets of a hits answer.
const MaxBuckets = 10000

// Error is a call's mistake or failure: an HTTP status, a message and, for
// a filter's mistake, the byte position in the filter (-1 otherwise).
type Error struct {
	Status int
	Msg    string
	Param  string // the parameter at fault, or ""
	Pos    int
}

func (e *Error) Error() string { return e.Msg }

// HTTPStatus is the status the answer carries.
func (e *Error) HTTPStatus() int { return e.Status }

// Position is the byte offset of a filter's mistake, or -1.
func (e *Error) Position() int { return e.Pos }

// Parameter names the parameter at fault, or "".
func (e *Error) Parameter() string { return e.Param }

func bad(param, format string, a ...any) *Error {
	return &Error{Status: 400, Msg: fmt.Sprintf(format, a...), Param: param, Pos: -1}
}

// Answer is a prepared call: parameters checked, ready to run and write.
type Answer struct {
	ContentType string
	// Run, when set, computes the answer before anything is written, so
	// that its failure is an error status; it may set Header.
	Run    func(ctx context.Context) error
	Header map[string]string // extra response headers, set by Run
	// Write streams the answer; ctx ends when the client goes away, the
	// query times out or the daemon stops.
	Write func(ctx context.Context, w *bufio.Writer) error
}

// Prepare checks the parameters of call ("query", "hits", "fields" or
// "tail") as arg gives them and returns the answer to stream, or an
// *Error.
func (e *Engine) Prepare(call string, arg func(name string) string) (*Answer, error) {
	switch call {
	case "query":
		return e.query(arg)
	case "hits":
		return e.hits(arg)
	case "fields":
		return e.fields(arg)
	case "tail":
		return e.tail(arg)
	}
	return nil, &Error{Status: 404, Msg: "no such API call: " + call, Pos: -1}
}

func (e *Engine) maxRecords() int {
	if e.MaxRecords > 0 {
		return e.MaxRecords
	}
	return DefaultMaxRecords
}

// ParseTime reads a time parameter: RFC 3339, or a date (midnight UTC).
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor YYYY-MM-DD", s)
	}
	return t, nil
}

// span reads from and to (both required, to after from).
func span(arg func(string) string) (from, to time.Time, err *Error) {
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"from", &from}, {"to", &to}} {
		s := arg(p.name)
		if s == "" {
			return from, to, bad(p.name, "%s: give a time (RFC 3339 or YYYY-MM-DD)", p.name)
		}
		t, perr := ParseTime(s)
		if perr != nil {
			return from, to, bad(p.name, "%s: %v", p.name, perr)
		}
		*p.t = t
	}
	if !to.After(from) {
		return from, to, bad("to", "to must be after from")
	}
	return from, to, nil
}

// spanWhere reads from, to and where, the parameters of every question.
func spanWhere(arg func(string) string) (from, to time.Time, w string, err *Error) {
	if from, to, err = span(arg); err != nil {
		return
	}
	w, err = where(arg)
	return
}

// allFiles lists the files of the days of [from, to), oldest day first.
func allFiles(ctx context.Context, src report.Source, from, to time.Time) ([]string, error) {
	days, err := scanFiles(ctx, src, from, to)
	var files []string
	for _, d := range days {
		files = append(files, d...)
	}
	return files, err
}

// where reads and checks the filter; a mistake carries its position.
func where(arg func(string) string) (string, *Error) {
	w := strings.TrimSpace(arg("where"))
	if w == "" {
		return "", nil
	}
	if _, err := filter.Parse(w); err != nil {
		out := &Error{Status: 400, Msg: "where: " + err.Error(), Param: "where", Pos: -1}
		var fe *filter.Error
		if errors.As(err, &fe) {
			out.Pos = fe.Pos
		}
		return "", out
	}
	return w, nil
}

// count reads a non-negative integer parameter (def when absent).
func count(arg func(string) string, name string, def int) (int, *Error) {
	s := arg(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, bad(name, "%s: want a whole number ≥ 0, not %q", name, s)
	}
	return n, nil
}

// boolArg reads a flag parameter: "", "0", "false" are false.
func boolArg(arg func(string) string, name string) bool {
	s := arg(name)
	return s != "" && s != "0" && s != "false"
}

// scanFiles lists the files of the days of [from, to), newest day last.
func scanFiles(ctx context.Context, src report.Source, from, to time.Time) ([][]string, error) {
	days, err := src.Days(ctx, from.Truncate(24*time.Hour), to)
	if err != nil {
		return nil, err
	}
	out := make([][]string, 0, len(days))
	for _, d := range days {
		in, err := src.Inputs(ctx, d)
		if err != nil {
			return nil, err
		}
		files := make([]string, len(in))
		for i, f := range in {
			files[i] = src.Path(d, f.Name)
		}
		out = append(out, files)
	}
	return out, nil
}

// bare is cfg reduced to the question's own columns: no dimensions,
// metrics, distinct counts, breakdowns or zero-config summaries.
func bare(cfg report.Config) report.Config {
	cfg.Dimensions, cfg.Metrics, cfg.Distinct, cfg.Breakdowns, cfg.Auto = nil, nil, nil, nil, false
	return cfg
}
