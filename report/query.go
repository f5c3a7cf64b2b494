package report

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// Question is an ad-hoc question over a time range: the records a filter
// matches, or statistics of them grouped by one or two fields.
type Question struct {
	From, To time.Time // records whose timestamp lies in [From, To)
	Where    string    // a filter (package filter); "" = every record
	By       []string  // group by these paths (0, 1 or 2); values by their JSON text, missing as null
	Stats    []Stat    // per group; empty with By: count
	Limit    int       // rows (or records) printed at most; 0 = all
}

// Table is a grouped answer: a header and rows of string (group values,
// nil for a missing field), int64 (counts, distinct) or float64 (the
// other statistics, nil without values) cells, largest count first.
type Table struct {
	Columns []string // the group fields, then the statistics
	By      int      // how many of Columns are group fields
	Rows    [][]any
	Groups  int // groups found, before the limit
}

// queryBreakdown names the one breakdown a grouped question computes.
const queryBreakdown = "query"

// MaxGroups bounds the groups of one question.
const MaxGroups = 100000

// ErrTooManyGroups is returned when a question finds more than MaxGroups
// groups.
var ErrTooManyGroups = fmt.Errorf("report: more than %d groups: narrow --where or group by fewer or coarser fields", MaxGroups)

// Ask answers q over files with the report engine (cfg gives the
// timestamp rules and workers). Without By and Stats it hands each
// matching record to records (at most q.Limit when set) and returns nil.
func Ask(ctx context.Context, files []string, q Question, cfg Config, opt ScanOptions, records func([]byte) error) (*Table, error) {
	if len(q.By) > 2 {
		return nil, errors.New("report: group by at most two fields")
	}
	cfg.Where, cfg.From, cfg.To = q.Where, q.From, q.To
	cfg.Dimensions, cfg.Metrics, cfg.Distinct, cfg.Breakdowns = nil, nil, nil, nil
	grouped := len(q.By) > 0 || len(q.Stats) > 0
	if grouped {
		if len(q.Stats) == 0 {
			q.Stats = []Stat{{Fn: "count"}}
		}
		cfg.Breakdowns = []Breakdown{{Name: queryBreakdown, By: q.By, Stats: q.Stats, Capacity: MaxGroups}}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var sinkErr error
	var printed int
	if !grouped {
		opt.Sink = func(rec arrow.Record) error {
			raw := rec.Column(int(rec.NumCols()) - 1).(*array.String)
			mu.Lock()
			defer mu.Unlock()
			for i := 0; i < raw.Len(); i++ {
				if q.Limit > 0 && printed >= q.Limit {
					cancel() // enough: stop the scan
					return nil
				}
				if err := records([]byte(raw.Value(i))); err != nil {
					sinkErr = err
					cancel()
					return err
				}
				printed++
			}
			return nil
		}
		_, err := Scan(ctx, files, cfg, opt)
		if sinkErr != nil {
			return nil, sinkErr
		}
		if err != nil && !(q.Limit > 0 && printed >= q.Limit && errors.Is(err, context.Canceled)) {
			return nil, err
		}
		return nil, nil
	}
	res, err := Scan(ctx, files, cfg, opt)
	if err != nil {
		return nil, err
	}
	gt := res.Breakdowns[queryBreakdown]
	if !gt.Exact {
		return nil, ErrTooManyGroups
	}
	bt := gt.Table(cfg.Breakdowns[0])
	t := &Table{Columns: bt.Columns, By: len(q.By), Rows: bt.Rows, Groups: bt.Groups}
	if q.Limit > 0 && len(t.Rows) > q.Limit {
		t.Rows = t.Rows[:q.Limit]
	}
	return t, nil
}
