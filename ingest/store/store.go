package store

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ingestd/ingestd/internal/utcday"
	"github.com/ingestd/ingestd/record"

	"github.com/ingestd/ingestd/segment"
)

// Config configures the per-day buffers and segment rolling.
type Config struct {
	DataDir   string
	Node      string // node id in the names of new files; "" for none
	BlockSize int    // raw bytes that make a block full (4 MiB)
	// CompactBlockSize is the raw size of a compacted file's blocks; 0
	// means segment.DefaultCompactBlockSize.
	CompactBlockSize int
	BlockAge         time.Duration // a non-empty buffer older than this is flushed (10 s)
	SealGrace        time.Duration // a day seals this long after its end (10 min)...
	SealIdle         time.Duration // ...once no record reached it for this long (1 min)
	Level            segment.Level // intake compression (fastest)
	CompactLevel     segment.Level // compaction (best)
	FlushWorkers     int           // parallel block compressions (2)
	MaxBuffered      int64         // byte budget for buffered data as held: frames compressed, small requests raw (256 MiB)
	RetainDays       int           // delete days older than this; 0 = keep
	RetainBytes      int64         // delete the oldest days while segments exceed this; 0 = no cap
}

// Releaser is what the store needs of the WAL: to drop the entries up to a
// sequence once the segments hold them durably.
type Releaser interface {
	Release(seq uint64) error
}

// Store holds the per-day memory buffers and the open segment parts, rolls
// full or old buffers into segment blocks on a bounded worker pool, seals
// and compacts days that are over, and tells the WAL what it may drop.
type Store struct {
	cfg  Config
	enc  *segment.Encoder // intake level, shared by the workers
	cenc *segment.Encoder // compaction level
	log  *slog.Logger
	m    *counters
	wal  Releaser // set by Attach

	mu   sync.Mutex // guards days
	days map[int64]*dayState

	scratch applyScratch // see applyScratch

	outPool sync.Pool // *[]byte encoded blocks, shared by the flushes of all days

	buffered    atomic.Int64  // bytes admitted and not yet in a synced block
	lastApplied atomic.Uint64 // highest WAL sequence applied to the buffers
	failed      atomic.Value  // error: a segment write failed; intake must stop

	qmu     sync.Mutex // guards queue
	queue   []*dayState
	kick    chan struct{} // size 1: "the queue is not empty"
	compact chan int64    // days to compact; buffered so sealing never waits on compaction
	// pendingCompact lists finished days Recover found uncompacted; Attach
	// queues them.
	pendingCompact []int64
	// highWater is each day's largest WAL sequence in its blocks, as
	// Recover found them; Replay applies only what is above.
	highWater map[int64]uint64
	dayDone   func(dir string) // OnDayDone's; set before Attach
	stop      chan struct{}
	wg        sync.WaitGroup
}

// dayState is one UTC day's buffer and open part.
type dayState struct {
	num int64
	dir string

	mu         sync.Mutex // guards the fields down to queued
	buf        []byte     // per WAL entry, its records for the day: zstd frames or raw NDJSON
	marks      []mark     // one per WAL entry whose records are in buf, in order
	rawLen     int        // the NDJSON bytes buf holds (decompressed)
	spare      []byte     // the previous buffer, reused
	spareMarks []mark
	firstSeq   uint64    // marks[0].seq while buf is not empty
	since      time.Time // when buf became non-empty
	lastAdd    time.Time
	inflight   uint64 // first seq of data taken for writing and not yet synced (0: none)
	queued     bool   // in Store.queue

	wmu    sync.Mutex      // serialises take+encode+write+seal of this day; guards w and chunks
	w      *segment.Writer // the open part, nil when none
	chunks []chunk         // writeBlocks scratch
}

// chunk is one block being encoded by writeBlocks.
type chunk struct {
	first, last int // marks[first:last]
	start, end  int // in the day buffer
	meta        segment.BlockMeta
	out         *[]byte // encoded block, from Store.outPool
	err         error
}

// mark ends one WAL entry's records in a day buffer. An entry's records for
// a day are appended at once and a block is cut only between marks, so a
// block holds either all or none of an entry's records for its day. That is
// what makes a day's high-water mark (the largest LastSeq of its blocks) mean
// "every record of this day from entries up to here is stored".
type mark struct {
	end          int // offset in buf just after the entry's records
	seq          uint64
	recs         uint32
	raw          uint32 // NDJSON bytes of the records
	packed       bool   // buf holds them as zstd frames (made by the request)
	minTS, maxTS int64
}

// counters are what the store counts, read by the daemon's metrics.
type counters struct {
	FramesWritten    atomic.Int64 // segment blocks written (the metric's name predates blocks of several frames)
	RawBytesWritten  atomic.Int64 // their records' bytes
	CompBytesWritten atomic.Int64 // their compressed bytes
	RetentionDays    atomic.Int64 // days deleted by retention
	RetentionBytes   atomic.Int64 // bytes deleted by retention
}

