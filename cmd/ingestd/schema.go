package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ingestd/ingestd/ingest"
	"github.com/ingestd/ingestd/ingest/fluentd"
	"github.com/ingestd/ingestd/ingest/httpapi"
	"github.com/ingestd/ingestd/ingest/otlpgrpc"
	"github.com/ingestd/ingestd/ingest/ship"
	"github.com/ingestd/ingestd/ingest/syslogd"
	"github.com/ingestd/ingestd/ingest/wal"
	"github.com/ingestd/ingestd/internal/confcheck"
	"github.com/ingestd/ingestd/record"
	"github.com/ingestd/ingestd/segment"
)

// fileConfig is the configuration file's schema, owned here: every
// component has its own Config (ingest, httpapi, syslogd, ship, report,
// scrub), and the methods in schema.go map these sections onto them.
// configs/ingestd.yaml documents every key with its default; it is
// embedded, and decoded before the operator's file.
type fileConfig struct {
	Listen      string             `yaml:"listen"`
	DataDir     string             `yaml:"data_dir"`
	NodeID      string             `yaml:"node_id"` // "" = the host name
	HTTP        httpSection        `yaml:"http"`
	Records     recordsSection     `yaml:"records"`
	WAL         walSection         `yaml:"wal"`
	Segments    segmentsSection    `yaml:"segments"`
	Buffers     buffersSection     `yaml:"buffers"`
	Auth        authSection        `yaml:"auth"`
	TLS         tlsSection         `yaml:"tls"`
	Disk        diskSection        `yaml:"disk"`
	Retention   retentionSection   `yaml:"retention"`
	Rejected    rejectedSection    `yaml:"rejected"`
	Loki        lokiSection        `yaml:"loki"`
	OTLP        otlpSection        `yaml:"otlp"`
	Syslog      syslogSection      `yaml:"syslog"`
	Fluent      fluentSection      `yaml:"fluent"`
	Idempotency idempotencySection `yaml:"idempotency"`
	Report      reportConfig       `yaml:"report"`
	Storage     storageConfig      `yaml:"storage"`
	Scrub       scrubConfig        `yaml:"scrub"`
	Query       querySection       `yaml:"query"`
}

// querySection bounds the read API (/api/v1/*) and the explorer (/ui/).
type querySection struct {
	MaxConcurrent int           `yaml:"max_concurrent"` // questions answered at once; more get 429
	MaxTails      int           `yaml:"max_tails"`      // open tails at once; more get 429
	Timeout       time.Duration `yaml:"timeout"`        // a question's time, then 503
	MaxRecords    int           `yaml:"max_records"`    // records one answer returns (limit + offset)
	Workers       int           `yaml:"workers"`        // cores one question's scan uses; 0 = every core
}

