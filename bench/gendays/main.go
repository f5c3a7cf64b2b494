// Command gendays writes one sealed, compacted-named segment file per day of October 2026
// with log-like records whose ids, paths and messages vary (ratio ≈ real logs).
// Usage: go run ./bench/gendays DATA_DIR [RECORDS_PER_DAY [LEVEL]] (LEVEL:
// better, the default, or fastest for tests that need volume soon). It is the data of
// bench/run-scaling.sh (ingest-bench repeats 16 templates, which compaction
// squeezes far below real logs; these records vary like real ones).
package main

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ingestd/ingestd/segment"
)

func main() {
	dataDir, perDay := os.Args[1], 500000
	if len(os.Args) > 2 {
		perDay, _ = strconv.Atoi(os.Args[2])
	}
	level := segment.LevelBetter
	if len(os.Args) > 3 && os.Args[3] == "fastest" {
		level = segment.LevelFastest
	}
	enc, err := segment.NewEncoder(level)
	if err != nil {
		panic(err)
	}
	r := rand.New(rand.NewSource(1))
	words := []string{"request", "completed", "failed", "retry", "cache", "miss", "hit", "upstream", "timeout", "user", "order", "payment", "queued", "sent"}
	seq := uint64(1)
	for d := 0; d < 31; d++ {
		day := time.Date(2026, 10, 1+d, 0, 0, 0, 0, time.UTC)
		dir := segment.DayDir(dataDir, day)
		os.MkdirAll(dir, 0o700)
		w, err := segment.Create(filepath.Join(dir, segment.PartName("gen", seq)))
		if err != nil {
			panic(err)
		}
		var raw []byte
		n := 0
		flush := func() {
			ts := day.UnixNano()
			b, err := enc.AppendBlock(nil, segment.BlockMeta{Records: uint32(n), FirstSeq: seq, LastSeq: seq, MinTS: ts, MaxTS: ts + int64(24*time.Hour) - 1}, raw)
			if err != nil {
				panic(err)
			}
			if err := w.Append(b); err != nil {
				panic(err)
			}
			raw, n = raw[:0], 0
			seq++
		}
		for i := 0; i < perDay; i++ {
			ts := day.Add(time.Duration(r.Int63n(int64(24 * time.Hour))))
			raw = fmt.Appendf(raw, `{"timestamp":"%s","level":"%s","service":"svc-%d","host":"node-%03d","trace_id":"%016x%016x","user":{"id":"u-%07d"},"path":"/api/v2/orders/%d/items/%d","status":%d,"duration_ms":%d.%03d,"bytes":%d,"msg":"%s %s %s %d"}`+"\n",
				ts.Format(time.RFC3339Nano), []string{"info", "info", "warn", "error", "debug"}[r.Intn(5)], r.Intn(40), r.Intn(300), r.Uint64(), r.Uint64(),
				r.Intn(2000000), r.Intn(10000000), r.Intn(100), []int{200, 200, 200, 201, 404, 500}[r.Intn(6)], r.Intn(900), r.Intn(1000), r.Intn(90000),
				words[r.Intn(len(words))], words[r.Intn(len(words))], words[r.Intn(len(words))], r.Intn(100000))
			n++
			if len(raw) > segment.DefaultCompactBlockSize-600 { // as compaction writes them
				flush()
			}
		}
		if n > 0 {
			flush()
		}
		p, err := w.Seal()
		if err != nil {
			panic(err)
		}
		if err := os.Rename(p, filepath.Join(dir, segment.CompactName("gen", seq-1))); err != nil {
			panic(err)
		}
	}
}
