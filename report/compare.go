package report

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// Comparison is a report set against the previous period of the same
// length (the month before, or the same number of days before a range),
// read from that period's stored summary.
type Comparison struct {
	Previous    string                   `json:"previous"` // its report's name
	Records     int64                    `json:"records"`  // the previous period's
	Change      *float64                 `json:"change"`   // records now / before - 1; null when before is 0
	Top         map[string][]ValueChange `json:"top"`      // by dimension: the values that rose or fell most
	NewValues   map[string][]string      `json:"new_values"`
	Metrics     map[string]MetricChange  `json:"metrics"`
	NewFields   []string                 `json:"new_fields"`
	GoneFields  []string                 `json:"vanished_fields"`
	Approximate bool                     `json:"approximate"` // top values beyond either period's top list count as 0
}

// ValueChange is one dimension value's records in both periods.
type ValueChange struct {
	Value  string `json:"value"`
	Now    int64  `json:"records"`
	Before int64  `json:"before"`
	Delta  int64  `json:"delta"`
}

// MetricChange is a metric's quantiles in both periods.
type MetricChange struct {
	P50, P50Before, P99, P99Before *float64
}

// maxChanges bounds the values listed per dimension.
const maxChanges = 5

// previousName is the name of the period before name ("2026-11" →
// "2026-10"; a range → the same number of days just before it).
func previousName(name string) (string, bool) {
	if m, err := time.Parse("2006-01", name); err == nil {
		return m.AddDate(0, -1, 0).Format("2006-01"), true
	}
	if from, to, ok := ParseRangeName(name); ok {
		d := to.Sub(from)
		return RangeName(from.Add(-d), from), true
	}
	return "", false
}

// comparePrevious compares s with the stored summary of the period before
// it in outDir; nil when there is none.
func comparePrevious(outDir string, s *Summary) (*Comparison, error) {
	prev, ok := previousName(s.Month)
	if !ok {
		return nil, nil
	}
	b, err := os.ReadFile(filepath.Join(outDir, prev, "summary.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var p Summary
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, err
	}
	if w, _ := p.Config["where"].(string); w != s.Config["where"] {
		return nil, nil // another question: a filtered report beside a full one
	}
	return compare(s, &p, prev), nil
}

// compare sets cur against prev.
func compare(cur, prev *Summary, name string) *Comparison {
	c := &Comparison{Previous: name, Records: prev.Records, Top: map[string][]ValueChange{},
		NewValues: map[string][]string{}, Metrics: map[string]MetricChange{}, NewFields: []string{}, GoneFields: []string{}}
	if prev.Records > 0 {
		v := float64(cur.Records)/float64(prev.Records) - 1
		c.Change = &v
	}
	for dim, now := range cur.Top {
		before, ok := prev.Top[dim]
		if !ok {
			continue
		}
		counts := map[string]*ValueChange{}
		for _, v := range before {
			counts[v.Value] = &ValueChange{Value: v.Value, Before: v.Count}
		}
		var fresh []string
		for _, v := range now {
			ch := counts[v.Value]
			if ch == nil {
				ch = &ValueChange{Value: v.Value}
				counts[v.Value] = ch
				fresh = append(fresh, v.Value)
			}
			ch.Now = v.Count
		}
		var list []ValueChange
		for _, ch := range counts {
			ch.Delta = ch.Now - ch.Before
			if ch.Delta != 0 {
				list = append(list, *ch)
			}
		}
		sort.Slice(list, func(i, j int) bool {
			a, b := abs64(list[i].Delta), abs64(list[j].Delta)
			if a != b {
				return a > b
			}
			return list[i].Value < list[j].Value
		})
		if len(list) > maxChanges {
			list = list[:maxChanges]
		}
		if len(list) > 0 {
			c.Top[dim] = list
		}
		if len(fresh) > 0 && len(before) > 0 {
			sort.Strings(fresh)
			c.NewValues[dim] = fresh
		}
		if !cur.TopExact[dim] || !prev.TopExact[dim] || len(now) >= topListed(cur) || len(before) >= topListed(prev) {
			c.Approximate = true
		}
	}
	for m, now := range cur.Metrics {
		if before, ok := prev.Metrics[m]; ok && (now.Count > 0 || before.Count > 0) {
			c.Metrics[m] = MetricChange{P50: now.P50, P50Before: before.P50, P99: now.P99, P99Before: before.P99}
		}
	}
	had := map[string]bool{}
	for _, f := range prev.Fields {
		had[f.Path] = true
	}
	has := map[string]bool{}
	for _, f := range cur.Fields {
		has[f.Path] = true
		if !had[f.Path] {
			c.NewFields = append(c.NewFields, f.Path)
		}
	}
	for _, f := range prev.Fields {
		if !has[f.Path] {
			c.GoneFields = append(c.GoneFields, f.Path)
		}
	}
	sort.Strings(c.NewFields)
	sort.Strings(c.GoneFields)
	return c
}

// topListed is how many values a summary lists per dimension (its top_n).
func topListed(s *Summary) int {
	if n, ok := s.Config["top_n"].(float64); ok {
		return int(n)
	}
	if n, ok := s.Config["top_n"].(int); ok {
		return n
	}
	return 10
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
