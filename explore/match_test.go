package explore

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ingestd/ingestd/record"
	"github.com/ingestd/ingestd/report"
	"github.com/ingestd/ingestd/report/filter"
	"github.com/ingestd/ingestd/segment"
)

// tailRecords are stored records with the shapes a filter meets: missing
// fields, nested objects, strings that look like numbers, nulls, arrays,
// escaped keys and values.
var tailRecords = []string{
	`{"timestamp":"2026-10-03T00:00:01Z","level":"error","status":500,"user":{"id":"u1","n":3}}`,
	`{"timestamp":"2026-10-03T00:00:02Z","level":"info","status":"500","user":{"id":"u2"}}`,
	`{"timestamp":"2026-10-03T00:00:03Z","level":null,"status":200.0,"tags":["a","b"]}`,
	`{"timestamp":"2026-10-03T00:00:04Z","status":404,"user":"u3","msg":"time\"out \\ late"}`,
	`{"timestamp":"2026-10-03T00:00:05Z","le\u0076el":"warn","msg":"ok","user":{"id":{"deep":1}}}`,
	`{"timestamp":"2026-10-03T00:00:06Z","level":"error","status":503,"msg":"upstream timeout"}`,
}

var tailFilters = []string{
	`level == "error"`, `level != "error"`, `not level == "error"`, `status >= 500`, `status == 500`, `status == "500"`,
	`status in (404, "500")`, `user.id == "u1"`, `exists(user.id)`, `not exists(user)`, `level == null`,
	`msg =~ "time.*out"`, `level == "warn"`, `user.n > 2 and level == "error"`, `level == "info" or status < 300`,
	`tags == "a"`, `user.id.deep == 1`,
}

// Match decides each filter for each record as the report's scan decides
// it for the record's row: the scan over the same records is the reference.
func TestMatchAgreesWithTheScan(t *testing.T) {
	dir := t.TempDir()
	day := time.Date(2026, 10, 3, 0, 0, 0, 0, time.UTC)
	path := filepath.Join(segment.DayDir(dir, day), segment.PartName("t", 1))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	w, err := segment.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := segment.NewEncoder(segment.LevelFastest)
	raw := []byte{}
	for _, r := range tailRecords {
		raw = append(append(raw, r...), '\n')
	}
	blk, err := enc.AppendBlock(nil, segment.BlockMeta{Records: uint32(len(tailRecords)), FirstSeq: 1, LastSeq: 1,
		MinTS: day.UnixNano(), MaxTS: day.Add(time.Hour).UnixNano()}, raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append(blk); err != nil {
		t.Fatal(err)
	}
	sealed, err := w.Seal()
	if err != nil {
		t.Fatal(err)
	}
	cfg := report.Config{TimestampFields: []string{"timestamp"}, ParseTimestamp: record.ParseTimestamp}
	for _, f := range tailFilters {
		want := map[string]bool{}
		q := report.Question{From: day, To: day.Add(24 * time.Hour), Where: f}
		if _, err := report.Ask(context.Background(), []string{sealed}, q, cfg, report.ScanOptions{}, func(b []byte) error {
			want[string(b)] = true
			return nil
		}); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		e, err := filter.Parse(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range tailRecords {
			if got := Match(e, []byte(r)); got != want[r] {
				t.Errorf("%s on %s: Match %v, the scan %v", f, r, got, want[r])
			}
		}
	}
}

// The inventory names paths as the report's field inventory does, and
// counts a path once per record.
func TestInventoryPaths(t *testing.T) {
	inv := newInventory(3, 100)
	for _, r := range tailRecords {
		inv.serial++
		if end := inv.object([]byte(r), 0, 0, 0); end != len(r) {
			t.Fatalf("%s: walked to %d of %d", r, end, len(r))
		}
	}
	for path, n := range map[string]int64{"timestamp": 6, "level": 4, "user": 4, "user.id": 3, "user.id.deep": 1, "tags": 1, "le\\u0076el": 1} {
		st := inv.stats[path]
		if (st == nil && n != 0) || (st != nil && st.Records != n) {
			t.Errorf("%s: %+v, want %d records", path, st, n)
		}
	}
	if st := inv.stats["user"]; st.Types != report.TypeObject|report.TypeString {
		t.Errorf("user's types: %b", st.Types)
	}
}

func TestValueFilterAndStep(t *testing.T) {
	for _, c := range []struct {
		path  string
		types []string
		v     string
		want  string
	}{
		{"level", []string{"string"}, "info", `level == "info"`},
		{"status", []string{"number"}, "200", `status == 200`},
		{"status", []string{"number", "string"}, "200", `status in ("200", 200)`},
		{"code", []string{"string"}, "200", `code == "200"`},
		{"user.id", []string{"string"}, `a"b`, `user.id == "a\"b"`},
		{"http.status-code", []string{"number"}, "404", "http.status-code == 404"},
		{"a b", []string{"string"}, "x", "`a b` == \"x\""},
		{"ok", []string{"bool"}, "true", `ok == true`},
	} {
		got := filter.ForValue(c.path, c.v, c.types)
		if got != c.want {
			t.Errorf("%s %v %q: %s, want %s", c.path, c.types, c.v, got, c.want)
		}
		if _, err := filter.Parse(got); err != nil {
			t.Errorf("%s does not parse: %v", got, err)
		}
	}
	for s, want := range map[string]time.Duration{"1m": time.Minute, "90s": 90 * time.Second, "1d": 24 * time.Hour, "7d": 7 * 24 * time.Hour} {
		if d, err := parseStep(s); err != nil || d != want {
			t.Errorf("step %s: %v %v", s, d, err)
		}
	}
	for _, s := range []string{"0s", "500ms", "1.5s", "d", "-1h", "x"} {
		if _, err := parseStep(s); err == nil {
			t.Errorf("step %s accepted", s)
		}
	}
}
