package ingest

import (
	"fmt"
	"io"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ingestd/ingestd/ingest/store"
	"github.com/ingestd/ingestd/record"
)

// Metrics are the daemon's counters, exposed at /metrics in the Prometheus
// text format. All fields are safe for concurrent use.
type Metrics struct {
	codesMu sync.Mutex // guards codes' map shape; values are atomic
	codes   map[codeKey]*atomic.Int64

	recordsIn       atomic.Int64
	bytesIn         atomic.Int64 // decompressed body bytes
	wireBytesIn     atomic.Int64
	rejectedMu      sync.Mutex
	rejected        map[string]*atomic.Int64 // records skipped with ?invalid=skip, by reason
	rejectedReqs    map[string]*atomic.Int64 // whole requests refused with 400, by reason
	store           *store.Counters          // set by New
	recoverySeconds atomic.Uint64            // float64 bits
	walFsync        *histogram
	ack             *histogram
	buffered        func() int64
	walFiles        func() int
	producers       func() []*producer
	diskFree        atomic.Int64
	diskLow         atomic.Bool
	failed          atomic.Bool
	rejectedStored  atomic.Int64
	rejectedLost    atomic.Int64
	rejectedCapped  atomic.Int64
	rejectedDisk    atomic.Int64
	extraMu         sync.Mutex
	extra           []extraGauge
}

type extraGauge struct {
	name, help string
	fn         func() float64
}

// AddGauge exports a gauge computed at scrape time, for parts of the daemon
// outside this package (the report schedule).
func (m *Metrics) AddGauge(name, help string, fn func() float64) {
	m.extraMu.Lock()
	m.extra = append(m.extra, extraGauge{name, help, fn})
	m.extraMu.Unlock()
}

// NewMetrics returns empty metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		codes:        map[codeKey]*atomic.Int64{},
		rejected:     map[string]*atomic.Int64{},
		rejectedReqs: map[string]*atomic.Int64{},
		walFsync:     newHistogram(),
		ack:          newHistogram(),
	}
}

// codeKey labels a request counter: an endpoint from a fixed set and a status.
type codeKey struct {
	path string
	code int
}

func (m *Metrics) code(path string, c int) {
	k := codeKey{path, c}
	m.codesMu.Lock()
	v := m.codes[k]
	if v == nil {
		v = new(atomic.Int64)
		m.codes[k] = v
	}
	m.codesMu.Unlock()
	v.Add(1)
}

// Code counts one answer of an endpoint (a fixed set of labels) by status.
func (m *Metrics) Code(endpoint string, status int) { m.code(endpoint, status) }

// ObserveAck records one write request's time from receipt to answer.
func (m *Metrics) ObserveAck(d time.Duration) { m.ack.observe(d) }

// AddBody counts one request body: its bytes as received and decoded.
func (m *Metrics) AddBody(wire, decoded int) {
	m.wireBytesIn.Add(int64(wire))
	m.bytesIn.Add(int64(decoded))
}

func (m *Metrics) reject(reason string, n int) { m.add(m.rejected, reason, n) }

// RejectRequest counts a whole request refused with 400 for reason (one of
// record.Reasons).
func (m *Metrics) RejectRequest(reason string) { m.rejectRequest(reason) }

func (m *Metrics) rejectRequest(reason string) { m.add(m.rejectedReqs, reason, 1) }

func (m *Metrics) add(to map[string]*atomic.Int64, reason string, n int) {
	m.rejectedMu.Lock()
	v := to[reason]
	if v == nil {
		v = new(atomic.Int64)
		to[reason] = v
	}
	m.rejectedMu.Unlock()
	v.Add(int64(n))
}

// histogram has fixed exponential buckets from 50µs to ≈ 26 s.
type histogram struct {
	bounds []float64
	counts []atomic.Int64
	sum    atomic.Uint64 // float64 bits, updated with CAS
	n      atomic.Int64
}

func newHistogram() *histogram {
	h := &histogram{}
	for b := 50e-6; b < 30; b *= 2 {
		h.bounds = append(h.bounds, b)
	}
	h.counts = make([]atomic.Int64, len(h.bounds))
	return h
}

