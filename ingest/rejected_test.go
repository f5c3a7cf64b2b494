package ingest

import (
	"io"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ingestd/ingestd/record"
)

func TestRejectedStoreRotatesAndCaps(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rejected")
	m := newMetrics(nil)
	r, err := openRejected(dir, 1<<20, slog.New(slog.NewTextHandler(io.Discard, nil)), m)
	if err != nil {
		t.Fatal(err)
	}
	r.rotate = 64 << 10
	rng := rand.New(rand.NewSource(1))
	var b record.Batch
	for i := 0; i < 300; i++ {
		b.Reset()
		for j := 0; j < 10; j++ {
			line := make([]byte, 10000)
			for k := range line {
				line[k] = byte('a' + rng.Intn(26)) // poorly compressible
			}
			b.Bad = append(b.Bad, record.BadLine{Line: j + 1, Reason: record.ReasonInvalidJSON, Err: "x", Off: len(b.BadBuf), Len: len(line)})
			b.BadBuf = append(b.BadBuf, line...)
		}
		r.add("p", time.Unix(int64(i), 0), &b)
	}
	r.close()
	ents, _ := os.ReadDir(dir)
	var total int64
	for _, e := range ents {
		info, _ := e.Info()
		total += info.Size()
		if !strings.HasSuffix(e.Name(), ".ndjson.zst") {
			t.Errorf("unexpected %s", e.Name())
		}
	}
	if total > 1<<20+128<<10 || len(ents) < 5 {
		t.Fatalf("%d files, %d bytes: over the 1 MiB cap (plus one file)", len(ents), total)
	}
	if m.rejectedStored.Load() != 3000 || m.rejectedCapped.Load() == 0 {
		t.Fatalf("stored %d, capped %d bytes", m.rejectedStored.Load(), m.rejectedCapped.Load())
	}
}
