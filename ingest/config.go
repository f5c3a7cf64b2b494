package ingest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ingestd/ingestd/record"

	"github.com/ingestd/ingestd/ingest/wal"
	"github.com/ingestd/ingestd/segment"
)

// ByteSize is a size in bytes that reads "64MiB", "512KiB", "1GB" or a number.
type ByteSize int64

// UnmarshalText parses a size with an optional unit (B, KiB, MiB, GiB, KB, MB, GB).
func (b *ByteSize) UnmarshalText(t []byte) error {
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
	*b = ByteSize(v * mult)
	return nil
}

// MarshalText writes the size in the largest whole binary unit.
func (b ByteSize) MarshalText() ([]byte, error) {
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

// Config is the daemon's configuration. DefaultConfig returns the defaults;
// configs/ingestd.yaml documents every field with the same values.
type Config struct {
	Listen string `yaml:"listen"`
	// Node is the node id put into the names of new segment files (the
	// command sets it from node_id or the host name); "" for none.
	Node      string          `yaml:"-"`
	DataDir   string          `yaml:"data_dir"`
	HTTP      HTTPConfig      `yaml:"http"`
	Records   RecordsConfig   `yaml:"records"`
	WAL       WALConfig       `yaml:"wal"`
	Segments  SegmentsConfig  `yaml:"segments"`
	Buffers   BuffersConfig   `yaml:"buffers"`
	Auth      AuthConfig      `yaml:"auth"`
	TLS       TLSConfig       `yaml:"tls"`
	Disk      DiskConfig      `yaml:"disk"`
	Retention RetentionConfig `yaml:"retention"`
	Rejected  RejectedConfig  `yaml:"rejected"`
	Loki      LokiConfig      `yaml:"loki"`
	OTLP      OTLPConfig      `yaml:"otlp"`
	Syslog    SyslogConfig    `yaml:"syslog"`
	// Idempotency configures Idempotency-Key handling.
	Idempotency IdempotencyConfig `yaml:"idempotency"`
}

// IdempotencyConfig bounds the remembered Idempotency-Keys.
type IdempotencyConfig struct {
	Window  time.Duration `yaml:"window"`   // how long a key's first answer is kept
	MaxKeys int           `yaml:"max_keys"` // the oldest beyond this are forgotten early
}

// HTTPConfig holds the limits of everything a client controls.
type HTTPConfig struct {
	MaxBody        ByteSize      `yaml:"max_body"`         // request body after decompression (and as sent)
	MaxHeader      ByteSize      `yaml:"max_header"`       // request line + headers
	MaxConnections int           `yaml:"max_connections"`  // open connections in total
	MaxConnsPerIP  int           `yaml:"max_conns_per_ip"` // 0: no per-IP limit
	ReadTimeout    time.Duration `yaml:"read_timeout"`     // whole request, headers and body
	WriteTimeout   time.Duration `yaml:"write_timeout"`
	IdleTimeout    time.Duration `yaml:"idle_timeout"` // keep-alive
	RetryAfter     time.Duration `yaml:"retry_after"`  // advised on 503
}

// RecordsConfig is Rules in configuration form.
type RecordsConfig struct {
	TimestampFields  []string      `yaml:"timestamp_fields"`
	MissingTimestamp string        `yaml:"missing_timestamp"`
	AddField         string        `yaml:"add_field"`
	MaxFuture        time.Duration `yaml:"max_future"`
	MaxPast          time.Duration `yaml:"max_past"`
	MaxDepth         int           `yaml:"max_depth"`
	MaxRecord        ByteSize      `yaml:"max_record"`
	MaxErrors        int           `yaml:"max_errors"`
}

// WALConfig configures the write-ahead log.
type WALConfig struct {
	Fsync         string        `yaml:"fsync"`          // always | interval | never
	FsyncInterval time.Duration `yaml:"fsync_interval"` // with fsync: interval
	FileSize      ByteSize      `yaml:"file_size"`
	Compress      bool          `yaml:"compress"` // s2
}

// SegmentsConfig configures rolling into segment files.
type SegmentsConfig struct {
	BlockSize    ByteSize      `yaml:"block_size"`
	BlockAge     time.Duration `yaml:"block_age"`
	Level        string        `yaml:"level"`
	CompactLevel string        `yaml:"compact_level"`
	// CompactBlockSize is the raw size of a compacted (sealed) day's blocks.
	CompactBlockSize ByteSize      `yaml:"compact_block_size"`
	SealGrace        time.Duration `yaml:"seal_grace"`
	SealIdle         time.Duration `yaml:"seal_idle"`
	FlushWorkers     int           `yaml:"flush_workers"`
}

// BuffersConfig bounds memory.
type BuffersConfig struct {
	MaxBytes    ByteSize `yaml:"max_bytes"`         // all buffered records
	MaxRequest  ByteSize `yaml:"max_request_bytes"` // request bodies being read and decoded, all connections
	MemoryLimit ByteSize `yaml:"memory_limit"`      // Go runtime soft limit (GOMEMLIMIT); 0: none
}

// AuthConfig lists bearer tokens; none (here and in the file) means no
// authentication, which serve allows on a loopback address only unless
// started with --open.
type AuthConfig struct {
	Tokens    []Token `yaml:"tokens"`
	TokenFile string  `yaml:"token_file"` // lines "name token [records/s]"; re-read on SIGHUP
}

// DiskConfig keeps the data directory's file system from filling up.
type DiskConfig struct {
	MinFree ByteSize `yaml:"min_free"` // below this much free space intake answers 507; 0 = off
}

// LokiConfig shapes records from the Loki push endpoint.
type LokiConfig struct {
	MergeJSONLines bool `yaml:"merge_json_lines"` // a line that is a JSON object: its fields go into the record
}

// OTLPConfig is OTLP/HTTP's own listener.
type OTLPConfig struct {
	// Listen, when set (OTLP clients default to :4318), is a second
	// listener answering the same API as http's (POST /v1/logs among it),
	// with the same TLS, tokens and limits. "" = off: /v1/logs is on the
	// main listener only.
	Listen string `yaml:"listen"`
	// Resource is how a log record's resource attributes are stored:
	// "nested" (one "resource" object) or "flat" (top-level members named
	// "resource.<key>", which SQL reads as plain columns).
	Resource string `yaml:"resource"`
}

// SyslogConfig is the optional syslog intake (RFC 5424 and RFC 3164, over
// TCP or TLS with octet-counting or newline framing, and over UDP).
type SyslogConfig struct {
	ListenTCP      string        `yaml:"listen_tcp"`      // e.g. "0.0.0.0:6514"; "" = off
	ListenUDP      string        `yaml:"listen_udp"`      // e.g. "0.0.0.0:514"; "" = off
	ListenTLS      string        `yaml:"listen_tls"`      // RFC 5425 syslog over TLS (tls.cert_file), e.g. "0.0.0.0:6514"; "" = off
	Token          string        `yaml:"token"`           // with auth tokens: the token whose producer syslog writes as (its name and rate limit)
	MaxMessage     ByteSize      `yaml:"max_message"`     // one message; a TCP connection sending a longer one is closed
	MaxConnections int           `yaml:"max_connections"` // TCP connections at once; more are closed at once
	IdleTimeout    time.Duration `yaml:"idle_timeout"`    // a TCP connection silent this long is closed
}

// RejectedConfig bounds the store of lines rejected with ?invalid=skip.
type RejectedConfig struct {
	Keep     bool     `yaml:"keep"`      // keep rejected lines in <data_dir>/rejected
	MaxBytes ByteSize `yaml:"max_bytes"` // the oldest files go beyond this
}

// RetentionConfig deletes old data, whole days at a time.
type RetentionConfig struct {
	MaxDays  int      `yaml:"max_days"`  // delete days older than this; 0 = keep forever
	MaxBytes ByteSize `yaml:"max_bytes"` // then delete the oldest days while segments take more; 0 = no cap
}

// TLSConfig names the certificate and key; both empty serves plain HTTP.
// SIGHUP reloads them without dropping connections.
type TLSConfig struct {
	CertFile string `yaml:"cert_file"` // PEM, leaf first then intermediates
	KeyFile  string `yaml:"key_file"`  // PEM
}

// Token is one producer's bearer token.
type Token struct {
	Name      string  `yaml:"name"`
	Token     string  `yaml:"token"`
	RateLimit float64 `yaml:"rate_limit"` // records/s this producer may store; 0 = no limit (429 beyond)
	// Role is what the token may do: "write" (the default: send records,
	// no access to stored data or reports), "read" (reports, no writes) or
	// "both".
	Role string `yaml:"role"`
}

// Roles a token may have.
const (
	RoleWrite = "write"
	RoleRead  = "read"
	RoleBoth  = "both"
)

// CanWrite reports whether the token may store records.
func (t Token) CanWrite() bool { return t.Role != RoleRead }

// CanRead reports whether the token may read stored data and reports.
func (t Token) CanRead() bool { return t.Role == RoleRead || t.Role == RoleBoth }

// DefaultConfig returns the embedded defaults.
func DefaultConfig() Config {
	r := record.DefaultRules()
	return Config{
		Listen:  "127.0.0.1:8080",
		DataDir: "./data",
		HTTP: HTTPConfig{MaxBody: 64 << 20, MaxHeader: 16 << 10, MaxConnections: 1024, ReadTimeout: 60 * time.Second,
			WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, RetryAfter: time.Second},
		Records: RecordsConfig{TimestampFields: r.TimestampFields, MissingTimestamp: r.MissingTimestamp, AddField: r.AddField,
			MaxFuture: r.MaxFuture, MaxPast: r.MaxPast, MaxDepth: r.MaxDepth, MaxRecord: ByteSize(r.MaxRecord), MaxErrors: r.MaxErrors},
		WAL:         WALConfig{Fsync: "always", FsyncInterval: 100 * time.Millisecond, FileSize: 64 << 20, Compress: true},
		Segments:    SegmentsConfig{BlockSize: 4 << 20, BlockAge: 10 * time.Second, Level: "fastest", CompactLevel: "best", CompactBlockSize: segment.DefaultCompactBlockSize, SealGrace: 10 * time.Minute, SealIdle: time.Minute, FlushWorkers: 2},
		Buffers:     BuffersConfig{MaxBytes: 256 << 20, MaxRequest: 256 << 20, MemoryLimit: 448 << 20},
		Auth:        AuthConfig{Tokens: []Token{}},
		Idempotency: IdempotencyConfig{Window: 24 * time.Hour, MaxKeys: 1_000_000},
		Disk:        DiskConfig{MinFree: 1 << 30},
		Rejected:    RejectedConfig{Keep: true, MaxBytes: 1 << 30},
		Syslog:      SyslogConfig{MaxMessage: 64 << 10, MaxConnections: 256, IdleTimeout: 5 * time.Minute},
		OTLP:        OTLPConfig{Resource: "nested"},
	}
}

// Rules returns the record rules.
func (c *Config) Rules() record.Rules {
	r := c.Records
	return record.Rules{TimestampFields: r.TimestampFields, MissingTimestamp: r.MissingTimestamp, AddField: r.AddField,
		MaxFuture: r.MaxFuture, MaxPast: r.MaxPast, MaxDepth: r.MaxDepth, MaxRecord: int(r.MaxRecord), MaxErrors: r.MaxErrors}
}

// Validate reports the first bad value, naming its key.
func (c *Config) Validate() error {
	check := func(ok bool, key string, v any, want string) error {
		if ok {
			return nil
		}
		return fmt.Errorf("config: %s: %v (%s)", key, v, want)
	}
	if c.Node != "" {
		if err := segment.CheckNode(c.Node); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}
	errs := []error{
		check(c.Listen != "", "listen", c.Listen, "want host:port"),
		check(c.DataDir != "", "data_dir", c.DataDir, "want a directory"),
		check(c.HTTP.MaxBody >= 1024, "http.max_body", c.HTTP.MaxBody, "want ≥ 1KiB"),
		check(c.HTTP.MaxHeader >= 1024 && c.HTTP.MaxHeader <= 1<<20, "http.max_header", c.HTTP.MaxHeader, "want 1KiB..1MiB"),
		check(c.HTTP.MaxConnections > 0, "http.max_connections", c.HTTP.MaxConnections, "want > 0"),
		check(c.HTTP.MaxConnsPerIP >= 0, "http.max_conns_per_ip", c.HTTP.MaxConnsPerIP, "want ≥ 0"),
		check(c.HTTP.ReadTimeout > 0 && c.HTTP.WriteTimeout > 0 && c.HTTP.IdleTimeout > 0, "http.*_timeout", c.HTTP.ReadTimeout, "want > 0"),
		check(c.HTTP.RetryAfter >= time.Second, "http.retry_after", c.HTTP.RetryAfter, "want ≥ 1s"),
		check(c.Syslog.MaxMessage >= 480 && c.Syslog.MaxMessage <= 16<<20, "syslog.max_message", c.Syslog.MaxMessage, "want 480B..16MiB (RFC 5424 receivers take at least 480 bytes)"),
		check(c.Syslog.MaxConnections >= 1, "syslog.max_connections", c.Syslog.MaxConnections, "want ≥ 1"),
		check(c.Syslog.IdleTimeout > 0, "syslog.idle_timeout", c.Syslog.IdleTimeout, "want > 0"),
		check(c.OTLP.Resource == "nested" || c.OTLP.Resource == "flat", "otlp.resource", c.OTLP.Resource, "want nested or flat"),
		check(c.Idempotency.Window > 0, "idempotency.window", c.Idempotency.Window, "want > 0"),
		check(c.Idempotency.MaxKeys > 0, "idempotency.max_keys", c.Idempotency.MaxKeys, "want > 0"),
		check(c.WAL.FsyncInterval > 0, "wal.fsync_interval", c.WAL.FsyncInterval, "want > 0"),
		check(c.WAL.FileSize >= 1<<20, "wal.file_size", c.WAL.FileSize, "want ≥ 1MiB"),
		check(c.Segments.BlockSize >= 4<<10 && c.Segments.BlockSize <= 32<<20, "segments.block_size", c.Segments.BlockSize, "want 4KiB..32MiB"),
		check(c.Segments.CompactBlockSize >= 64<<10 && c.Segments.CompactBlockSize <= 32<<20, "segments.compact_block_size", c.Segments.CompactBlockSize, "want 64KiB..32MiB"),
		check(c.Segments.BlockAge > 0, "segments.block_age", c.Segments.BlockAge, "want > 0"),
		check(c.Segments.SealGrace >= 0 && c.Segments.SealIdle >= 0, "segments.seal_grace/seal_idle", c.Segments.SealGrace, "want ≥ 0"),
		check(c.Segments.FlushWorkers > 0 && c.Segments.FlushWorkers <= 64, "segments.flush_workers", c.Segments.FlushWorkers, "want 1..64"),
		check(c.Buffers.MaxBytes >= c.Segments.BlockSize*2, "buffers.max_bytes", c.Buffers.MaxBytes, "want ≥ 2 × segments.block_size"),
		check(c.Buffers.MemoryLimit == 0 || c.Buffers.MemoryLimit >= c.Buffers.MaxBytes+64<<20, "buffers.memory_limit", c.Buffers.MemoryLimit, "want 0 or ≥ buffers.max_bytes + 64MiB"),
		check(c.Buffers.MaxBytes >= c.HTTP.MaxBody, "buffers.max_bytes", c.Buffers.MaxBytes, "want ≥ http.max_body, or a large request could never be admitted"),
		check(c.Buffers.MaxRequest >= 3*c.HTTP.MaxBody, "buffers.max_request_bytes", c.Buffers.MaxRequest, "want ≥ 3 × http.max_body: a compressed request holds its body and its decoded copy"),
		check(c.HTTP.MaxBody <= 64<<20, "http.max_body", c.HTTP.MaxBody, "want ≤ 64MiB: a request is stored as one WAL entry and never split across segment blocks"),
	}
	if _, err := wal.ParseSyncMode(c.WAL.Fsync); err != nil {
		errs = append(errs, fmt.Errorf("config: wal.fsync: %w", err))
	}
	if _, err := segment.ParseLevel(c.Segments.Level); err != nil {
		errs = append(errs, fmt.Errorf("config: segments.level: %w", err))
	}
	if _, err := segment.ParseLevel(c.Segments.CompactLevel); err != nil {
		errs = append(errs, fmt.Errorf("config: segments.compact_level: %w", err))
	}
	if err := c.Rules().Validate(); err != nil {
		errs = append(errs, fmt.Errorf("config: %w", err))
	}
	if c.Rejected.Keep && c.Rejected.MaxBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("config: rejected.max_bytes: %v (want ≥ 1MiB)", c.Rejected.MaxBytes))
	}
	if c.Disk.MinFree < 0 || c.Retention.MaxDays < 0 || c.Retention.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("config: disk.min_free, retention.max_days, retention.max_bytes: want ≥ 0"))
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		errs = append(errs, fmt.Errorf("config: tls: set both cert_file and key_file, or neither"))
	}
	if err := ValidateTokens(c.Auth.Tokens); err != nil {
		errs = append(errs, fmt.Errorf("config: auth.tokens%w", err))
	}
	return errors.Join(errs...)
}