func (h *histogram) observe(d time.Duration) {
	v := d.Seconds()
	i := sort.SearchFloat64s(h.bounds, v)
	if i < len(h.counts) {
		h.counts[i].Add(1)
	}
	h.n.Add(1)
	for {
		old := h.sum.Load()
		if h.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

func (h *histogram) write(w io.Writer, name, help string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name)
	var cum int64
	for i, b := range h.bounds {
		cum += h.counts[i].Load()
		fmt.Fprintf(w, "%s_bucket{le=\"%g\"} %d\n", name, b, cum)
	}
	fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n%s_sum %g\n%s_count %d\n", name, h.n.Load(), name, math.Float64frombits(h.sum.Load()), name, h.n.Load())
}

// Write writes every metric in the Prometheus text format.
func (m *Metrics) Write(w io.Writer) {
	counter := func(name, help string, v int64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	gauge := func(name, help string, v float64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %g\n", name, help, name, name, v)
	}
	fmt.Fprintf(w, "# HELP ingestd_http_requests_total HTTP requests by endpoint and status code.\n# TYPE ingestd_http_requests_total counter\n")
	m.codesMu.Lock()
	keys := make([]codeKey, 0, len(m.codes))
	for k := range m.codes {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].path < keys[j].path || (keys[i].path == keys[j].path && keys[i].code < keys[j].code)
	})
	for _, k := range keys {
		fmt.Fprintf(w, "ingestd_http_requests_total{path=%q,code=\"%d\"} %d\n", k.path, k.code, m.codes[k].Load())
	}
	m.codesMu.Unlock()
	counter("ingestd_records_in_total", "Records stored (acknowledged).", m.recordsIn.Load())
	if m.producers != nil {
		ps := m.producers()
		for _, x := range []struct {
			name, help string
			v          func(*producer) int64
		}{
			{"ingestd_producer_records_total", "Records stored, by producer (token name).", func(p *producer) int64 { return p.records.Load() }},
			{"ingestd_producer_requests_total", "Ingest requests answered 200, by producer.", func(p *producer) int64 { return p.requests.Load() }},
			{"ingestd_producer_rate_limited_total", "Ingest requests answered 429, by producer.", func(p *producer) int64 { return p.limited.Load() }},
		} {
			fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", x.name, x.help, x.name)
			for _, p := range ps {
				fmt.Fprintf(w, "%s{producer=%q} %d\n", x.name, p.name, x.v(p))
			}
		}
	}
	counter("ingestd_bytes_in_total", "Request body bytes after decompression.", m.bytesIn.Load())
	counter("ingestd_wire_bytes_in_total", "Request body bytes as received.", m.wireBytesIn.Load())
	m.rejectedMu.Lock()
	for _, x := range []struct {
		name, help string
		by         map[string]*atomic.Int64
	}{
		{"ingestd_records_rejected_total", "Records skipped with ?invalid=skip, by reason.", m.rejected},
		{"ingestd_requests_rejected_total", "Requests refused with 400 (nothing stored), by reason.", m.rejectedReqs},
	} {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", x.name, x.help, x.name)
		for _, r := range record.Reasons {
			v := int64(0)
			if c := x.by[r]; c != nil {
				v = c.Load()
			}
			fmt.Fprintf(w, "%s{reason=%q} %d\n", x.name, r, v)
		}
	}
	m.rejectedMu.Unlock()
	counter("ingestd_segment_frames_written_total", "zstd frames appended to segment parts.", m.store.FramesWritten.Load())
	counter("ingestd_segment_raw_bytes_written_total", "NDJSON bytes written to segments (before compression).", m.store.RawBytesWritten.Load())
	counter("ingestd_segment_bytes_written_total", "Compressed bytes written to segments.", m.store.CompBytesWritten.Load())
	ratio := 0.0
	if c := m.store.CompBytesWritten.Load(); c > 0 {
		ratio = float64(m.store.RawBytesWritten.Load()) / float64(c)
	}
	gauge("ingestd_compression_ratio", "Raw over compressed bytes written to segments.", ratio)
	if m.buffered != nil {
		gauge("ingestd_buffered_bytes", "Bytes accepted and not yet in a synced segment block.", float64(m.buffered()))
	}
	if m.walFiles != nil {
		gauge("ingestd_wal_files", "Write-ahead log files on disk.", float64(m.walFiles()))
	}
	counter("ingestd_rejected_lines_stored_total", "Lines rejected with ?invalid=skip kept in <data-dir>/rejected.", m.rejectedStored.Load())
	counter("ingestd_rejected_lines_lost_total", "Rejected lines that could not be written to <data-dir>/rejected (see the log).", m.rejectedLost.Load())
	counter("ingestd_rejected_capped_bytes_total", "Bytes of old rejected-line files deleted to stay under rejected.max_bytes.", m.rejectedCapped.Load())
	gauge("ingestd_rejected_bytes", "Bytes in <data-dir>/rejected.", float64(m.rejectedDisk.Load()))
	counter("ingestd_retention_deleted_days_total", "Day folders deleted by retention.", m.store.RetentionDays.Load())
	counter("ingestd_retention_deleted_bytes_total", "Segment bytes deleted by retention.", m.store.RetentionBytes.Load())
	gauge("ingestd_disk_free_bytes", "Free bytes on the data directory's file system (checked every second).", float64(m.diskFree.Load()))
	low := 0.0
	if m.diskLow.Load() {
		low = 1
	}
	failed := 0.0
	if m.failed.Load() {
		failed = 1
	}
	gauge("ingestd_storage_failed", "1 once a WAL or segment write or fsync failed: intake is stopped until a restart.", failed)
	gauge("ingestd_disk_low", "1 while free space is under disk.min_free and intake answers 507.", low)
	gauge("ingestd_recovery_duration_seconds", "Time the last start spent on recovery.", math.Float64frombits(m.recoverySeconds.Load()))
	m.extraMu.Lock()
	for _, g := range m.extra {
		gauge(g.name, g.help, g.fn())
	}
	m.extraMu.Unlock()
	m.walFsync.write(w, "ingestd_wal_fsync_duration_seconds", "Duration of WAL fdatasync calls.")
	m.ack.write(w, "ingestd_ack_latency_seconds", "Time from request received to answer, for ingest requests.")
}
