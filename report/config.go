// Package report turns a range of segment files into Arrow record batches
// and mergeable aggregates, keeps one partial aggregate per day, and writes
// the monthly report (summary.json, daily.csv, report.html, Parquet tables).
//
// It reads segments through the segment package and knows nothing of HTTP or
// the WAL. The record timestamp parser is given by the caller, so the report
// reads timestamps exactly as intake accepted them.
package report

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/ingestd/ingestd/report/filter"
)

// Config says what a report computes. Field names are paths: "user.id" is the
// field "id" inside the object field "user".
type Config struct {
	Dimensions      []string                    // top-N values per field
	Metrics         []string                    // numeric fields: count, min, max, sum, mean, quantiles
	Distinct        []string                    // distinct-value counts (HyperLogLog)
	TopN            int                         // values listed per dimension (default 10)
	TopCap          int                         // values counted exactly per dimension before Space-Saving (default 10000)
	TimestampFields []string                    // top-level timestamp fields, best first (as intake)
	ParseTimestamp  func([]byte) (int64, error) // JSON value → Unix ns (as intake)
	Workers         int                         // parallel decoders and parsers (default GOMAXPROCS)
	BatchRows       int                         // rows per Arrow record batch (default 65536)
	MaxFields       int                         // field-inventory paths kept per scan (default 1000)
	MaxDepth        int                         // object nesting the inventory descends into (default 4)
	// Where, when set, is a filter (package filter): only the records it
	// matches are counted. The field inventory and the data-quality
	// counters still cover every record read.
	Where string
	// From and To, when set, count only the records whose timestamp lies
	// in [From, To); records without a readable timestamp are left out.
	From, To time.Time
	// Breakdowns are named group-by tables computed beside the rest.
	Breakdowns []Breakdown
	// Auto, with no Dimensions, Metrics or Distinct, has the report choose
	// them from the data (Agg.Choose).
	Auto bool
}

// Sketch parameters, part of every partial's fingerprint.
const (
	quantileAccuracy = 0.01 // DDSketch relative accuracy
	quantileBins     = 2048 // DDSketch bins (collapsing lowest)
	hllPrecision     = 14   // HyperLogLog registers 2^14: standard error 1.04/128 ≈ 0.81 %
	formatVersion    = 1
)

// DistinctError is the standard error of the distinct counts.
const DistinctError = 0.0081

// QuantileError is the relative error bound of the quantiles.
const QuantileError = quantileAccuracy

func (c Config) withDefaults() Config {
	if c.TopN <= 0 {
		c.TopN = 10
	}
	if c.TopCap <= 0 {
		c.TopCap = 10000
	}
	if c.TopCap < c.TopN {
		c.TopCap = c.TopN
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.BatchRows <= 0 {
		c.BatchRows = 65536
	}
	if c.MaxFields <= 0 {
		c.MaxFields = 1000
	}
	if c.MaxDepth <= 0 {
		c.MaxDepth = 4
	}
	if len(c.TimestampFields) == 0 {
		c.TimestampFields = []string{"timestamp"}
	}
	return c
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.ParseTimestamp == nil {
		return errors.New("report: no timestamp parser")
	}
	seen := map[string]string{}
	check := func(role string, names []string) error {
		for _, n := range names {
			if n == "" || strings.HasPrefix(n, ".") || strings.HasSuffix(n, ".") || strings.Contains(n, "..") {
				return fmt.Errorf("report: %s: bad field path %q", role, n)
			}
			if r, ok := seen[n]; ok && (r == "metrics") != (role == "metrics") {
				return fmt.Errorf("report: field %q is both a metric and a %s", n, strings.TrimSuffix(role, "s"))
			}
			seen[n] = role
		}
		return nil
	}
	if c.Auto && len(c.Dimensions)+len(c.Metrics)+len(c.Distinct) > 0 {
		return errors.New("report: a zero-config report (auto) names no dimensions, metrics or distinct fields")
	}
	if err := check("dimensions", c.Dimensions); err != nil {
		return err
	}
	if err := check("distinct", c.Distinct); err != nil {
		return err
	}
	if err := check("metrics", c.Metrics); err != nil {
		return err
	}
	if c.Where != "" {
		if _, err := filter.Parse(c.Where); err != nil {
			return fmt.Errorf("report: where: %w", err)
		}
	}
	names := map[string]bool{}
	for i, b := range c.Breakdowns {
		if err := b.validate(); err != nil {
			return fmt.Errorf("report: breakdowns[%d] (%s): %w", i, b.Name, err)
		}
		if names[b.Name] {
			return fmt.Errorf("report: breakdowns[%d]: name %q used twice", i, b.Name)
		}
		names[b.Name] = true
	}
	return nil
}

// ranged reports whether the config bounds the records' timestamps.
func (c Config) ranged() bool { return !c.From.IsZero() || !c.To.IsZero() }

// Fingerprint identifies everything that changes a partial: the fields, the
// sketch parameters and the file format. A partial with another fingerprint
// is stale.
func (c Config) Fingerprint() string {
	c = c.withDefaults()
	h := sha256.New()
	fmt.Fprintf(h, "v%d|dims=%q|metrics=%q|distinct=%q|topcap=%d|ts=%q|maxfields=%d|depth=%d|q=%g/%d|hll=%d",
		formatVersion, c.Dimensions, c.Metrics, c.Distinct, c.TopCap, c.TimestampFields, c.MaxFields, c.MaxDepth,
		quantileAccuracy, quantileBins, hllPrecision)
	if c.Where != "" { // absent before filters existed: older partials stay fresh
		e, _ := filter.Parse(c.Where)
		fmt.Fprintf(h, "|where=%q", e)
	}
	if c.Auto { // absent before zero-config reports existed
		fmt.Fprintf(h, "|auto=%d/%d", MaxAutoPaths, autoTopCap)
	}
	for _, b := range c.Breakdowns { // absent before breakdowns existed
		fmt.Fprintf(h, "|breakdown=%s", b.canonical())
	}
	if c.ranged() {
		fmt.Fprintf(h, "|range=%d/%d", c.From.UnixNano(), c.To.UnixNano())
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}
