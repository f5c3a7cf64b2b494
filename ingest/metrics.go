package ingest

import (
	"io"
	"math"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"

	"github.com/ingestd/ingestd/ingest/store"
	"github.com/ingestd/ingestd/record"
)

// Metrics is the daemon's metric registry (prometheus/client_golang) and the
// metrics the intake core owns. Other packages register theirs in Registry:
// the HTTP layer its request counters and latency, the store its segment and
// retention counters, cmd/ingestd the report and scrub gauges. Names are
// part of the contract: the alert rules and the dashboard in configs/ use
// them.
type Metrics struct {
	reg *prometheus.Registry

	recordsIn    prometheus.Counter
	rejected     *prometheus.CounterVec // records skipped with ?invalid=skip, by reason
	rejectedReqs *prometheus.CounterVec // whole requests refused with 400, by reason
	walFsync     prometheus.Histogram
	// A write's time by stage (ingestd_write_stage_seconds): parse
	// (validate and compact), then, when it stores records, compress (its
	// zstd frames) and commit (the WAL's group commit, fsync included).
	stageParse, stageCompress, stageCommit prometheus.Observer

	// Per protocol and producer: every write by outcome, and its records.
	protoRequests *prometheus.CounterVec
	protoStored   *prometheus.CounterVec
	protoRejected *prometheus.CounterVec

	// State read at scrape time.
	recoverySeconds atomic.Uint64 // float64 bits
	rejectedStored  atomic.Int64
	rejectedLost    atomic.Int64
	rejectedCapped  atomic.Int64
	rejectedDisk    atomic.Int64
}

// LatencyBuckets are the histogram buckets of every duration metric:
// 50 µs doubling to ≈ 26 s.
var LatencyBuckets = prometheus.ExponentialBuckets(50e-6, 2, 20)

// NewMetrics returns the registry with the core's metrics.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	// The Go runtime's own view, for finding where latency goes: scheduling
	// latency (go_sched_latencies_seconds), GC pauses and CPU, heap, and the
	// process's CPU and memory.
	f(collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.MetricsGC, collectors.MetricsScheduler)))
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.recordsIn = prometheus.NewCounter(prometheus.CounterOpts{Name: "ingestd_records_in_total", Help: "Records stored (acknowledged)."})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ingestd_records_rejected_total", Help: "Records skipped with ?invalid=skip, by reason."}, []string{"reason"})
	m.rejectedReqs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ingestd_requests_rejected_total", Help: "Requests refused with 400 (nothing stored), by reason."}, []string{"reason"})
	for _, r := range record.Reasons { // every reason shows, at 0 until counted
		m.rejected.WithLabelValues(r)
		m.rejectedReqs.WithLabelValues(r)
	}
	m.walFsync = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ingestd_wal_fsync_duration_seconds", Help: "Duration of WAL fdatasync calls.", Buckets: LatencyBuckets})
	stages := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ingestd_write_stage_seconds",
		Help:    "Time a write spends in each stage: parse (validate, compact, timestamps; every write), then for writes that store records compress (their zstd frames, in the request's goroutine) and commit (WAL group commit and fsync, until answered). Waiting for a CPU counts in the stage it delays.",
		Buckets: LatencyBuckets}, []string{"stage"})
	m.stageParse, m.stageCompress, m.stageCommit = stages.WithLabelValues("parse"), stages.WithLabelValues("compress"), stages.WithLabelValues("commit")
	f(stages)
	m.protoRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ingestd_protocol_requests_total",
		Help: "Write requests by protocol, producer and outcome: ok, replayed (an Idempotency-Key seen before), or why it was refused (unauthorized, forbidden, invalid, too_large, unsupported_encoding, key_reused, rate_limited, busy, unavailable, disk_full, storage_failed, refused)."},
		[]string{"protocol", "producer", "outcome"})
	m.protoStored = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ingestd_protocol_records_total",
		Help: "Records stored (acknowledged), by protocol and producer."}, []string{"protocol", "producer"})
	m.protoRejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ingestd_protocol_records_rejected_total",
		Help: "Records refused inside stored requests (partial success, ?invalid=skip), by protocol and producer; kept in <data-dir>/rejected."}, []string{"protocol", "producer"})
	f(m.protoRequests)
	f(m.protoStored)
	f(m.protoRejected)
	f(m.recordsIn)
	f(m.rejected)
	f(m.rejectedReqs)
	f(m.walFsync)
	counter := func(name, help string, v *atomic.Int64) {
		f(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v.Load()) }))
	}
	counter("ingestd_rejected_lines_stored_total", "Lines rejected with ?invalid=skip kept in <data-dir>/rejected.", &m.rejectedStored)
	counter("ingestd_rejected_lines_lost_total", "Rejected lines that could not be written to <data-dir>/rejected (see the log).", &m.rejectedLost)
	counter("ingestd_rejected_capped_bytes_total", "Bytes of old rejected-line files deleted to stay under rejected.max_bytes.", &m.rejectedCapped)
	m.AddGauge("ingestd_rejected_bytes", "Bytes in <data-dir>/rejected.", func() float64 { return float64(m.rejectedDisk.Load()) })
	m.AddGauge("ingestd_recovery_duration_seconds", "Time the last start spent on recovery.", func() float64 { return math.Float64frombits(m.recoverySeconds.Load()) })
	return m
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Registry is where every package registers the metrics it owns.
func (m *Metrics) Registry() prometheus.Registerer { return m.reg }

