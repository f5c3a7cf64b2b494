package httpapi

import (
	"cmp"
	"time"

	"github.com/ingestd/ingestd/internal/confcheck"
)

// Config is the HTTP server's own configuration: the limits of everything a
// client controls, and the options it hands the protocol adapters. cmd
// maps the YAML's http, buffers, loki and otlp sections onto it. A zero
// field means its default.
type Config struct {
	MaxBody         int64         // request body, as sent and after decompression (64 MiB)
	MaxHeader       int           // request line and headers (16 KiB)
	MaxConnections  int           // open connections in total, idle ones too (1024)
	MaxConnsPerIP   int           // per client address; 0 for no limit
	ReadTimeout     time.Duration // a whole request (60 s)
	WriteTimeout    time.Duration // a whole answer (60 s)
	IdleTimeout     time.Duration // a keep-alive connection between requests (120 s)
	MaxRequestBytes int64         // bodies being read and decoded, all connections together (256 MiB)

	LokiMergeJSONLines bool // Loki push: a line that is a JSON object becomes the record's fields
	OTLPFlatResource   bool // OTLP: resource attributes as top-level "resource.<key>" members
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.MaxBody = cmp.Or(c.MaxBody, 64<<20)
	c.MaxHeader = cmp.Or(c.MaxHeader, 16<<10)
	c.MaxConnections = cmp.Or(c.MaxConnections, 1024)
	c.ReadTimeout = cmp.Or(c.ReadTimeout, 60*time.Second)
	c.WriteTimeout = cmp.Or(c.WriteTimeout, 60*time.Second)
	c.IdleTimeout = cmp.Or(c.IdleTimeout, 120*time.Second)
	c.MaxRequestBytes = cmp.Or(c.MaxRequestBytes, 256<<20)
	return c
}

// Validate reports every bad value, naming its key in the configuration
// file. Zero fields are checked as their defaults.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var l confcheck.List
	l.Check(c.MaxBody >= 1024, "http.max_body", c.MaxBody, "want ≥ 1KiB")
	l.Check(c.MaxBody <= 64<<20, "http.max_body", c.MaxBody, "want ≤ 64MiB: a request is stored as one WAL entry and never split across segment blocks")
	l.Check(c.MaxHeader >= 1024 && c.MaxHeader <= 1<<20, "http.max_header", c.MaxHeader, "want 1KiB..1MiB")
	l.Check(c.MaxConnections > 0, "http.max_connections", c.MaxConnections, "want > 0")
	l.Check(c.MaxConnsPerIP >= 0, "http.max_conns_per_ip", c.MaxConnsPerIP, "want ≥ 0")
	l.Check(c.ReadTimeout > 0 && c.WriteTimeout > 0 && c.IdleTimeout > 0, "http.*_timeout", c.ReadTimeout, "want > 0")
	l.Check(c.MaxRequestBytes >= 3*c.MaxBody, "buffers.max_request_bytes", c.MaxRequestBytes, "want ≥ 3 × http.max_body: a compressed request holds its body and its decoded copy")
	return l.Err()
}
