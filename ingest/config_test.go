package ingest

import (
	"strings"
	"testing"
	"time"

	"github.com/ingestd/ingestd/ingest/wal"

	"github.com/ingestd/ingestd/segment"
)

// A token file line is "name token", then optionally a records/s limit and
// a role, in either order.
func TestParseTokenFile(t *testing.T) {
	ts, err := ParseTokenFile([]byte("# producers\napp app-token-0123456789\nslow slow-token-0123456789 50\n" +
		"analyst analyst-token-0123456789 read\nops ops-token-0123456789abc both 10\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Token{{"app", "app-token-0123456789", 0, ""}, {"slow", "slow-token-0123456789", 50, ""},
		{"analyst", "analyst-token-0123456789", 0, "read"}, {"ops", "ops-token-0123456789abc", 10, "both"}}
	if len(ts) != len(want) {
		t.Fatalf("%d tokens: %+v", len(ts), ts)
	}
	for i := range want {
		if ts[i] != want[i] {
			t.Errorf("token %d: %+v, want %+v", i, ts[i], want[i])
		}
	}
	if !ts[0].CanWrite() || ts[0].CanRead() || ts[2].CanWrite() || !ts[2].CanRead() || !ts[3].CanWrite() || !ts[3].CanRead() {
		t.Error("roles: write is the default, read may not write, both may do both")
	}
	for _, bad := range []string{"a a-token-0123456789 admin", "a a-token-0123456789 1 read extra", "a"} {
		if _, err := ParseTokenFile([]byte(bad)); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("%q: %v, want an error naming line 1", bad, err)
		}
	}
}

// segments.compact_block_size defaults to segment.DefaultCompactBlockSize
// and is refused outside 64KiB..32MiB, naming the setting.
func TestCompactBlockSizeValidated(t *testing.T) {
	c := Config{DataDir: "d"}
	if got := c.WithDefaults().CompactBlockSize; got != segment.DefaultCompactBlockSize {
		t.Fatalf("default %d, want %d", got, segment.DefaultCompactBlockSize)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []int64{32 << 10, 64 << 20} {
		c.CompactBlockSize = bad
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "segments.compact_block_size") {
			t.Errorf("compact_block_size %d: %v", bad, err)
		}
	}
}

// The zero Config with a data dir is a working core: every field with a
// default gets it, and the settings where 0 means off stay off.
func TestConfigZeroValueIsTheDefaults(t *testing.T) {
	if err := (Config{}).Validate(); err == nil || !strings.Contains(err.Error(), "data_dir") {
		t.Fatalf("no data dir: %v", err)
	}
	c := Config{DataDir: "d"}.WithDefaults()
	if c.Fsync != wal.SyncAlways || c.BlockSize != 4<<20 || c.Level != segment.LevelFastest || c.CompactLevel != segment.LevelBest ||
		c.MaxBuffered != 256<<20 || c.KeyWindow != 24*time.Hour || c.RetryAfter != time.Second || len(c.Rules.TimestampFields) == 0 {
		t.Fatalf("defaults not applied: %+v", c)
	}
	if c.MinFree != 0 || c.RetainDays != 0 || c.SealGrace != 0 || c.KeepRejected {
		t.Fatalf("a setting where 0 means off was given a value: %+v", c)
	}
}
