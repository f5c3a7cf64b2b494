package report

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/ingestd/ingestd/segment"
)

// parseTS is the tests' timestamp parser: RFC 3339 strings and epoch seconds.
func parseTS(v []byte) (int64, error) {
	if len(v) > 1 && v[0] == '"' {
		t, err := time.Parse(time.RFC3339Nano, string(v[1:len(v)-1]))
		if err != nil {
			return 0, err
		}
		return t.UnixNano(), nil
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil {
		return 0, err
	}
	return int64(f * 1e9), nil
}

func testConfig() Config {
	return Config{
		Dimensions:      []string{"level", "service", "status"},
		Metrics:         []string{"duration_ms", "bytes"},
		Distinct:        []string{"user.id"},
		TopN:            5,
		TopCap:          1000,
		TimestampFields: []string{"timestamp", "ts"},
		ParseTimestamp:  parseTS,
		Workers:         2,
		BatchRows:       777, // several batches per block
	}
}

// expect holds exact answers computed while generating.
type expect struct {
	records    int64
	days       map[string]int64
	hours      map[string]*[24]int64
	levels     map[string]int64
	services   map[string]int64
	durations  []float64
	users      map[string]bool
	mismatchDu int64
}

func newExpect() *expect {
	return &expect{days: map[string]int64{}, hours: map[string]*[24]int64{}, levels: map[string]int64{},
		services: map[string]int64{}, users: map[string]bool{}}
}

var testLevels = []string{"info", "info", "info", "info", "warn", "warn", "error", "debug"}

// genDay makes n records of day d with a known distribution. Some records
// lack fields, carry a wrong type or an escaped string, or nest deeper.
func genDay(r *rand.Rand, d time.Time, n int, e *expect) [][]byte {
	lines := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		ts := d.Add(time.Duration(r.Int63n(int64(24 * time.Hour))))
		lvl := testLevels[r.Intn(len(testLevels))]
		svc := fmt.Sprintf("svc-%d", int(r.ExpFloat64()*3)%40)
		user := fmt.Sprintf("u%05d", r.Intn(20000))
		dur := float64(r.Intn(100000)) / 100
		rec := fmt.Sprintf(`{"timestamp":"%s","level":"%s","service":"%s","status":%d,"user":{"id":"%s","plan":{"tier":"gold"}},"duration_ms":%g,"bytes":%d,"msg":"a \"quoted\" line"}`,
			ts.Format(time.RFC3339Nano), lvl, svc, 200+r.Intn(3)*100, user, dur, r.Intn(5000))
		switch i % 50 {
		case 7: // duration of the wrong type
			rec = fmt.Sprintf(`{"timestamp":"%s","level":"%s","service":"%s","user":{"id":"%s"},"duration_ms":"slow"}`, ts.Format(time.RFC3339Nano), lvl, svc, user)
			e.mismatchDu++
			dur = -1
		case 13: // escaped service name, no duration, epoch "ts"
			svc = `svc-"x"`
			rec = fmt.Sprintf(`{"ts":%d,"level":"%s","service":"svc-\"x\"","user":{"id":"%s"},"extra":[1,2,{"a":null}]}`, ts.Unix(), lvl, user)
			ts = ts.Truncate(time.Second)
			dur = -1
		}
		day := ts.UTC().Format(time.DateOnly)
		e.records++
		e.days[day]++
		if e.hours[day] == nil {
			e.hours[day] = &[24]int64{}
		}
		e.hours[day][ts.UTC().Hour()]++
		e.levels[lvl]++
		e.services[svc]++
		e.users[user] = true
		if dur >= 0 {
			e.durations = append(e.durations, dur)
		}
		lines = append(lines, []byte(rec))
	}
	return lines
}

// writePart writes lines as one part of the day folder, perBlock records a
// block, and seals it unless open is set.
func writePart(t testing.TB, dataDir string, d time.Time, seq uint64, lines [][]byte, perBlock int, open bool) string {
	t.Helper()
	return writeNodePart(t, dataDir, "n1", d, seq, lines, perBlock, open)
}

// writeNodePart is writePart for the files of a given node.
func writeNodePart(t testing.TB, dataDir, node string, d time.Time, seq uint64, lines [][]byte, perBlock int, open bool) string {
	t.Helper()
	dir := segment.DayDir(dataDir, d)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	enc, err := segment.NewEncoder(segment.LevelFastest)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	w, err := segment.Create(filepath.Join(dir, segment.PartName(node, seq)))
	if err != nil {
		t.Fatal(err)
	}
	for len(lines) > 0 {
		k := min(perBlock, len(lines))
		var raw []byte
		for _, l := range lines[:k] {
			raw = append(append(raw, l...), '\n')
		}
		lines = lines[k:]
		m := segment.BlockMeta{Records: uint32(k), FirstSeq: seq, LastSeq: seq, MinTS: d.UnixNano(), MaxTS: d.Add(24*time.Hour - 1).UnixNano()}
		b, err := enc.AppendBlock(nil, m, raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Append(b); err != nil {
			t.Fatal(err)
		}
		seq++
	}
	if open {
		if err := w.Sync(); err != nil {
			t.Fatal(err)
		}
		w.Close()
		return w.Path()
	}
	p, err := w.Seal()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// exactQuantile is the nearest-rank quantile of sorted values.
func exactQuantile(sorted []float64, q float64) float64 {
	i := int(q * float64(len(sorted)-1))
	return sorted[i]
}

func sortedCopy(v []float64) []float64 {
	c := append([]float64(nil), v...)
	sort.Float64s(c)
	return c
}

func segmentDayDir(dataDir string, d time.Time) string { return segment.DayDir(dataDir, d) }

func fileSize(t testing.TB, dir string) int64 {
	st, err := os.Stat(filepath.Join(dir, segment.LegacyReportPartial))
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}
