package ingest

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ingestd/ingestd/ingest/adapter"
	"github.com/ingestd/ingestd/record"
)

// metrics are the intake core's own metrics, registered by New in the
// Registerer it is given. Names are part of the contract: the alert rules
// and the dashboard in configs/ use them.
type metrics struct {
	rejected     *prometheus.CounterVec // records skipped with ?invalid=skip, by reason
	rejectedReqs *prometheus.CounterVec // whole requests refused with 400, by reason
	walFsync     prometheus.Histogram
	// A write's time by stage (ingestd_write_stage_seconds): parse
	// (validate and compact), then, when it stores records, compress (its
	// zstd frames) and commit (the WAL's group commit, fsync included).
	stageParse, stageCompress, stageCommit prometheus.Observer
	stageBucket                            prometheus.Observer // storage.ack: bucket: from the WAL commit to the bucket's confirmation

	tallies tallies // every write, per producer and protocol
	unknown *tally  // writes whose token was not known

	// State read at scrape time.
	recovery       atomic.Int64 // nanoseconds
	rejectedStored atomic.Int64
	rejectedLost   atomic.Int64
	rejectedCapped atomic.Int64
	rejectedDisk   atomic.Int64
}

// LatencyBuckets are the histogram buckets of every duration metric:
// 50 µs doubling to ≈ 26 s.
var LatencyBuckets = prometheus.ExponentialBuckets(50e-6, 2, 20)

// newMetrics makes the core's metrics and registers them in reg (nil: not
// exported).
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{}
	m.unknown = m.tallies.of(unknownProducer)
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ingestd_records_rejected_total", Help: "Records skipped with ?invalid=skip, by reason."}, []string{"reason"})
	m.rejectedReqs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ingestd_requests_rejected_total", Help: "Requests refused with 400 (nothing stored), by reason."}, []string{"reason"})
	for _, r := range record.Reasons { // every reason shows, at 0 until counted
		m.rejected.WithLabelValues(r)
		m.rejectedReqs.WithLabelValues(r)
	}
	m.walFsync = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ingestd_wal_fsync_duration_seconds", Help: "Duration of WAL fdatasync calls.", Buckets: LatencyBuckets})
	stages := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ingestd_write_stage_seconds",
		Help:    "Time a write spends in each stage: parse (validate, compact, timestamps; every write), then for writes that store records compress (their zstd frames, in the request's goroutine), commit (WAL group commit and fsync) and, under storage.ack: bucket, bucket (until the WAL object holding the write is confirmed). Waiting for a CPU counts in the stage it delays.",
		Buckets: LatencyBuckets}, []string{"stage"})
	m.stageParse, m.stageCompress, m.stageCommit = stages.WithLabelValues("parse"), stages.WithLabelValues("compress"), stages.WithLabelValues("commit")
	m.stageBucket = stages.WithLabelValues("bucket")
	if reg == nil {
		return m
	}
	reg.MustRegister(stages, m.rejected, m.rejectedReqs, m.walFsync, newTallyCollector(&m.tallies))
	counter := func(name, help string, v *atomic.Int64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v.Load()) }))
	}
	counter("ingestd_rejected_lines_stored_total", "Lines rejected with ?invalid=skip kept in <data-dir>/rejected.", &m.rejectedStored)
	counter("ingestd_rejected_lines_lost_total", "Rejected lines that could not be written to <data-dir>/rejected (see the log).", &m.rejectedLost)
	counter("ingestd_rejected_capped_bytes_total", "Bytes of old rejected-line files deleted to stay under rejected.max_bytes.", &m.rejectedCapped)
	gauge(reg, "ingestd_rejected_bytes", "Bytes in <data-dir>/rejected.", func() float64 { return float64(m.rejectedDisk.Load()) })
	gauge(reg, "ingestd_recovery_duration_seconds", "Time the last start spent on recovery.", func() float64 { return time.Duration(m.recovery.Load()).Seconds() })
	return m
}

// gauge registers a gauge computed at scrape time.
func gauge(reg prometheus.Registerer, name, help string, fn func() float64) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn))
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (m *metrics) reject(reason string, n int) { m.rejected.WithLabelValues(reason).Add(float64(n)) }

func (m *metrics) rejectRequest(reason string) { m.rejectedReqs.WithLabelValues(reason).Inc() }

func (m *metrics) observeFsync(d time.Duration) { m.walFsync.Observe(d.Seconds()) }

// Protocols are the adapters' names in the per-protocol metrics.
var Protocols = []string{"native", "elasticsearch", "loki", "otlp", "hec", "syslog", "datadog", "otlp_grpc", "fluent", "journald"}

// Outcomes are how a write ends, in ingestd_protocol_requests_total: ok,
// replayed (an Idempotency-Key seen before), every adapter.Code* refusal, and
// refused (the answer could not be sent, or no reason was told).
var Outcomes = []string{"ok", "replayed", adapter.CodeUnauthorized, adapter.CodeForbidden, adapter.CodeInvalid,
	adapter.CodeTooLarge, adapter.CodeUnsupported, adapter.CodeKeyReused, adapter.CodeRateLimited, adapter.CodeBusy,
	adapter.CodeUnavailable, adapter.CodeDiskFull, adapter.CodeFailed, "refused"}

