package bench

import (
	"testing"
	"time"
)

func TestOpenLoopQueueIsBoundedByBytes(t *testing.T) {
	w := Workload{Seed: 1, Shape: ShapeLogs, Batch: 1000, Form: "ndjson", Compression: "none", Days: 1}
	n := openLoopQueue(w, 64)
	gen, _ := NewGenerator(w, time.Now())
	if bytes := int64(n) * int64(len(gen.Request(0).Body)); bytes > 300<<20 || n < 128 {
		t.Fatalf("queue of %d requests holds ≈ %d MB", n, bytes>>20)
	}
	if n := openLoopQueue(Workload{Seed: 1, Shape: ShapeLogs, Batch: 1, Form: "ndjson", Compression: "none", Days: 1}, 8); n != 1<<16 {
		t.Fatalf("small requests: queue %d, want the 64 Ki cap", n)
	}
}
