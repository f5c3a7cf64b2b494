package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/HdrHistogram/hdrhistogram-go"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ingestd/ingestd/segment"
)

// fixture writes a data dir holding the valid records of requests, each
// transformed by edit (which may drop or repeat lines), and an ack log.
func fixture(t *testing.T, w Workload, status map[int64]string, edit func(req int64, lines []string) []string) (string, string) {
	t.Helper()
	g := gen(t, w)
	dir := t.TempDir()
	day := filepath.Join(dir, "segments", "dt=2026-11-26")
	os.MkdirAll(day, 0o755)
	enc, _ := segment.NewEncoder(segment.LevelFastest)
	wr, err := segment.Create(filepath.Join(day, segment.PartName("n1", 1)))
	if err != nil {
		t.Fatal(err)
	}
	hdr, _ := json.Marshal(w)
	ack := fmt.Sprintf("# ingest-bench ack log v1 %s\n", hdr)
	for i := int64(0); i < int64(len(status)); i++ {
		r := g.Request(i)
		var lines []string
		valid := 0
		for j, l := range strings.Split(strings.TrimSpace(string(r.Body)), "\n") {
			if !r.Invalid[j] {
				lines = append(lines, l)
				valid++
			}
		}
		accepted := -1
		if status[i] == "200" {
			accepted = valid
		}
		ack += fmt.Sprintf("%d %s %d\n", i, status[i], accepted)
		if status[i] != "200" && status[i] != "error" {
			lines = nil // refused: nothing stored
		}
		if edit != nil {
			lines = edit(i, lines)
		}
		if len(lines) == 0 {
			continue
		}
		raw := []byte(strings.Join(lines, "\n") + "\n")
		b, err := enc.AppendBlock(nil, segment.BlockMeta{Records: uint32(len(lines)), FirstSeq: uint64(i + 1), LastSeq: uint64(i + 1)}, raw)
		if err != nil {
			t.Fatal(err)
		}
		wr.Append(b)
	}
	if _, err := wr.Seal(); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "acks.log")
	os.WriteFile(logPath, []byte(ack), 0o644)
	return dir, logPath
}

func TestVerifierCatchesPlantedFaults(t *testing.T) {
	w := Workload{Seed: 3, Shape: ShapeLogs, Batch: 20, Form: "ndjson", Compression: "none", Days: 2, Invalid: 0.2}
	status := map[int64]string{}
	for i := int64(0); i < 10; i++ {
		status[i] = "200"
	}
	status[7], status[8], status[9] = "error", "error", "503"
	cases := map[string]struct {
		edit  func(int64, []string) []string
		check func(v *VerifyResult) bool
	}{
		"clean": {nil, func(v *VerifyResult) bool {
			return v.OK && v.Acked == 7 && v.Unanswered == 2 && v.UnansweredKept == 2 && v.Refused == 1
		}},
		"loss": {func(i int64, l []string) []string {
			if i == 3 {
				return l[1:]
			}
			return l
		}, func(v *VerifyResult) bool { return !v.OK && v.Lost == 1 }},
		"duplicate": {func(i int64, l []string) []string {
			if i == 2 {
				return append(l, l[4])
			}
			return l
		}, func(v *VerifyResult) bool { return !v.OK && v.Duplicated == 1 }},
		"partial unanswered": {func(i int64, l []string) []string {
			if i == 8 {
				return l[:len(l)/2]
			}
			return l
		}, func(v *VerifyResult) bool { return !v.OK && v.Partial == 1 }},
		"unanswered absent is fine": {func(i int64, l []string) []string {
			if i == 8 {
				return nil
			}
			return l
		}, func(v *VerifyResult) bool { return v.OK && v.UnansweredKept == 1 }},
		"refused stored": {func(i int64, l []string) []string {
			if i == 9 {
				return []string{`{"id":"000000000180","ts":1}`}
			}
			return l
		}, func(v *VerifyResult) bool { return !v.OK && v.Unexpected == 1 }},
		"stranger": {func(i int64, l []string) []string {
			if i == 0 {
				return append(l, `{"ts":1,"id":"x"}`)
			}
			return l
		}, func(v *VerifyResult) bool { return !v.OK && v.Unexpected == 1 }},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir, logPath := fixture(t, w, status, c.edit)
			f, _ := os.Open(logPath)
			defer f.Close()
			v, err := Verify(context.Background(), dir, f)
			if err != nil {
				t.Fatal(err)
			}
			if !c.check(v) {
				b, _ := json.MarshalIndent(v, "", " ")
				t.Fatalf("unexpected result:\n%s", b)
			}
		})
	}
}

func TestParseAccepted(t *testing.T) {
	for in, want := range map[string]int64{`{"accepted":1000}`: 1000, `{"accepted":3,"rejected":1,"errors":[]}`: 3, `{"error":"x"}`: -1} {
		if got := parseAccepted([]byte(in)); got != want {
			t.Errorf("%s: %d", in, got)
		}
	}
	_ = bytes.MinRead
}

func TestLatencySummary(t *testing.T) {
	h := hdrhistogram.New(1, int64(10*60*1e6), 3)
	for us := int64(1); us <= 100000; us++ { // 1 µs .. 100 ms, uniform
		h.RecordValue(us)
	}
	h.RecordValue(5_000_000) // one 5 s outlier
	got := latencySummary(h)
	for name, want := range map[string]float64{"p50": 50, "p90": 90, "p99": 99, "p99.9": 99.9, "max": 5000} {
		if d := got[name] - want; d < -want*0.002 || d > want*0.002 {
			t.Errorf("%s = %.3f ms, want %.3f ± 0.2%%", name, got[name], want)
		}
	}
}