const (
	outcomeOK      = 0
	outcomeRefused = 13
	nProtocols     = 10
	nOutcomes      = 14
)

func protocolIndex(name string) int {
	i := slices.Index(Protocols, name)
	if i < 0 {
		panic("ingest: protocol " + name + " is not in Protocols")
	}
	return i
}

func outcomeIndex(code string) int {
	if i := slices.Index(Outcomes, code); i >= 0 {
		return i
	}
	return outcomeRefused
}

// tally is one producer's writes, each fact counted once: records stored
// and rejected, and every write's outcome, by protocol. The per-protocol,
// per-producer and total metrics are sums of it at scrape time.
type tally struct {
	records  [nProtocols]atomic.Int64 // stored (acknowledged)
	rejected [nProtocols]atomic.Int64 // refused inside stored writes (partial success, ?invalid=skip)
	outcomes [nProtocols][nOutcomes]atomic.Int64
}

// tallies keeps a tally per producer name for the life of the core, so a
// token reload keeps every producer's counts (and a removed producer's
// counters stay, as counters should).
type tallies struct {
	mu   sync.Mutex
	list []namedTally // in order of first use
}

type namedTally struct {
	name string
	*tally
}

// of returns the tally of the producer named name, made on first use (at
// start and at a token reload, never per write).
func (t *tallies) of(name string) *tally {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, n := range t.list {
		if n.name == name {
			return n.tally
		}
	}
	c := &tally{}
	t.list = append(t.list, namedTally{name, c})
	return c
}

// snapshot returns every tally, in order of first use.
func (t *tallies) snapshot() []namedTally {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.list)
}

// unknownProducer is the producer label of a write whose token was not known.
const unknownProducer = "unknown"

// tallyCollector exports the tallies as the per-protocol, per-producer and
// total counters.
type tallyCollector struct {
	t                                        *tallies
	protoRequests, protoRecords, protoReject *prometheus.Desc
	prodRecords, prodRequests, prodLimited   *prometheus.Desc
	recordsIn                                *prometheus.Desc
}

func newTallyCollector(t *tallies) *tallyCollector {
	return &tallyCollector{t: t,
		protoRequests: prometheus.NewDesc("ingestd_protocol_requests_total",
			"Write requests by protocol, producer and outcome: ok, replayed (an Idempotency-Key seen before), or why it was refused (unauthorized, forbidden, invalid, too_large, unsupported_encoding, key_reused, rate_limited, busy, unavailable, disk_full, storage_failed, refused).",
			[]string{"protocol", "producer", "outcome"}, nil),
		protoRecords: prometheus.NewDesc("ingestd_protocol_records_total", "Records stored (acknowledged), by protocol and producer.", []string{"protocol", "producer"}, nil),
		protoReject: prometheus.NewDesc("ingestd_protocol_records_rejected_total",
			"Records refused inside stored requests (partial success, ?invalid=skip), by protocol and producer; kept in <data-dir>/rejected.", []string{"protocol", "producer"}, nil),
		prodRecords:  prometheus.NewDesc("ingestd_producer_records_total", "Records stored, by producer (token name).", []string{"producer"}, nil),
		prodRequests: prometheus.NewDesc("ingestd_producer_requests_total", "Write requests answered with success, by producer.", []string{"producer"}, nil),
		prodLimited:  prometheus.NewDesc("ingestd_producer_rate_limited_total", "Write requests answered 429, by producer.", []string{"producer"}, nil),
		recordsIn:    prometheus.NewDesc("ingestd_records_in_total", "Records stored (acknowledged).", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *tallyCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.protoRequests, c.protoRecords, c.protoReject, c.prodRecords, c.prodRequests, c.prodLimited, c.recordsIn} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. A known producer's series exist
// at 0 from the start (outcome ok for each protocol), so rates and alerts
// see a producer before its first write; other outcomes appear once counted.
func (c *tallyCollector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	var total int64
	limited := outcomeIndex(adapter.CodeRateLimited)
	for _, nt := range c.t.snapshot() {
		name, t := nt.name, nt.tally
		var recs, ok, nlimited int64
		for p, proto := range Protocols {
			r := t.records[p].Load()
			recs += r
			ok += t.outcomes[p][outcomeOK].Load()
			nlimited += t.outcomes[p][limited].Load()
			for o, outcome := range Outcomes {
				if v := t.outcomes[p][o].Load(); v > 0 || o == outcomeOK && name != unknownProducer {
					counter(c.protoRequests, v, proto, name, outcome)
				}
			}
			if name != unknownProducer {
				counter(c.protoRecords, r, proto, name)
				counter(c.protoReject, t.rejected[p].Load(), proto, name)
			}
		}
		total += recs
		if name != unknownProducer {
			counter(c.prodRecords, recs, name)
			counter(c.prodRequests, ok, name)
			counter(c.prodLimited, nlimited, name)
		}
	}
	counter(c.recordsIn, total)
}
