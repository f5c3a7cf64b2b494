package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ingestd/ingestd/configs"
	"github.com/ingestd/ingestd/ingest"
	"github.com/ingestd/ingestd/record"
	"github.com/ingestd/ingestd/report"
	"github.com/ingestd/ingestd/scrub"
	"github.com/ingestd/ingestd/segment"
)

var scheduleName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)

// Validate checks every section.
func (c *fileConfig) Validate() error {
	if err := c.validateSections(); err != nil {
		return err
	}
	r := c.Report
	if r.Schedule != "off" {
		if _, err := report.ParseSchedule(r.Schedule); err != nil {
			return fmt.Errorf("config: report.schedule: %w (or \"off\")", err)
		}
	}
	if r.TopN < 1 || r.TopCapacity < r.TopN {
		return fmt.Errorf("config: report.top_n/top_capacity: %d/%d (want 1 ≤ top_n ≤ top_capacity)", r.TopN, r.TopCapacity)
	}
	if r.Workers < 1 || r.Workers > 256 {
		return fmt.Errorf("config: report.workers: %d (want 1..256)", r.Workers)
	}
	names := map[string]bool{}
	for i, sc := range r.Schedules {
		key := fmt.Sprintf("config: report.schedules[%d]", i)
		if !scheduleName.MatchString(sc.Name) || names[sc.Name] {
			return fmt.Errorf("%s: name %q: want a unique name of letters, digits, - and _", key, sc.Name)
		}
		names[sc.Name] = true
		if _, err := report.ParseSchedule(sc.Cron); err != nil {
			return fmt.Errorf("%s (%s): cron: %w", key, sc.Name, err)
		}
		if _, err := report.ParsePeriod(sc.Period); err != nil {
			return fmt.Errorf("%s (%s): %w", key, sc.Name, err)
		}
	}
	if _, err := c.breakdowns(); err != nil {
		return err
	}
	if err := c.reportConfig(1).Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if c.Scrub.Interval < 0 || c.Scrub.Interval > 0 && c.Scrub.Rate < 1<<20 {
		return fmt.Errorf("config: scrub: interval %v, rate %d (want interval ≥ 0, and rate ≥ 1MiB when on)", c.Scrub.Interval, c.Scrub.Rate)
	}
	if q := c.Query; q.MaxConcurrent < 1 || q.MaxTails < 1 || q.Timeout <= 0 || q.MaxRecords < 1 || q.Workers < 0 || q.Workers > 256 {
		return fmt.Errorf("config: query: max_concurrent %d, max_tails %d, timeout %v, max_records %d, workers %d (want the first four positive, workers 0..256)",
			q.MaxConcurrent, q.MaxTails, q.Timeout, q.MaxRecords, q.Workers)
	}
	if st := c.Storage; st.Endpoint != "" && (st.Bucket == "" || st.Interval <= 0) {
		return fmt.Errorf("config: storage: with an endpoint, set bucket and a positive interval")
	}
	if err := segment.CheckNode(c.node()); err != nil {
		return fmt.Errorf("config: node_id: %w", err)
	}
	if err := c.reportConfig(0).Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// reportDir is where monthly reports go.
func (c *fileConfig) reportDir() string {
	if c.Report.Dir != "" {
		return c.Report.Dir
	}
	return filepath.Join(c.DataDir, "reports")
}

// breakdowns converts report.breakdowns, reading each statistic.
func (c *fileConfig) breakdowns() ([]report.Breakdown, error) {
	var out []report.Breakdown
	for i, b := range c.Report.Breakdowns {
		rb := report.Breakdown{Name: b.Name, By: b.By, Time: b.Time, Where: b.Where, Capacity: b.Capacity, Limit: b.Limit}
		for _, s := range b.Stats {
			st, err := report.ParseStat(s)
			if err != nil {
				return nil, fmt.Errorf("config: report.breakdowns[%d] (%s): %w", i, b.Name, err)
			}
			rb.Stats = append(rb.Stats, st)
		}
		if b.Capacity < 0 || b.Limit < 0 {
			return nil, fmt.Errorf("config: report.breakdowns[%d] (%s): capacity and limit must not be negative", i, b.Name)
		}
		out = append(out, rb)
	}
	return out, nil
}

// reportConfig is what report needs, with timestamps read as intake reads
// them. workers 0 means the configured report.workers.
func (c *fileConfig) reportConfig(workers int) report.Config {
	if workers == 0 {
		workers = c.Report.Workers
	}
	bds, _ := c.breakdowns() // checked by Validate
	return report.Config{Dimensions: c.Report.Dimensions, Metrics: c.Report.Metrics, Distinct: c.Report.Distinct,
		TopN: c.Report.TopN, TopCap: c.Report.TopCapacity, TimestampFields: c.Records.TimestampFields,
		ParseTimestamp: record.ParseTimestamp, Workers: workers, Where: c.Report.Where, Breakdowns: bds,
		Auto: len(c.Report.Dimensions)+len(c.Report.Metrics)+len(c.Report.Distinct) == 0}
}

// loadConfig reads the embedded defaults, then path (if any) over them, with
// unknown keys refused.
func loadConfig(path string) (fileConfig, error) {
	c := fileConfig{Report: defaultReportConfig(),
		Storage: storageConfig{DeleteAfter: 24 * time.Hour, Interval: 10 * time.Second},
		Scrub:   scrubConfig{Rate: scrub.DefaultRate, Shipped: true}}
	if err := decodeStrict(configs.Default, &c); err != nil {
		return c, fmt.Errorf("embedded config: %w", err)
	}
	if path == "" {
		return c, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	if err := decodeStrict(b, &c); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

func decodeStrict(b []byte, v any) error {
	d := yaml.NewDecoder(bytes.NewReader(b))
	d.KnownFields(true)
	if err := d.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// commonFlags are the flags most commands share.
type commonFlags struct {
	config  string
	dataDir string
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.config, "config", "", "YAML configuration `file` (default: embedded defaults, see configs/ingestd.yaml)")
	fs.StringVar(&c.dataDir, "data-dir", "", "data `directory` (default from config: ./data)")
}

// tokens returns the configured tokens plus those of auth.token_file.
func (c *fileConfig) tokens() ([]ingest.Token, error) {
	ts := c.ownTokens()
	if c.Auth.TokenFile == "" {
		return ts, nil
	}
	b, err := os.ReadFile(c.Auth.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("config: auth.token_file: %w", err)
	}
	more, err := ingest.ParseTokenFile(b)
	if err != nil {
		return nil, fmt.Errorf("config: auth.token_file %s: %w", c.Auth.TokenFile, err)
	}
	ts = append(ts, more...)
	if err := ingest.ValidateTokens(ts); err != nil {
		return nil, fmt.Errorf("config: auth.tokens and token_file together: token%w", err)
	}
	return ts, nil
}

// load returns the configuration with flags applied.
func (c *commonFlags) load() (fileConfig, error) {
	cfg, err := loadConfig(c.config)
	if err != nil {
		return cfg, err
	}
	if c.dataDir != "" {
		cfg.DataDir = c.dataDir
	}
	return cfg, cfg.Validate()
}

func newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: ingestd %s\n\nOptions:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; it returns a non-negative exit code when the
// command should stop (help asked: 0, bad flags: 2).
func parseFlags(fs *flag.FlagSet, args []string) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %v\n", fs.Args())
		fs.Usage()
		return 2
	}
	return -1
}

// prepare parses a command's flags (common ones plus those extra registers)
// and loads the configuration. code ≥ 0 means the command should exit with it.
func prepare(name, synopsis string, args []string, extra func(*flag.FlagSet)) (cfg fileConfig, code int) {
	fs := newFlagSet(name, synopsis)
	var cf commonFlags
	cf.register(fs)
	if extra != nil {
		extra(fs)
	}
	if code := parseFlags(fs, args); code >= 0 {
		return cfg, code
	}
	cfg, err := cf.load()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingestd:", err)
		return cfg, 2
	}
	return cfg, -1
}
