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
	"github.com/ingestd/ingestd/ingest/httpapi"
	"github.com/ingestd/ingestd/ingest/ship"
	"github.com/ingestd/ingestd/record"
	"github.com/ingestd/ingestd/report"
	"github.com/ingestd/ingestd/scrub"
	"github.com/ingestd/ingestd/segment"
)

// fileConfig is the YAML file: one section per component.
type fileConfig struct {
	ingest.Config `yaml:",inline"`
	Report        reportConfig  `yaml:"report"`
	NodeID        string        `yaml:"node_id"` // "" = the host name
	Storage       storageConfig `yaml:"storage"`
	Scrub         scrubConfig   `yaml:"scrub"`
}

// scrubConfig is the background verification of sealed files and their
// shipped copies.
type scrubConfig struct {
	Interval time.Duration   `yaml:"interval"` // between the starts of two passes; 0 = off
	Rate     ingest.ByteSize `yaml:"rate"`     // bytes/s read at most
	Shipped  bool            `yaml:"shipped"`  // also verify the shipped objects (with storage)
}

// storageConfig is where sealed days are shipped; no endpoint = no shipping.
type storageConfig struct {
	Endpoint    string        `yaml:"endpoint"`     // host:port of the S3-compatible store
	Secure      bool          `yaml:"secure"`       // https
	Region      string        `yaml:"region"`       // "" = the store's default
	Bucket      string        `yaml:"bucket"`       // must exist
	Prefix      string        `yaml:"prefix"`       // key prefix
	AccessKey   string        `yaml:"access_key"`   // "" = AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from the environment
	SecretKey   string        `yaml:"secret_key"`   //
	DeleteAfter time.Duration `yaml:"delete_after"` // remove the local copy this long after the store confirmed it; negative = keep
	Interval    time.Duration `yaml:"interval"`     // how often to look for files to ship
}

// node returns the node id: node_id, or the host name.
func (c *fileConfig) node() string {
	if c.NodeID != "" {
		return c.NodeID
	}
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "node"
	}
	// A host name is nearly always a valid node id; make sure it is.
	b := []byte(h[:min(len(h), 64)])
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || i > 0 && (c == '.' || c == '_' || c == '-')) {
			b[i] = 'x'
		}
	}
	return string(b)
}

// reportConfig is the report section: the monthly schedule and what the
// reports compute.
type reportConfig struct {
	Schedule    string   `yaml:"schedule"`     // cron spec (5 fields, optional CRON_TZ=); "off" disables
	Dir         string   `yaml:"dir"`          // "" = <data_dir>/reports
	Dimensions  []string `yaml:"dimensions"`   // top-N values (all three empty: chosen from the data)
	Metrics     []string `yaml:"metrics"`      // numeric fields
	Distinct    []string `yaml:"distinct"`     // distinct counts
	TopN        int      `yaml:"top_n"`        // values listed per dimension
	TopCapacity int      `yaml:"top_capacity"` // exact counting up to this many values, Space-Saving beyond
	Partials    bool     `yaml:"partials"`     // compute a finished day's partial when it is compacted
	Workers     int      `yaml:"workers"`      // cores used by reports inside serve
	Where       string   `yaml:"where"`        // a filter: only matching records are counted ("" = all)
	// Schedules are more reports, each of a day, an ISO week or a month,
	// on its own cron with its own catch-up marker.
	Schedules []scheduleConfig `yaml:"schedules"`
	// Breakdowns are named group-by tables in every report.
	Breakdowns []breakdownConfig `yaml:"breakdowns"`
}

// breakdownConfig is one named breakdown (report.Breakdown).
type breakdownConfig struct {
	Name     string   `yaml:"name"`     // names its files: breakdown-<name>.csv and .parquet
	By       []string `yaml:"by"`       // 0, 1 or 2 field paths
	Time     string   `yaml:"time"`     // "", day or hour
	Where    string   `yaml:"where"`    // a filter; "" = every record of the report
	Stats    []string `yaml:"stats"`    // count, share, rate(filter), sum|min|max|mean|p50|p90|p99|distinct|top(field); empty = count, share
	Capacity int      `yaml:"capacity"` // groups counted exactly (0 = 1000); Space-Saving beyond
	Limit    int      `yaml:"limit"`    // groups shown on the page (0 = 20); the files hold all
}

// scheduleConfig is one named report schedule.
type scheduleConfig struct {
	Name   string `yaml:"name"`   // names its marker (.last-reported-<name>) and log lines
	Cron   string `yaml:"cron"`   // when it runs (5 fields, optional CRON_TZ=)
	Period string `yaml:"period"` // day (yesterday), week (the last ISO week) or month (the last month)
}

func defaultReportConfig() reportConfig {
	return reportConfig{Schedule: "CRON_TZ=UTC 0 3 1 * *", Dimensions: []string{},
		Metrics: []string{}, Distinct: []string{}, TopN: 10, TopCapacity: 10000,
		Partials: true, Workers: 1, Schedules: []scheduleConfig{}, Breakdowns: []breakdownConfig{}}
}

var scheduleName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)

// Validate checks every section.
func (c *fileConfig) Validate() error {
	if err := c.Config.Validate(); err != nil {
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
	c := fileConfig{Config: ingest.DefaultConfig(), Report: defaultReportConfig(),
		Storage: storageConfig{DeleteAfter: 24 * time.Hour, Interval: 10 * time.Second},
		Scrub:   scrubConfig{Rate: scrub.DefaultRate, Shipped: true}}
	if err := decodeStrict(configs.Default, &c); err != nil {
		return c, fmt.Errorf("embedded config: %w", err)
	}
	if path == "" {
		c.Config.Node = c.node()
		return c, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	if err := decodeStrict(b, &c); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	c.Config.Node = c.node()
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
	ts := append([]ingest.Token(nil), c.Auth.Tokens...)
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

// shipConfig is the shipper's configuration: the storage section.
// httpConfig is the HTTP server's part of the configuration.
func (c *fileConfig) httpConfig() httpapi.Config {
	h := c.HTTP
	return httpapi.Config{MaxBody: int64(h.MaxBody), MaxHeader: int(h.MaxHeader), MaxConnections: h.MaxConnections,
		MaxConnsPerIP: h.MaxConnsPerIP, ReadTimeout: h.ReadTimeout, WriteTimeout: h.WriteTimeout, IdleTimeout: h.IdleTimeout,
		MaxRequestBytes: int64(c.Buffers.MaxRequest), LokiMergeJSONLines: c.Loki.MergeJSONLines, OTLPFlatResource: c.OTLP.Resource == "flat"}
}

func (c *fileConfig) shipConfig() ship.Config {
	st := c.Storage
	return ship.Config{Endpoint: st.Endpoint, Secure: st.Secure, Region: st.Region,
		Bucket: st.Bucket, Prefix: st.Prefix, AccessKey: st.AccessKey, SecretKey: st.SecretKey, Node: c.node(),
		DeleteAfter: st.DeleteAfter, Interval: st.Interval, WaitPartials: c.Report.Partials}
}
