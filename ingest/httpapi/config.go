package httpapi

import "time"

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

// withDefaults fills the zero fields.
func (c Config) withDefaults() Config {
	orDefault(&c.MaxBody, 64<<20)
	orDefault(&c.MaxHeader, 16<<10)
	orDefault(&c.MaxConnections, 1024)
	orDefault(&c.ReadTimeout, 60*time.Second)
	orDefault(&c.WriteTimeout, 60*time.Second)
	orDefault(&c.IdleTimeout, 120*time.Second)
	orDefault(&c.MaxRequestBytes, 256<<20)
	return c
}

// orDefault sets *v to d when it is not positive.
func orDefault[T int | int64 | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}
