package httpapi

import (
	"strings"
	"testing"
)

// A zero Config is valid and means the defaults; a set field is kept, and a
// bad one is refused naming its key in the configuration file. (That the
// defaults are the documented ones is cmd/ingestd's
// TestComponentDefaultsAreTheFileDefaults.)
func TestConfigZeroValueIsTheDefaults(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Fatal(err)
	}
	if c := (Config{}).WithDefaults(); c.MaxBody != 64<<20 || c.MaxConnections != 1024 || c.MaxRequestBytes != 256<<20 {
		t.Fatalf("zero Config means %+v", c)
	}
	if c := (Config{MaxBody: 1 << 10}).WithDefaults(); c.MaxBody != 1<<10 {
		t.Fatalf("a set field was replaced: %+v", c)
	}
	for key, c := range map[string]Config{"http.max_conns_per_ip": {MaxConnsPerIP: -1}, "http.max_body": {MaxBody: 100 << 20},
		"buffers.max_request_bytes": {MaxBody: 1 << 20, MaxRequestBytes: 2 << 20}} {
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%+v: %v, want an error naming %s", c, err, key)
		}
	}
}
