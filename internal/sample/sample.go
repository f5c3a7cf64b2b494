// Package sample makes the request bodies the benchmarks of several packages
// share, so that their figures are comparable.
package sample

import (
	"bytes"
	"fmt"
)

// Logs returns n ≈ 280-byte log records as NDJSON, like the design brief's targets:
// timestamps, ids, numbers and paths vary from record to record.
func Logs(n int) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `{"timestamp":"2026-11-26T10:%02d:%02d.%06dZ","level":"%s","service":"checkout-%d","host":"node-%03d.eu-west-1","method":"GET","path":"/api/v2/orders/%d/items","status":%d,"duration_ms":%d.%03d,"bytes":%d,"user_id":"u-%08d","trace_id":"%016x","msg":"request completed"}`+"\n",
			i/60%60, i%60, i%1000000, []string{"info", "warn", "error", "debug"}[i%4], i%12, i%200, i*7919%100000, []int{200, 201, 404, 500}[i%4], i%900, i%1000, 1000+i%50000, i*31%10000000, uint64(i)*0x9E3779B97F4A7C15)
	}
	return b.Bytes()
}