// New prepares a store over cfg.DataDir; nothing is read until Recover.
func New(cfg Config, reg prometheus.Registerer, log *slog.Logger) (*Store, error) {
	enc, err := segment.NewEncoder(cfg.Level)
	if err != nil {
		return nil, err
	}
	cenc, err := segment.NewEncoder(cfg.CompactLevel)
	if err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, enc: enc, cenc: cenc, log: log, m: &counters{}, days: map[int64]*dayState{},
		kick: make(chan struct{}, 1), compact: make(chan int64, 1024), stop: make(chan struct{})}
	if reg != nil {
		s.register(reg)
	}
	return s, nil
}

func (s *Store) day(num int64) *dayState {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.days[num]
	if d == nil {
		d = &dayState{num: num, dir: segment.DayDir(s.cfg.DataDir, utcday.Start(num))}
		s.days[num] = d
	}
	return d
}

// Admit reserves n bytes of the buffer budget; false means the budget is
// full and the request must be refused (503) rather than grow memory.
func (s *Store) Admit(n int64) bool {
	if s.buffered.Add(n) > s.cfg.MaxBuffered {
		s.buffered.Add(-n)
		return false
	}
	return true
}

// Unadmit returns a reservation that was not used.
func (s *Store) Unadmit(n int64) { s.buffered.Add(-n) }

// Buffered returns the bytes currently held in memory.
func (s *Store) Buffered() int64 { return s.buffered.Load() }

// Failed returns the error that stopped the store, or nil.
func (s *Store) Failed() error {
	if v := s.failed.Load(); v != nil {
		return v.(error)
	}
	return nil
}

// apply adds one committed WAL entry's records to the day buffers. The WAL
// writer goroutine calls it in sequence order, which is what makes a day's
// blocks hold its records in WAL order (the basis of the high-water mark).
// keep filters records during replay (nil: all).
func (s *Store) apply(seq uint64, payload []byte, keep func(day int64) bool) (int64, error) {
	sc := &s.scratch
	if record.FormatOf(payload) != record.EntryFramed {
		// Format 1 (a WAL written before format 2): regroup its records
		// into a format 2 payload of raw parts, then apply that.
		buf, recs, err := record.DecodeEntry(payload, sc.recs[:0])
		sc.recs = recs
		if err != nil || len(recs) == 0 {
			return 0, fmt.Errorf("%w (sequence %d)", cmp.Or(err, errors.New("record: WAL entry without records")), seq)
		}
		sc.batch.Buf, sc.batch.Recs = buf, recs
		sc.v1, _, _ = record.AppendFramedEntry(sc.v1[:0], &sc.batch, nil, record.Framing{}, &sc.entry)
		payload = sc.v1
	}
	parts, err := record.DecodeParts(payload, sc.parts[:0])
	sc.parts = parts[:0]
	if err != nil {
		return 0, fmt.Errorf("%w (sequence %d)", err, seq)
	}
	return s.applyParts(seq, parts, keep), nil
}

// applyScratch is memory reused by apply; only the WAL writer goroutine
// (or, before it starts, recovery) calls it, so it needs no lock.
type applyScratch struct {
	parts []record.Part
	recs  []record.Rec // a format 1 entry's records
	batch record.Batch // and as a batch
	v1    []byte       // and as a format 2 payload
	entry record.EntryScratch
}

// applyParts adds a format 2 WAL entry's parts (one per day, zstd frames or
// raw NDJSON each) to the day buffers, each day's share at once with one
// mark, so that a block holds all or none of it. It returns the bytes added.
// keep filters days during replay (nil: all).
func (s *Store) applyParts(seq uint64, parts []record.Part, keep func(day int64) bool) int64 {
	var added int64
	now := time.Now()
	for _, p := range parts {
		if keep != nil && !keep(p.Day) {
			continue
		}
		d := s.day(p.Day)
		d.mu.Lock()
		if len(d.buf) == 0 {
			d.since, d.firstSeq = now, seq
		}
		d.buf = append(d.buf, p.Data...)
		d.marks = append(d.marks, mark{end: len(d.buf), seq: seq, recs: p.Records, raw: p.RawLen,
			packed: p.Packed, minTS: p.MinTS, maxTS: p.MaxTS})
		d.rawLen += int(p.RawLen)
		d.lastAdd = now
		s.addDone(d)
		added += int64(len(p.Data))
	}
	if seq > s.lastApplied.Load() {
		s.lastApplied.Store(seq)
	}
	return added
}

// addDone unlocks d after adding and queues it when its block is full.
func (s *Store) addDone(d *dayState) {
	full := d.rawLen >= s.cfg.BlockSize && !d.queued
	if full {
		d.queued = true
	}
	d.mu.Unlock()
	if full {
		s.enqueue(d)
	}
}

