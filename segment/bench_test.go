package segment

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// benchRaw is ≈4 MiB of log-like NDJSON.
func benchRaw() []byte {
	var b []byte
	for i := 0; len(b) < 4<<20; i++ {
		b = fmt.Appendf(b, `{"timestamp":"2026-11-03T10:%02d:%02d.%06dZ","level":"%s","service":"api-%d","path":"/v1/items/%d","status":%d,"duration_ms":%d.%d,"user":"u%06d","msg":"request served in region eu-west-%d"}`+"\n",
			i/60%60, i%60, i%1000000, []string{"info", "warn", "error", "debug"}[i%4], i%17, i*7919%100000, []int{200, 201, 404, 500}[i%4], i%900, i%10, i*31%500000, i%3)
	}
	return b
}

func BenchmarkEncodeBlock(b *testing.B) {
	raw := benchRaw()
	for _, l := range []Level{LevelFastest, LevelDefault, LevelBetter, LevelBest} {
		b.Run(string(l), func(b *testing.B) {
			enc, _ := NewEncoder(l)
			defer enc.Close()
			var out []byte
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				out, _ = enc.AppendBlock(out[:0], BlockMeta{Records: 1, LastSeq: 1}, raw)
			}
			b.ReportMetric(float64(len(raw))/float64(len(out)), "ratio")
		})
	}
}

func writeBenchFile(b *testing.B, dir string, blocks int) string {
	raw := benchRaw()
	enc, _ := NewEncoder(LevelFastest)
	defer enc.Close()
	w, err := Create(filepath.Join(dir, PartName("n1", 1)))
	if err != nil {
		b.Fatal(err)
	}
	var out []byte
	for i := 0; i < blocks; i++ {
		out, _ = enc.AppendBlock(out[:0], BlockMeta{Records: uint32(lines(raw)), FirstSeq: uint64(i + 1), LastSeq: uint64(i + 1)}, raw)
		if err := w.Append(out); err != nil {
			b.Fatal(err)
		}
	}
	w.Sync()
	w.Close()
	return w.Path()
}

func BenchmarkScan(b *testing.B) {
	path := writeBenchFile(b, b.TempDir(), 16)
	raw := int64(16 * len(benchRaw()))
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			b.SetBytes(raw)
			for i := 0; i < b.N; i++ {
				err := ScanFiles(context.Background(), []string{path}, ScanOptions{Workers: workers}, func(string, BlockMeta, []byte) error { return nil })
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRecover1GiB measures OpenAppend on a 1 GiB open part (raw size;
// on disk ≈ 1 GiB of compressed frames). Run with -benchtime=1x.
func BenchmarkRecover1GiB(b *testing.B) {
	if testing.Short() {
		b.Skip("short")
	}
	dir := b.TempDir()
	raw := benchRaw()
	enc, _ := NewEncoder(LevelFastest)
	frame, _ := enc.AppendBlock(nil, BlockMeta{Records: uint32(lines(raw)), LastSeq: 1}, raw)
	n := (1 << 30) / len(frame)
	path := writeBenchFile(b, dir, 1)
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	for i := 1; i < n; i++ {
		f.Write(frame)
	}
	f.Write(frame[:len(frame)/2]) // torn tail
	f.Close()
	b.SetBytes(int64(n * len(frame)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w, rec, err := OpenAppend(path)
		if err != nil || rec.Blocks != n {
			b.Fatalf("%v %+v", err, rec)
		}
		w.Close()
	}
}
