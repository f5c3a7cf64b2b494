package explore

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/ingestd/ingestd/report"
)

// steps are the bucket widths a hits answer picks from when step is not
// given: the first that makes at most 200 buckets.
var steps = []time.Duration{time.Second, 10 * time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute,
	time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}

// parseStep reads a bucket width: a Go duration ("90s", "1h", "15m") or
// days ("1d", "7d").
func parseStep(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("step %q: want a duration such as 1m, 1h or 1d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Second || d%time.Second != 0 {
		return 0, fmt.Errorf("step %q: want a whole number of seconds, at least 1s (1m, 1h, 1d)", s)
	}
	return d, nil
}

// hits is GET /api/v1/hits: records per time bucket of step over [from,
// to), the first bucket starting at from. Unfiltered, with whole hours,
// they come from the daily partials' hourly counts (days without a fresh
// partial scanned for their counts alone); else from a scan of the
// timestamps.
func (e *Engine) hits(arg func(string) string) (*Answer, error) {
	from, to, w, perr := spanWhere(arg)
	if perr != nil {
		return nil, perr
	}
	var step time.Duration
	if s := arg("step"); s != "" {
		var err error
		if step, err = parseStep(s); err != nil {
			return nil, bad("step", "%v", err)
		}
	} else {
		step = steps[len(steps)-1]
		for _, s := range steps {
			if to.Sub(from)/s <= 200 {
				step = s
				break
			}
		}
	}
	n := int((to.Sub(from) + step - 1) / step)
	if n > MaxBuckets {
		return nil, bad("step", "step %v makes %d buckets over the range; at most %d", step, n, MaxBuckets)
	}
	format := arg("format")
	if format == "" {
		format = "json"
	}
	if format != "json" && format != "csv" {
		return nil, bad("format", "format %q: want json or csv", format)
	}
	counts := make([]int64, n)
	a := &Answer{ContentType: contentType(format), Header: map[string]string{"X-Ingestd-Step": step.String()}}
	a.Run = func(ctx context.Context) error {
		hourly := w == "" && step%time.Hour == 0 && from.Equal(from.Truncate(time.Hour)) && to.Equal(to.Truncate(time.Hour))
		if hourly {
			ra, err := report.RangeAgg(ctx, e.Source, from, to, e.Config, report.RangeOptions{Counts: true, Cache: &e.partials})
			if err != nil {
				return err
			}
			for h, c := range ra.Agg.Hours() {
				t := time.Unix(h, 0)
				if t.Before(from) || !t.Before(to) {
					continue
				}
				counts[int(t.Sub(from)/step)] += c
			}
			a.Header["X-Ingestd-Answered-From"] = fmt.Sprintf("partials of %d days, scan of %d", ra.DaysFromPartials, ra.DaysScanned)
			return nil
		}
		files, err := allFiles(ctx, e.Source, from, to)
		if err != nil {
			return err
		}
		cfg := bare(e.Config)
		cfg.Where, cfg.From, cfg.To = w, from, to
		lo, width := from.UnixMicro(), step.Microseconds()
		var mu sync.Mutex
		sink := func(rec arrow.Record) error {
			ts := rec.Column(0).(*array.Timestamp)
			mu.Lock()
			defer mu.Unlock()
			for i := 0; i < ts.Len(); i++ {
				if b := (int64(ts.Value(i)) - lo) / width; b >= 0 && b < int64(n) {
					counts[b]++
				}
			}
			return nil
		}
		if _, err := report.Scan(ctx, files, cfg, report.ScanOptions{Sink: sink, Open: e.Source.Open, Prefetch: e.Source.Prefetch()}); err != nil {
			return err
		}
		a.Header["X-Ingestd-Answered-From"] = "scan of " + strconv.Itoa(len(files)) + " files"
		return nil
	}
	a.Write = func(_ context.Context, bw *bufio.Writer) error {
		if format == "csv" {
			bw.WriteString("time,count\n")
		} else {
			bw.WriteString(`{"step":"` + step.String() + `","hits":[`)
		}
		for i, c := range counts {
			t := timeText(from.Add(time.Duration(i) * step))
			if format == "csv" {
				bw.WriteString(t + "," + strconv.FormatInt(c, 10) + "\n")
				continue
			}
			if i > 0 {
				bw.WriteByte(',')
			}
			bw.WriteString(`{"time":"` + t + `","count":` + strconv.FormatInt(c, 10) + "}")
		}
		if format == "json" {
			bw.WriteString("]}\n")
		}
		return nil
	}
	return a, nil
}