// ValidateTokens checks names, lengths and uniqueness; its error starts with
// the token's index in brackets.
func ValidateTokens(ts []Token) error {
	names, toks := map[string]bool{}, map[string]bool{}
	for i, t := range ts {
		switch {
		case t.Name == "" || len(t.Token) < 16:
			return fmt.Errorf("[%d]: want a name and a token of at least 16 characters", i)
		case strings.ContainsAny(t.Name, " \t\n\"\\"):
			return fmt.Errorf("[%d]: name %q: no spaces or quotes", i, t.Name)
		case names[t.Name]:
			return fmt.Errorf("[%d]: name %q used twice", i, t.Name)
		case toks[t.Token]:
			return fmt.Errorf("[%d] (%s): the same token is given twice", i, t.Name)
		case t.RateLimit < 0:
			return fmt.Errorf("[%d] (%s): rate_limit %g: want ≥ 0", i, t.Name, t.RateLimit)
		case t.Role != "" && t.Role != RoleWrite && t.Role != RoleRead && t.Role != RoleBoth:
			return fmt.Errorf("[%d] (%s): role %q: want write, read or both", i, t.Name, t.Role)
		}
		names[t.Name], toks[t.Token] = true, true
	}
	return nil
}

// ParseTokenFile reads a token file: one token a line, "name token", then
// optionally its records/s limit and its role (write, read or both), in
// either order; blank lines and lines starting with # are skipped.
func ParseTokenFile(b []byte) ([]Token, error) {
	var out []Token
	for i, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) < 2 || len(f) > 4 {
			return nil, fmt.Errorf("line %d: want \"name token [records/s] [role]\"", i+1)
		}
		t := Token{Name: f[0], Token: f[1]}
		for _, x := range f[2:] {
			switch x {
			case RoleWrite, RoleRead, RoleBoth:
				t.Role = x
				continue
			}
			r, err := strconv.ParseFloat(x, 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: %q: want a records/s limit or a role (write, read, both)", i+1, x)
			}
			t.RateLimit = r
		}
		out = append(out, t)
	}
	if err := ValidateTokens(out); err != nil {
		return nil, fmt.Errorf("token %w", err)
	}
	return out, nil
}
