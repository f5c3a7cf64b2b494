package ingest

import (
	"cmp"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/ingestd/ingestd/internal/confcheck"
	"github.com/ingestd/ingestd/record"

	"github.com/ingestd/ingestd/ingest/wal"
	"github.com/ingestd/ingestd/segment"
)

// Config is the intake core's configuration. cmd/ingestd owns the file
// schema and maps its sections onto it; error messages name the file's keys,
// which are what an operator sees. A zero field takes its default (the
// values in parentheses), except where 0 means off.
type Config struct {
	DataDir string // required
	// Node is the node id put into the names of new segment files; "" for
	// none.
	Node   string
	Rules  record.Rules // how records are read; the zero value: record.DefaultRules()
	Tokens []Token      // none: no authentication
	// RetryAfter is advised on a 503, rounded up to whole seconds (1 s).
	RetryAfter time.Duration

	Fsync         wal.SyncMode  // when a write is durable (always)
	FsyncInterval time.Duration // with Fsync interval (100 ms)
	WALFileSize   int64         // (64 MiB)
	WALNoCompress bool          // WAL entries are s2-compressed unless set

	BlockSize        int64         // raw bytes that make a segment block full (4 MiB)
	BlockAge         time.Duration // a non-empty buffer older than this is flushed (10 s)
	Level            segment.Level // intake compression (fastest)
	CompactLevel     segment.Level // compaction (best)
	CompactBlockSize int64         // raw size of a compacted day's blocks (segment.DefaultCompactBlockSize)
	SealGrace        time.Duration // a day seals this long after its end; 0: at once
	SealIdle         time.Duration // ...once no record reached it for this long; 0: at once
	FlushWorkers     int           // parallel block compressions (2)

	MaxBuffered int64 // bytes accepted and not yet in a synced segment block (256 MiB)
	MinFree     int64 // under this many free bytes intake answers 507; 0: off
	RetainDays  int   // delete days older than this; 0: keep
	RetainBytes int64 // then delete the oldest days while segments take more; 0: no cap

	KeepRejected bool  // keep lines rejected with ?invalid=skip in <data_dir>/rejected
	MaxRejected  int64 // with KeepRejected: the oldest files go beyond this (1 GiB)

	KeyWindow time.Duration // how long an Idempotency-Key's first answer is kept (24 h)
	MaxKeys   int           // the oldest keys beyond this are forgotten early (1,000,000)
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if reflect.ValueOf(c.Rules).IsZero() {
		c.Rules = record.DefaultRules()
	}
	c.RetryAfter = cmp.Or(c.RetryAfter, time.Second)
	c.Fsync = cmp.Or(c.Fsync, wal.SyncAlways)
	c.FsyncInterval = cmp.Or(c.FsyncInterval, 100*time.Millisecond)
	c.WALFileSize = cmp.Or(c.WALFileSize, 64<<20)
	c.BlockSize = cmp.Or(c.BlockSize, 4<<20)
	c.BlockAge = cmp.Or(c.BlockAge, 10*time.Second)
	c.Level = cmp.Or(c.Level, segment.LevelFastest)
	c.CompactLevel = cmp.Or(c.CompactLevel, segment.LevelBest)
	c.CompactBlockSize = cmp.Or(c.CompactBlockSize, segment.DefaultCompactBlockSize)
	c.FlushWorkers = cmp.Or(c.FlushWorkers, 2)
	c.MaxBuffered = cmp.Or(c.MaxBuffered, 256<<20)
	c.MaxRejected = cmp.Or(c.MaxRejected, 1<<30)
	c.KeyWindow = cmp.Or(c.KeyWindow, 24*time.Hour)
	c.MaxKeys = cmp.Or(c.MaxKeys, 1_000_000)
	return c
}

// Validate reports every bad value, naming its key in the configuration
// file. Zero fields are checked as their defaults.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var l confcheck.List
	l.Check(c.DataDir != "", "data_dir", c.DataDir, "want a directory")
	l.Check(c.RetryAfter >= time.Second, "http.retry_after", c.RetryAfter, "want ≥ 1s")
	l.Check(c.KeyWindow > 0, "idempotency.window", c.KeyWindow, "want > 0")
	l.Check(c.MaxKeys > 0, "idempotency.max_keys", c.MaxKeys, "want > 0")
	l.Check(c.FsyncInterval > 0, "wal.fsync_interval", c.FsyncInterval, "want > 0")
	l.Check(c.WALFileSize >= 1<<20, "wal.file_size", c.WALFileSize, "want ≥ 1MiB")
	l.Check(c.BlockSize >= 4<<10 && c.BlockSize <= 32<<20, "segments.block_size", c.BlockSize, "want 4KiB..32MiB")
	l.Check(c.CompactBlockSize >= 64<<10 && c.CompactBlockSize <= 32<<20, "segments.compact_block_size", c.CompactBlockSize, "want 64KiB..32MiB")
	l.Check(c.BlockAge > 0, "segments.block_age", c.BlockAge, "want > 0")
	l.Check(c.SealGrace >= 0 && c.SealIdle >= 0, "segments.seal_grace/seal_idle", c.SealGrace, "want ≥ 0")
	l.Check(c.FlushWorkers > 0 && c.FlushWorkers <= 64, "segments.flush_workers", c.FlushWorkers, "want 1..64")
	l.Check(c.MaxBuffered >= c.BlockSize*2, "buffers.max_bytes", c.MaxBuffered, "want ≥ 2 × segments.block_size")
	if c.Node != "" {
		if err := segment.CheckNode(c.Node); err != nil {
			l.Add(fmt.Errorf("config: %w", err))
		}
	}
	if _, err := wal.ParseSyncMode(string(c.Fsync)); err != nil {
		l.Add(fmt.Errorf("config: wal.fsync: %w", err))
	}
	if _, err := segment.ParseLevel(string(c.Level)); err != nil {
		l.Add(fmt.Errorf("config: segments.level: %w", err))
	}
	if _, err := segment.ParseLevel(string(c.CompactLevel)); err != nil {
		l.Add(fmt.Errorf("config: segments.compact_level: %w", err))
	}
	if err := c.Rules.Validate(); err != nil {
		l.Add(fmt.Errorf("config: %w", err))
	}
	if c.KeepRejected && c.MaxRejected < 1<<20 {
		l.Add(fmt.Errorf("config: rejected.max_bytes: %v (want ≥ 1MiB)", c.MaxRejected))
	}
	if c.MinFree < 0 || c.RetainDays < 0 || c.RetainBytes < 0 {
		l.Add(fmt.Errorf("config: disk.min_free, retention.max_days, retention.max_bytes: want ≥ 0"))
	}
	if err := ValidateTokens(c.Tokens); err != nil {
		l.Add(fmt.Errorf("config: auth.tokens%w", err))
	}
	return l.Err()
}

// Token is one producer's bearer token.
type Token struct {
	Name      string
	Token     string
	RateLimit float64 // records/s this producer may store; 0 = no limit (429 beyond)
	// Role is what the token may do: "write" (the default: send records,
	// no access to stored data or reports), "read" (reports, no writes) or
	// "both".
	Role string
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
