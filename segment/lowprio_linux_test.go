package segment

import (
	"context"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
)

// niceOf returns the calling thread's nice value (the raw syscall answers
// 20 - nice).
func niceOf() int {
	p, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	if err != nil {
		return -100
	}
	return 20 - p
}

func TestScanBlocksLowPriority(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "segments", "dt=2026-11-03")
	w, _ := writePart(t, dir, newEnc(t, LevelFastest), 4)
	runtime.LockOSThread()
	base := niceOf()
	runtime.UnlockOSThread()
	var mu sync.Mutex
	var seen []int
	err := ScanBlocks(context.Background(), []string{w.Path()}, ScanOptions{Workers: 2, LowPriority: true}, func(int, string, BlockMeta, []byte) error {
		mu.Lock()
		seen = append(seen, niceOf())
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range seen {
		if n != 19 {
			t.Fatalf("block handled at nice %d, want 19 (seen %v)", n, seen)
		}
	}
	// The threads were not handed back: this goroutine still runs at the base.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if n := niceOf(); n != base {
		t.Fatalf("nice %d after the scan, want %d", n, base)
	}
}