// start runs the flush workers, the ticker and the compactor (Attach).
func (s *Store) start() {
	n := max(1, s.cfg.FlushWorkers)
	for i := 0; i < n; i++ {
		s.wg.Add(1)
		go s.worker()
	}
	s.wg.Add(2)
	go s.ticker()
	go s.compactor()
	for _, num := range s.pendingCompact {
		select {
		case s.compact <- num:
		default: // full: the rest waits for the next start or seal
		}
	}
	s.pendingCompact = nil
}

func (s *Store) fail(err error) {
	if s.failed.CompareAndSwap(nil, err) {
		s.log.Error("segment write failed; intake stopped, data stays in the WAL; restart to recover", "err", err)
	}
}

// snapshot returns the current days; the map may grow meanwhile.
func (s *Store) snapshot() []*dayState {
	s.mu.Lock()
	defer s.mu.Unlock()
	days := make([]*dayState, 0, len(s.days))
	for _, d := range s.days {
		days = append(days, d)
	}
	return days
}

// durable returns the highest sequence below which everything is in synced
// segment blocks.
// Durable is the highest WAL sequence all of whose records are in fsynced
// segment blocks: the WAL may drop every entry up to it.
func (s *Store) Durable() uint64 {
	last := s.lastApplied.Load()
	days := s.snapshot()
	for _, d := range days {
		d.mu.Lock()
		if len(d.buf) > 0 && d.firstSeq-1 < last {
			last = d.firstSeq - 1
		}
		if d.inflight > 0 && d.inflight-1 < last {
			last = d.inflight - 1
		}
		d.mu.Unlock()
	}
	return last
}

func (s *Store) release() {
	if s.wal == nil {
		return
	}
	if err := s.wal.Release(s.Durable()); err != nil {
		s.log.Warn("wal release", "err", err)
	}
}

// Close stops the workers, flushes every buffer and seals every open part.
// The caller has stopped the WAL first, so nothing is applied meanwhile.
func (s *Store) Close() error {
	close(s.stop)
	s.wg.Wait()
	days := s.snapshot()
	var first error
	for _, d := range days {
		if err := s.seal(d); err != nil && first == nil {
			first = err
		}
	}
	if first == nil {
		first = s.Failed()
	}
	return first
}

// ApplyEntry adds one committed request's records, as its format 2 WAL
// payload (AppendFramedEntry), to the day buffers. The WAL writer calls it in
// sequence order, through the core's commit hook.
// A payload that does not decode (a bug: the core made it) stops intake.
func (s *Store) ApplyEntry(seq uint64, payload []byte) {
	if _, err := s.apply(seq, payload, nil); err != nil {
		s.fail(fmt.Errorf("ingest: apply WAL entry: %w", err))
	}
}

// intakeFraming is how a request's records become frames in its goroutine. A
// day's share under 16 KiB stays raw until its block is made, since small
// frames compress poorly; larger ones become frames of whole lines up to
// 64 KiB, which keep nearly a whole block's ratio while their match tables
// stay in cache.
var intakeFraming = record.Framing{Min: 16 << 10, Span: 64 << 10}

// AppendFramedEntry appends the WAL payload (record.EntryFramed) of b's records to dst: each
// day's share compressed once, here, in the caller's goroutine, into the
// frame the segment block will hold. stored is what the day buffers will
// hold (admit it); packed says the payload needs no further compression.
func (s *Store) AppendFramedEntry(dst []byte, b *record.Batch, sc *record.EntryScratch) (payload []byte, stored int, packed bool) {
	return record.AppendFramedEntry(dst, b, s.enc, intakeFraming, sc)
}

// OnDayDone registers fn to be told, on the compactor goroutine, of each
// finished day whose files are final: after its compaction, or when there
// was nothing to compact. fn must not block. Call it before Attach.
func (s *Store) OnDayDone(fn func(dir string)) { s.dayDone = fn }

// register registers the store's metrics (segment bytes and frames
// written, the compression ratio, retention, the bytes buffered) in reg.
func (s *Store) register(reg prometheus.Registerer) {
	c := s.m
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ingestd_buffered_bytes", Help: "Bytes accepted and not yet in a synced segment block."},
		func() float64 { return float64(s.Buffered()) }))
	counter := func(name, help string, v *atomic.Int64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v.Load()) }))
	}
	counter("ingestd_segment_frames_written_total", "Blocks (a header frame and its zstd data frames) appended to segment parts.", &c.FramesWritten)
	counter("ingestd_segment_raw_bytes_written_total", "NDJSON bytes written to segments (before compression).", &c.RawBytesWritten)
	counter("ingestd_segment_bytes_written_total", "Compressed bytes written to segments.", &c.CompBytesWritten)
	counter("ingestd_retention_deleted_days_total", "Day folders deleted by retention.", &c.RetentionDays)
	counter("ingestd_retention_deleted_bytes_total", "Segment bytes deleted by retention.", &c.RetentionBytes)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ingestd_compression_ratio", Help: "Raw over compressed bytes written to segments."}, func() float64 {
		if n := c.CompBytesWritten.Load(); n > 0 {
			return float64(c.RawBytesWritten.Load()) / float64(n)
		}
		return 0
	}))
}
