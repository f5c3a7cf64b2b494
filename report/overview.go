package report

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
)

// RangeResult is the aggregate of a time range and how it was made.
type RangeResult struct {
	Agg              *Agg
	DaysFromPartials int // days answered by stored partials alone
	DaysScanned      int // days with at least one file scanned
}

// RangeOptions tune RangeAgg.
type RangeOptions struct {
	// Counts scans without cfg's dimensions, metrics, distinct counts,
	// breakdowns and zero-config summaries: for a caller that needs only
	// the record counts and the field inventory of the scanned days.
	Counts bool
	// Cache, when set, keeps the partials it parses for the next call.
	Cache *PartialCache
}

// PartialCache keeps parsed daily partials between RangeAgg calls (the
// read API answers a page's first view from them): a partial is parsed
// again only when its bytes change. Safe for concurrent use; what it holds
// is only read (merged from), never changed.
type PartialCache struct {
	mu sync.Mutex
	m  map[string]cachedPartial
}

type cachedPartial struct {
	sum uint64
	p   *Partial
}

// maxCachedPartials bounds the cache: a year of days on a few nodes.
const maxCachedPartials = 2048

func (c *PartialCache) parse(key string, b []byte) (*Partial, error) {
	sum := xxhash.Sum64(b)
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && e.sum == sum {
		return e.p, nil
	}
	p, err := parsePartial(b)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedPartials {
		c.m = map[string]cachedPartial{}
	}
	c.m[key] = cachedPartial{sum, p}
	c.mu.Unlock()
	return p, nil
}

// RangeAgg aggregates the records of [from, to) with cfg (whose own From,
// To are ignored): a whole day inside the range is answered by its fresh
// stored partials where they cover its files (cfg must then be the config
// the partials were computed with, Where included) and its other files are
// scanned; a day cut by the range is scanned with the range's bounds.
func RangeAgg(ctx context.Context, src Source, from, to time.Time, cfg Config, opt RangeOptions) (*RangeResult, error) {
	cfg.From, cfg.To = time.Time{}, time.Time{}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	const day = 24 * time.Hour
	days, err := src.Days(ctx, from.Truncate(day), to)
	if err != nil {
		return nil, err
	}
	res := &RangeResult{Agg: NewAgg(cfg)}
	fp := cfg.Fingerprint()
	for _, d := range days {
		in, err := src.Inputs(ctx, d)
		if err != nil {
			return nil, err
		}
		dcfg := cfg
		if opt.Counts {
			dcfg.Dimensions, dcfg.Metrics, dcfg.Distinct, dcfg.Breakdowns, dcfg.Auto = nil, nil, nil, nil, false
		}
		whole := !d.Start.Before(from) && !d.Start.Add(day).After(to)
		rest := in
		if whole {
			raw, err := src.Partials(ctx, d)
			if err != nil {
				return nil, err
			}
			parse := func(_ string, b []byte) (*Partial, error) { return parsePartial(b) }
			if opt.Cache != nil {
				parse = func(name string, b []byte) (*Partial, error) { return opt.Cache.parse(d.Dir+"/"+name, b) }
			}
			var ps []*Partial
			ps, rest = coverWith(raw, parse, fp, in, func(string, error) {})
			for _, p := range ps {
				if err := res.Agg.Merge(p.Agg); err != nil {
					return nil, err
				}
			}
		} else if !whole {
			dcfg.From, dcfg.To = from, to
		}
		if len(rest) == 0 {
			if len(in) > 0 {
				res.DaysFromPartials++
			}
			continue
		}
		files := make([]string, len(rest))
		for i, f := range rest {
			files[i] = src.Path(d, f.Name)
		}
		agg, err := Scan(ctx, files, dcfg, ScanOptions{Open: src.Open, Prefetch: src.Prefetch()})
		if err != nil {
			return nil, fmt.Errorf("report: scan %s: %w", d.Dir, err)
		}
		if err := res.Agg.Merge(agg); err != nil {
			return nil, err
		}
		res.DaysScanned++
	}
	return res, nil
}

// Hours returns the records of the aggregate by UTC hour (Unix seconds of
// the hour's start), from each day's hourly counts.
func (a *Agg) Hours() map[int64]int64 {
	out := map[int64]int64{}
	for dn, c := range a.Days {
		for h, n := range c.Hours {
			if n != 0 {
				out[dn*86400+int64(h)*3600] += n
			}
		}
	}
	return out
}

// DistinctOf is the approximate number of distinct values of path, when
// the aggregate keeps a sketch of it (never above its records).
func (a *Agg) DistinctOf(path string) (uint64, bool) {
	h := a.Distinct[path]
	if h == nil {
		return 0, false
	}
	var n int64
	if f := a.Fields[path]; f != nil {
		n = f.Records
	}
	return distinctEstimate(h, n), true
}