// scrubConfig is the background verification of sealed files and their
// shipped copies.
type scrubConfig struct {
	Interval time.Duration `yaml:"interval"` // between the starts of two passes; 0 = off
	Rate     byteSize      `yaml:"rate"`     // bytes/s read at most
	Shipped  bool          `yaml:"shipped"`  // also verify the shipped objects (with storage)
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
	// Continuous shipping of the WAL (docs/SCALING.md "When a node dies").
	TailInterval    time.Duration `yaml:"tail_interval"`      // ack local: one PUT per interval at most; an entry is in the bucket within it plus one upload
	Ack             string        `yaml:"ack"`                // local: a success means fsynced here; bucket: and in an object the store confirmed
	AckTimeout      time.Duration `yaml:"ack_timeout"`        // ack bucket: 503 after this long without the bucket's confirmation
	AckPutsInFlight int           `yaml:"ack_puts_in_flight"` // ack bucket: WAL object PUTs at once
	AckWindow       time.Duration `yaml:"ack_window"`         // ack bucket: one PUT per window at most
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

// byteSize is a size in bytes that reads "64MiB", "512KiB", "1GB" or a number.
type byteSize int64

// UnmarshalText parses a size with an optional unit (B, KiB, MiB, GiB, KB, MB, GB).
func (b *byteSize) UnmarshalText(t []byte) error {
	s := strings.TrimSpace(string(t))
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = strings.TrimSpace(s[:i]), strings.TrimSpace(s[i:])
	}
	mult := map[string]float64{"": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
		"KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[unit]
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || mult == 0 || v < 0 {
		return fmt.Errorf("invalid size %q (examples: 64MiB, 512KiB, 1048576)", s)
	}
	*b = byteSize(v * mult)
	return nil
}

// MarshalText writes the size in the largest whole binary unit.
func (b byteSize) MarshalText() ([]byte, error) {
	for _, u := range []struct {
		s string
		n int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if int64(b) >= u.n && int64(b)%u.n == 0 {
			return []byte(fmt.Sprintf("%d%s", int64(b)/u.n, u.s)), nil
		}
	}
	return []byte(strconv.FormatInt(int64(b), 10)), nil
}

// idempotencySection bounds the remembered Idempotency-Keys.
type idempotencySection struct {
	Window  time.Duration `yaml:"window"`   // how long a key's first answer is kept
	MaxKeys int           `yaml:"max_keys"` // the oldest beyond this are forgotten early
}

// httpSection holds the limits of everything a client controls.
type httpSection struct {
	MaxBody        byteSize      `yaml:"max_body"`         // request body after decompression (and as sent)
	MaxHeader      byteSize      `yaml:"max_header"`       // request line + headers
	MaxConnections int           `yaml:"max_connections"`  // open connections in total
	MaxConnsPerIP  int           `yaml:"max_conns_per_ip"` // 0: no per-IP limit
	ReadTimeout    time.Duration `yaml:"read_timeout"`     // whole request, headers and body
	WriteTimeout   time.Duration `yaml:"write_timeout"`
	IdleTimeout    time.Duration `yaml:"idle_timeout"` // keep-alive
	RetryAfter     time.Duration `yaml:"retry_after"`  // advised on 503
}

// recordsSection is Rules in configuration form.
type recordsSection struct {
	TimestampFields  []string      `yaml:"timestamp_fields"`
	MissingTimestamp string        `yaml:"missing_timestamp"`
	AddField         string        `yaml:"add_field"`
	MaxFuture        time.Duration `yaml:"max_future"`
	MaxPast          time.Duration `yaml:"max_past"`
	MaxDepth         int           `yaml:"max_depth"`
	MaxRecord        byteSize      `yaml:"max_record"`
	MaxErrors        int           `yaml:"max_errors"`
}

// walSection configures the write-ahead log.
type walSection struct {
	Fsync         string        `yaml:"fsync"`          // always | interval | never
	FsyncInterval time.Duration `yaml:"fsync_interval"` // with fsync: interval
	FileSize      byteSize      `yaml:"file_size"`
	Compress      bool          `yaml:"compress"` // s2
}

// segmentsSection configures rolling into segment files.
type segmentsSection struct {
	BlockSize    byteSize      `yaml:"block_size"`
	BlockAge     time.Duration `yaml:"block_age"`
	Level        string        `yaml:"level"`
	CompactLevel string        `yaml:"compact_level"`
	// CompactBlockSize is the raw size of a compacted (sealed) day's blocks.
	CompactBlockSize byteSize      `yaml:"compact_block_size"`
	SealGrace        time.Duration `yaml:"seal_grace"`
	SealIdle         time.Duration `yaml:"seal_idle"`
	FlushWorkers     int           `yaml:"flush_workers"`
}

// buffersSection bounds memory.
type buffersSection struct {
	MaxBytes    byteSize `yaml:"max_bytes"`         // all buffered records
	MaxRequest  byteSize `yaml:"max_request_bytes"` // request bodies being read and decoded, all connections
	MemoryLimit byteSize `yaml:"memory_limit"`      // Go runtime soft limit (GOMEMLIMIT); 0: none
}

// authSection lists bearer tokens; none (here and in the file) means no
// authentication, which serve allows on a loopback address only unless
// started with --open.
type authSection struct {
	Tokens    []tokenEntry `yaml:"tokens"`
	TokenFile string       `yaml:"token_file"` // lines "name token [records/s]"; re-read on SIGHUP
}

// diskSection keeps the data directory's file system from filling up.
type diskSection struct {
	MinFree byteSize `yaml:"min_free"` // below this much free space intake answers 507; 0 = off
}

// lokiSection shapes records from the Loki push endpoint.
type lokiSection struct {
	MergeJSONLines bool `yaml:"merge_json_lines"` // a line that is a JSON object: its fields go into the record
}

// otlpSection is OTLP/HTTP's own listener.
type otlpSection struct {
	// Listen, when set (OTLP clients default to :4318), is a second
	// listener answering the same API as http's (POST /v1/logs among it),
	// with the same TLS, tokens and limits. "" = off: /v1/logs is on the
	// main listener only.
	Listen string `yaml:"listen"`
	// ListenGRPC, when set (OTLP clients default to :4317), serves OTLP
	// logs over gRPC (LogsService/Export), with the main listener's TLS,
	// tokens (the "authorization" metadata) and limits. "" = off.
	ListenGRPC string `yaml:"listen_grpc"`
	// Resource is how a log record's resource attributes are stored:
	// "nested" (one "resource" object) or "flat" (top-level members named
	// "resource.<key>", which SQL reads as plain columns).
	Resource string `yaml:"resource"`
}

// syslogSection is the optional syslog intake (RFC 5424 and RFC 3164, over
// TCP or TLS with octet-counting or newline framing, and over UDP).
type syslogSection struct {
	ListenTCP      string        `yaml:"listen_tcp"`      // e.g. "0.0.0.0:6514"; "" = off
	ListenUDP      string        `yaml:"listen_udp"`      // e.g. "0.0.0.0:514"; "" = off
	ListenTLS      string        `yaml:"listen_tls"`      // RFC 5425 syslog over TLS (tls.cert_file), e.g. "0.0.0.0:6514"; "" = off
	Token          string        `yaml:"token"`           // with auth tokens: the token whose producer syslog writes as (its name and rate limit)
	MaxMessage     byteSize      `yaml:"max_message"`     // one message; a TCP connection sending a longer one is closed
	MaxConnections int           `yaml:"max_connections"` // TCP connections at once; more are closed at once
	IdleTimeout    time.Duration `yaml:"idle_timeout"`    // a TCP connection silent this long is closed
}

// fluentSection is the optional Fluent forward intake (Fluent Bit's and
// Fluentd's forward output, the Fluent loggers), over TCP or TLS.
type fluentSection struct {
	Listen         string        `yaml:"listen"`          // e.g. "0.0.0.0:24224"; "" = off
	TLS            bool          `yaml:"tls"`             // serve TLS with tls.cert_file/key_file
	Token          string        `yaml:"token"`           // with auth tokens and no handshake: the token whose producer forward writes as (needed then)
	Handshake      bool          `yaml:"handshake"`       // the shared-key handshake: a client's shared_key is a token, and it writes as that producer
	MaxMessage     byteSize      `yaml:"max_message"`     // one forward message, and its events once inflated; a connection sending a larger one is closed
	MaxConnections int           `yaml:"max_connections"` // connections at once; more are closed at once
	IdleTimeout    time.Duration `yaml:"idle_timeout"`    // a silent connection is closed
}

// rejectedSection bounds the store of lines rejected with ?invalid=skip.
type rejectedSection struct {
	Keep     bool     `yaml:"keep"`      // keep rejected lines in <data_dir>/rejected
	MaxBytes byteSize `yaml:"max_bytes"` // the oldest files go beyond this
}

// retentionSection deletes old data, whole days at a time.
type retentionSection struct {
	MaxDays  int      `yaml:"max_days"`  // delete days older than this; 0 = keep forever
	MaxBytes byteSize `yaml:"max_bytes"` // then delete the oldest days while segments take more; 0 = no cap
}

// tlsSection names the certificate and key; both empty serves plain HTTP.
// SIGHUP reloads them without dropping connections.
type tlsSection struct {
	CertFile string `yaml:"cert_file"` // PEM, leaf first then intermediates
	KeyFile  string `yaml:"key_file"`  // PEM
}

// tokenEntry is one of auth.tokens: a producer's bearer token.
type tokenEntry struct {
	Name      string  `yaml:"name"`
	Token     string  `yaml:"token"`
	RateLimit float64 `yaml:"rate_limit"` // records/s this producer may store; 0 = no limit (429 beyond)
	// Role is what the token may do: "write" (the default: send records,
	// no access to stored data or reports), "read" (reports, no writes) or
	// "both".
	Role string `yaml:"role"`
}

// rules are the records section as record.Rules.
func (c *fileConfig) rules() record.Rules {
	r := c.Records
	return record.Rules{TimestampFields: r.TimestampFields, MissingTimestamp: r.MissingTimestamp, AddField: r.AddField,
		MaxFuture: r.MaxFuture, MaxPast: r.MaxPast, MaxDepth: r.MaxDepth, MaxRecord: int(r.MaxRecord), MaxErrors: r.MaxErrors}
}

// ownTokens are auth.tokens as the core's tokens.
func (c *fileConfig) ownTokens() []ingest.Token {
	out := make([]ingest.Token, 0, len(c.Auth.Tokens))
	for _, t := range c.Auth.Tokens {
		out = append(out, ingest.Token{Name: t.Name, Token: t.Token, RateLimit: t.RateLimit, Role: t.Role})
	}
	return out
}

// coreConfig is the intake core's part, with tokens as given (the file's
// and the token file's together).
func (c *fileConfig) coreConfig(tokens []ingest.Token) ingest.Config {
	s := c.Segments
	return ingest.Config{DataDir: c.DataDir, Node: c.node(), Rules: c.rules(), Tokens: tokens, RetryAfter: c.HTTP.RetryAfter,
		Fsync: wal.SyncMode(c.WAL.Fsync), FsyncInterval: c.WAL.FsyncInterval, WALFileSize: int64(c.WAL.FileSize), WALNoCompress: !c.WAL.Compress,
		BlockSize: int64(s.BlockSize), BlockAge: s.BlockAge, Level: segment.Level(s.Level), CompactLevel: segment.Level(s.CompactLevel),
		CompactBlockSize: int64(s.CompactBlockSize), SealGrace: s.SealGrace, SealIdle: s.SealIdle, FlushWorkers: s.FlushWorkers,
		MaxBuffered: int64(c.Buffers.MaxBytes), MinFree: int64(c.Disk.MinFree), RetainDays: c.Retention.MaxDays, RetainBytes: int64(c.Retention.MaxBytes),
		KeepRejected: c.Rejected.Keep, MaxRejected: int64(c.Rejected.MaxBytes), KeyWindow: c.Idempotency.Window, MaxKeys: c.Idempotency.MaxKeys}
}

// httpConfig is the HTTP server's part.
func (c *fileConfig) httpConfig() httpapi.Config {
	h := c.HTTP
	return httpapi.Config{MaxBody: int64(h.MaxBody), MaxHeader: int(h.MaxHeader), MaxConnections: h.MaxConnections,
		MaxConnsPerIP: h.MaxConnsPerIP, ReadTimeout: h.ReadTimeout, WriteTimeout: h.WriteTimeout, IdleTimeout: h.IdleTimeout,
		MaxRequestBytes: int64(c.Buffers.MaxRequest), LokiMergeJSONLines: c.Loki.MergeJSONLines, OTLPFlatResource: c.OTLP.Resource == "flat"}
}

// grpcConfig is the OTLP/gRPC listener's part: the http section's limits
// (with their defaults), since it takes the same messages.
func (c *fileConfig) grpcConfig() otlpgrpc.Config {
	h := c.httpConfig().WithDefaults()
	return otlpgrpc.Config{MaxMessage: int(h.MaxBody), MaxConnections: h.MaxConnections, IdleTimeout: h.IdleTimeout,
		MaxBytes: h.MaxRequestBytes, FlatResource: c.OTLP.Resource == "flat"}
}

// fluentConfig is the forward listener's part.
func (c *fileConfig) fluentConfig() fluentd.Config {
	f := c.Fluent
	return fluentd.Config{Listen: f.Listen, TLS: f.TLS, Token: f.Token, Handshake: f.Handshake, MaxMessage: int(f.MaxMessage),
		MaxConnections: f.MaxConnections, IdleTimeout: f.IdleTimeout}
}

// syslogConfig is the syslog listeners' part.
func (c *fileConfig) syslogConfig() syslogd.Config {
	s := c.Syslog
	return syslogd.Config{ListenTCP: s.ListenTCP, ListenUDP: s.ListenUDP, ListenTLS: s.ListenTLS, Token: s.Token,
		MaxMessage: int(s.MaxMessage), MaxConnections: s.MaxConnections, IdleTimeout: s.IdleTimeout}
}

// shipConfig is the shipper's part: the storage section.
func (c *fileConfig) shipConfig() ship.Config {
	st := c.Storage
	return ship.Config{Endpoint: st.Endpoint, Secure: st.Secure, Region: st.Region,
		Bucket: st.Bucket, Prefix: st.Prefix, AccessKey: st.AccessKey, SecretKey: st.SecretKey, Node: c.node(),
		DeleteAfter: st.DeleteAfter, Interval: st.Interval, WaitPartials: c.Report.Partials}
}

// tailConfig is continuous shipping's part of the storage section.
func (c *fileConfig) tailConfig() ship.TailConfig {
	st := c.Storage
	return ship.TailConfig{Interval: st.TailInterval, Ack: st.Ack == "bucket", InFlight: st.AckPutsInFlight,
		AckWindow: st.AckWindow, AckTimeout: st.AckTimeout}
}

// validateSections checks the listener sections and what spans components;
// each component's Validate checks its own part.
func (c *fileConfig) validateSections() error {
	var l confcheck.List
	l.Check(c.Listen != "", "listen", `""`, "want host:port")
	// A component reads 0 as its default; in the file, 0 is what the
	// operator wrote, so it is refused where it would mean nothing.
	positive := []struct {
		key string
		v   int64
	}{{"http.max_body", int64(c.HTTP.MaxBody)}, {"http.max_header", int64(c.HTTP.MaxHeader)},
		{"http.max_connections", int64(c.HTTP.MaxConnections)}, {"http.read_timeout", int64(c.HTTP.ReadTimeout)},
		{"http.write_timeout", int64(c.HTTP.WriteTimeout)}, {"http.idle_timeout", int64(c.HTTP.IdleTimeout)},
		{"http.retry_after", int64(c.HTTP.RetryAfter)}, {"wal.fsync_interval", int64(c.WAL.FsyncInterval)},
		{"wal.file_size", int64(c.WAL.FileSize)}, {"segments.block_size", int64(c.Segments.BlockSize)},
		{"segments.compact_block_size", int64(c.Segments.CompactBlockSize)}, {"segments.block_age", int64(c.Segments.BlockAge)},
		{"segments.flush_workers", int64(c.Segments.FlushWorkers)}, {"buffers.max_bytes", int64(c.Buffers.MaxBytes)},
		{"buffers.max_request_bytes", int64(c.Buffers.MaxRequest)}, {"idempotency.window", int64(c.Idempotency.Window)},
		{"idempotency.max_keys", int64(c.Idempotency.MaxKeys)}, {"syslog.max_message", int64(c.Syslog.MaxMessage)},
		{"syslog.max_connections", int64(c.Syslog.MaxConnections)}, {"syslog.idle_timeout", int64(c.Syslog.IdleTimeout)},
		{"storage.tail_interval", int64(c.Storage.TailInterval)}, {"storage.ack_timeout", int64(c.Storage.AckTimeout)},
		{"storage.ack_puts_in_flight", int64(c.Storage.AckPutsInFlight)}, {"storage.ack_window", int64(c.Storage.AckWindow)}}
	for _, p := range positive {
		l.Check(p.v != 0, p.key, 0, "want > 0")
	}
	if c.Rejected.Keep && c.Rejected.MaxBytes == 0 {
		l.Add(fmt.Errorf("config: rejected.max_bytes: 0 (want ≥ 1MiB)"))
	}
	switch c.Storage.Ack {
	case "local":
	case "bucket":
		l.Check(c.Storage.Endpoint != "", "storage.ack", "bucket", "needs storage.endpoint and storage.bucket")
	default:
		l.Add(fmt.Errorf("config: storage.ack: %q (want local or bucket)", c.Storage.Ack))
	}
	if c.WAL.Fsync == "" {
		l.Add(fmt.Errorf("config: wal.fsync: empty (want always, interval or never)"))
	}
	l.Add(c.coreConfig(c.ownTokens()).Validate())
	l.Add(c.httpConfig().Validate())
	l.Add(c.syslogConfig().Validate())
	l.Add(c.fluentConfig().Validate())
	if c.OTLP.Resource != "nested" && c.OTLP.Resource != "flat" {
		l.Add(fmt.Errorf("config: otlp.resource: %q (want nested or flat)", c.OTLP.Resource))
	}
	if c.Buffers.MaxBytes < c.HTTP.MaxBody {
		l.Add(fmt.Errorf("config: buffers.max_bytes: %v (want ≥ http.max_body, or a large request could never be admitted)", c.Buffers.MaxBytes))
	}
	if m := c.Buffers.MemoryLimit; m != 0 && m < c.Buffers.MaxBytes+64<<20 {
		l.Add(fmt.Errorf("config: buffers.memory_limit: %v (want 0 or ≥ buffers.max_bytes + 64MiB)", m))
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		l.Add(fmt.Errorf("config: tls: set both cert_file and key_file, or neither"))
	}
	return l.Err()
}
