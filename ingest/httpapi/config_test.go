package httpapi

import (
	"testing"

	"github.com/ingestd/ingestd/ingest"
)

// A zero Config means the daemon's documented defaults (configs/ingestd.yaml,
// ingest.DefaultConfig), field by field.
func TestConfigZeroValueIsTheDefaults(t *testing.T) {
	got, d := Config{}.withDefaults(), ingest.DefaultConfig()
	want := Config{MaxBody: int64(d.HTTP.MaxBody), MaxHeader: int(d.HTTP.MaxHeader), MaxConnections: d.HTTP.MaxConnections,
		MaxConnsPerIP: d.HTTP.MaxConnsPerIP, ReadTimeout: d.HTTP.ReadTimeout, WriteTimeout: d.HTTP.WriteTimeout,
		IdleTimeout: d.HTTP.IdleTimeout, MaxRequestBytes: int64(d.Buffers.MaxRequest),
		LokiMergeJSONLines: d.Loki.MergeJSONLines, OTLPFlatResource: d.OTLP.Resource == "flat"}
	if got != want {
		t.Fatalf("zero Config means %+v, the defaults are %+v", got, want)
	}
	if c := (Config{MaxBody: 1 << 10}).withDefaults(); c.MaxBody != 1<<10 {
		t.Fatalf("a set field was replaced: %+v", c)
	}
}