// AddGauge exports a gauge computed at scrape time.
func (m *Metrics) AddGauge(name, help string, fn func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn))
}

// Write writes every registered metric in the Prometheus text format.
func (m *Metrics) Write(w io.Writer) error {
	mfs, err := m.reg.Gather()
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	return err
}

func (m *Metrics) reject(reason string, n int) { m.rejected.WithLabelValues(reason).Add(float64(n)) }

// RejectRequest counts a whole request refused with 400 for reason (one of
// record.Reasons).
func (m *Metrics) RejectRequest(reason string) { m.rejectRequest(reason) }

func (m *Metrics) rejectRequest(reason string) { m.rejectedReqs.WithLabelValues(reason).Inc() }

func (m *Metrics) observeFsync(d time.Duration) { m.walFsync.Observe(d.Seconds()) }

// protoRequest counts one write of protocol by producer ("" when the token
// was not known) with its outcome.
func (m *Metrics) protoRequest(protocol, producer, outcome string) {
	if producer == "" {
		producer = "unknown"
	}
	m.protoRequests.WithLabelValues(protocol, producer, outcome).Inc()
}

// Protocols are the adapters' names in the per-protocol metrics.
var Protocols = []string{"native", "elasticsearch", "loki", "otlp", "hec", "syslog"}

// protoSeries makes every producer's per-protocol series exist at 0, so
// that rates and alerts see a producer before its first write.
func (m *Metrics) protoSeries(prods []*producer) {
	for _, p := range prods {
		for _, proto := range Protocols {
			m.protoRequests.WithLabelValues(proto, p.name, "ok")
			m.protoStored.WithLabelValues(proto, p.name)
			m.protoRejected.WithLabelValues(proto, p.name)
		}
	}
}

// protoRecords counts a stored write's records.
func (m *Metrics) protoRecords(protocol, producer string, stored, rejected int) {
	if stored > 0 {
		m.protoStored.WithLabelValues(protocol, producer).Add(float64(stored))
	}
	if rejected > 0 {
		m.protoRejected.WithLabelValues(protocol, producer).Add(float64(rejected))
	}
}

// producerCollector exports the per-producer counters; the set of
// producers changes when the token file is reloaded.
type producerCollector struct {
	list                      func() []*producer
	records, requests, limits *prometheus.Desc
}

func newProducerCollector(list func() []*producer) *producerCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, []string{"producer"}, nil)
	}
	return &producerCollector{list: list,
		records:  d("ingestd_producer_records_total", "Records stored, by producer (token name)."),
		requests: d("ingestd_producer_requests_total", "Ingest requests answered 200, by producer."),
		limits:   d("ingestd_producer_rate_limited_total", "Ingest requests answered 429, by producer."),
	}
}

// Describe implements prometheus.Collector.
func (c *producerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.records
	ch <- c.requests
	ch <- c.limits
}

// Collect implements prometheus.Collector.
func (c *producerCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.list() {
		ch <- prometheus.MustNewConstMetric(c.records, prometheus.CounterValue, float64(p.records.Load()), p.name)
		ch <- prometheus.MustNewConstMetric(c.requests, prometheus.CounterValue, float64(p.requests.Load()), p.name)
		ch <- prometheus.MustNewConstMetric(c.limits, prometheus.CounterValue, float64(p.limited.Load()), p.name)
	}
}

// registerStore exports the store's gauges and counters.
func (m *Metrics) registerStore(st *store.Store, walFiles func() int) {
	st.RegisterMetrics(m.reg)
	m.AddGauge("ingestd_buffered_bytes", "Bytes accepted and not yet in a synced segment block.", func() float64 { return float64(st.Buffered()) })
	m.AddGauge("ingestd_wal_files", "Write-ahead log files on disk.", func() float64 { return float64(walFiles()) })
}
