package segment_test

import (
	"bytes"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ingestd/ingestd/bench"
	"github.com/ingestd/ingestd/segment"
	"github.com/klauspost/compress/zstd"
)

// BenchmarkAppendFramesParallel compresses unique records as intake does:
// goroutines for 4×GOMAXPROCS requests in flight, each writing its ≈ 350 KB
// of records into its own buffer (a stand-in for the scanner's compacted
// copy) and compressing it in ≤ 64 KiB frames of whole lines, half on a
// second goroutine. "pool" is segment.Encoder; "channel" is one shared
// zstd.Encoder whose EncodeAll takes encoders from a channel, as
// segment.Encoder did before it pooled them. Beside MB/s (wall) it reports
// MB per CPU-second of the whole process, the figure that compares on a
// shared host.
func BenchmarkAppendFramesParallel(b *testing.B) {
	g, err := bench.NewGenerator(bench.Workload{Seed: 1, Shape: bench.ShapeUnique, Batch: 1000, Days: 1,
		Form: "ndjson", Compression: "none", Protocol: "native"}, time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC))
	if err != nil {
		b.Fatal(err)
	}
	var reqs [][]byte
	for s := g.Sample(32 << 20); len(s) > 0; {
		n := min(350_000, len(s))
		if i := bytes.LastIndexByte(s[:n], '\n'); i > 0 && n < len(s) {
			n = i + 1
		}
		reqs, s = append(reqs, s[:n]), s[n:]
	}
	pool, err := segment.NewEncoder(segment.LevelFastest)
	if err != nil {
		b.Fatal(err)
	}
	shared, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderCRC(true),
		zstd.WithZeroFrames(true), zstd.WithLowerEncoderMem(true))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		frames func(dst, raw []byte, ends []int) []byte
	}{
		{"pool", pool.AppendFrames},
		{"channel", func(dst, raw []byte, ends []int) []byte { return sharedFrames(shared, dst, raw, ends) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(reqs[0])))
			b.SetParallelism(4)
			cpu0 := processCPU()
			b.RunParallel(func(pb *testing.PB) {
				var buf, out []byte
				var ends []int
				for i := 0; pb.Next(); i += 7 {
					buf = append(buf[:0], reqs[i%len(reqs)]...)
					ends = ends[:0]
					for off := 0; off < len(buf); {
						n := min(64<<10, len(buf)-off)
						if j := bytes.LastIndexByte(buf[off:off+n], '\n'); j >= 0 && off+n < len(buf) {
							n = j + 1
						}
						off += n
						ends = append(ends, off)
					}
					out = c.frames(out[:0], buf, ends)
				}
			})
			b.ReportMetric(float64(b.N)*float64(len(reqs[0]))/1e6/(processCPU()-cpu0), "MB/cpu-s")
		})
	}
}

// sharedFrames is AppendFrames over one shared zstd.Encoder.
func sharedFrames(z *zstd.Encoder, dst, raw []byte, ends []int) []byte {
	if len(ends) < 2 {
		return z.EncodeAll(raw, dst)
	}
	half := len(ends) / 2
	var second []byte
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		prev := ends[half-1]
		for _, end := range ends[half:] {
			second, prev = z.EncodeAll(raw[prev:end], second), end
		}
	}()
	prev := 0
	for _, end := range ends[:half] {
		dst, prev = z.EncodeAll(raw[prev:end], dst), end
	}
	wg.Wait()
	return append(dst, second...)
}

// processCPU is this process's user+system CPU seconds.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
