package bench

import (
	"strings"
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

// The progress line says "warming up" while nothing is measured (the
// records/s then read 0), and shows the daemon's RSS only when its pid was
// given (without it the line said "rss 0 MB").
func TestProgressLine(t *testing.T) {
	f := func(got, want string, without ...string) {
		t.Helper()
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
		for _, w := range without {
			if strings.Contains(got, w) {
				t.Errorf("%q has %q", got, w)
			}
		}
	}
	f(progressLine(2*time.Second, 3*time.Second, 0, 120000, 0, "", false, 0), "warming up, not measured (3 s left): 120000 records acknowledged", "records/s", "rss")
	f(progressLine(7*time.Second, -time.Second, 250000, 1e6, 3.2, "200:250", false, 0), "250000 records/s  p99    3.20 ms  200:250", "rss", "warming")
	f(progressLine(7*time.Second, 0, 250000, 1e6, 3.2, "200:250", true, 181), "rss 181 MB")
}
