package ship

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/ingestd/ingestd/ingest/wal"
	"github.com/ingestd/ingestd/internal/failpoint"
	"github.com/ingestd/ingestd/internal/fsutil"
)

// TailConfig says how the write-ahead log follows the writes into the
// bucket (storage.tail_interval, storage.ack and the settings beside them).
type TailConfig struct {
	// Interval: under ack local, at most one PUT starts per Interval, with
	// every entry durable by then, so an entry is in the bucket within
	// Interval plus one upload.
	Interval time.Duration
	// Ack: a write is answered only once its entry is in the bucket
	// (storage.ack: bucket); at most one PUT starts per AckWindow, with
	// every entry durable by then, up to InFlight PUTs at once.
	Ack        bool
	InFlight   int           // PUTs at once under Ack (default 16)
	AckWindow  time.Duration // under Ack, at most one PUT starts per window (default 10ms)
	AckTimeout time.Duration // under Ack, answer 503 after this long without the bucket (5s)
	MaxObject  int64         // bytes of WAL per object, about (default 16 MiB)
	Heartbeat  time.Duration // how often the node's heartbeat object is put (30s)
}

// WithDefaults fills the zero fields.
func (c TailConfig) WithDefaults() TailConfig {
	if c.Interval <= 0 {
		c.Interval = 10 * time.Second
	}
	if c.InFlight <= 0 {
		c.InFlight = 16
	}
	if c.AckWindow <= 0 {
		c.AckWindow = 10 * time.Millisecond
	}
	if c.AckTimeout <= 0 {
		c.AckTimeout = 5 * time.Second
	}
	if c.MaxObject <= 0 {
		c.MaxObject = 16 << 20
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 30 * time.Second
	}
	return c
}

// piece is a durable run of the log with its key journal records.
type piece struct {
	wal.Range
	keysOff, keysEnd int64
	at               time.Time // when it became durable
}

// object is one PUT: pieces of one log file, in order.
type object struct {
	pieces []piece
	done   bool
}

func (o *object) first() uint64 { return o.pieces[0].First }
func (o *object) last() uint64  { return o.pieces[len(o.pieces)-1].Last }

// Tail puts every durable run of the write-ahead log into the bucket as WAL
// objects (see walobj.go): continuous shipping. The core tells it of each
// run (Durable) and, under ack bucket, waits for it (Wait) before answering;
// the WAL keeps a file until Shipped passes it. Objects are confirmed in
// sequence order: Shipped never skips a gap.
type Tail struct {
	cfg      Config
	tc       TailConfig
	client   *minio.Client
	keysPath string // the Idempotency-Key journal, read by offset
	state    string // <data>/ship/tail.state: the last sequence confirmed, a hint for the next start
	log      *slog.Logger

	mu        sync.Mutex
	queue     []piece   // durable, not yet in an object
	lastStart time.Time // when the last PUT started: the next waits a window after it
	inflight  []*object // taken, in order; the confirmed prefix is dropped
	cursor    int64     // key journal offset reached by the queued pieces
	lastErr   error     // the last PUT's failure, nil after a success
	kick      chan struct{}

	shipped  atomic.Uint64
	drainNow atomic.Bool  // Drain: no window, upload what is queued now
	savedAt  atomic.Int64 // when the state file was last written (unix ns)
	waitMu   sync.Mutex
	waitCh   chan struct{} // closed (and replaced) whenever shipped moves

	stop chan struct{}
	done chan struct{}
	once sync.Once
	ctx  context.Context

	objects, bytesOut, errs, timeouts prometheus.Counter
	putSeconds                        prometheus.Histogram
}

// NewTail prepares continuous shipping for the node of cfg, from the log
// whose key journal is keysPath; nothing is contacted yet. Its metrics go
// to reg (nil: not exported).
func NewTail(dataDir string, cfg Config, tc TailConfig, keysPath string, reg prometheus.Registerer, log *slog.Logger) (*Tail, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" || cfg.Node == "" {
		return nil, fmt.Errorf("ship: endpoint, bucket and node id are required")
	}
	c, err := client(cfg, true)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Tail{cfg: cfg, tc: tc.WithDefaults(), client: c, keysPath: keysPath, log: log,
		state: filepath.Join(dataDir, "ship", "tail.state"),
		kick:  make(chan struct{}, 1), waitCh: make(chan struct{}),
		stop: make(chan struct{}), done: make(chan struct{})}
	if b, err := os.ReadFile(t.state); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil {
			t.shipped.Store(n)
		}
	}
	f := promauto.With(reg)
	t.objects = f.NewCounter(prometheus.CounterOpts{Name: "ingestd_ship_tail_objects_total", Help: "WAL objects the store confirmed (continuous shipping)."})
	t.bytesOut = f.NewCounter(prometheus.CounterOpts{Name: "ingestd_ship_tail_bytes_total", Help: "Bytes of those objects."})
	t.errs = f.NewCounter(prometheus.CounterOpts{Name: "ingestd_ship_tail_errors_total", Help: "Failed WAL object PUTs (each retried)."})
	t.timeouts = f.NewCounter(prometheus.CounterOpts{Name: "ingestd_ship_ack_timeouts_total", Help: "Writes answered 503 because the bucket did not confirm within storage.ack_timeout (storage.ack: bucket)."})
	t.putSeconds = f.NewHistogram(prometheus.HistogramOpts{Name: "ingestd_ship_tail_put_seconds", Help: "Duration of WAL object PUTs that the store confirmed.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)})
	f.NewGaugeFunc(prometheus.GaugeOpts{Name: "ingestd_ship_tail_lag_seconds", Help: "Age of the oldest durable WAL entry not yet in the bucket (0: none): what losing the disk now would lose."},
		func() float64 { return t.Lag().Seconds() })
	f.NewGaugeFunc(prometheus.GaugeOpts{Name: "ingestd_ship_tail_shipped_seq", Help: "Every WAL entry up to this sequence is in the bucket."},
		func() float64 { return float64(t.shipped.Load()) })
	return t, nil
}

// Resume queues the runs of the log a previous process may not have
// shipped (wal.Ranges above Shipped), with the whole key journal
// (keysEnd bytes). Call before the log starts.
func (t *Tail) Resume(rs []wal.Range, keysEnd int64) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range rs {
		if r.Last <= t.shipped.Load() {
			continue
		}
		// The first object carries the whole journal; readers take each
		// record once.
		t.queue = append(t.queue, piece{Range: r, at: now, keysOff: t.cursor, keysEnd: keysEnd})
		t.cursor = keysEnd
	}
	t.cursor = keysEnd
}

// Durable queues a run of the log that just became durable; keysEnd is the
// key journal's size once the run's records are in it. It runs on the WAL
// writer goroutine and never blocks.
func (t *Tail) Durable(r wal.Range, keysEnd int64) {
	t.mu.Lock()
	t.queue = append(t.queue, piece{Range: r, keysOff: t.cursor, keysEnd: keysEnd, at: time.Now()})
	t.cursor = keysEnd
	t.mu.Unlock()
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// Shipped returns the sequence up to which every entry is in the bucket.
func (t *Tail) Shipped() uint64 { return t.shipped.Load() }

// Lag returns the age of the oldest durable entry not yet in the bucket.
func (t *Tail) Lag() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var oldest time.Time
	if len(t.inflight) > 0 {
		oldest = t.inflight[0].pieces[0].at
	} else if len(t.queue) > 0 {
		oldest = t.queue[0].at
	}
	if oldest.IsZero() {
		return 0
	}
	return time.Since(oldest)
}

// ErrNotShipped is Wait's error: the bucket did not confirm in time.
var ErrNotShipped = errors.New("the bucket did not confirm the write")

// Wait returns once the entry seq is in the bucket, or ErrNotShipped (with
// the store's last error) after timeout.
func (t *Tail) Wait(seq uint64, timeout time.Duration) error {
	var timer *time.Timer
	for {
		t.waitMu.Lock()
		ch := t.waitCh
		t.waitMu.Unlock()
		if t.shipped.Load() >= seq {
			if timer != nil {
				timer.Stop()
			}
			return nil
		}
		if timer == nil {
			timer = time.NewTimer(timeout)
			defer timer.Stop()
		}
		select {
		case <-ch:
		case <-timer.C:
			t.timeouts.Inc()
			if err := t.Err(); err != nil {
				return fmt.Errorf("%w within %s: %v", ErrNotShipped, timeout, err)
			}
			return fmt.Errorf("%w within %s", ErrNotShipped, timeout)
		case <-t.stop:
			return fmt.Errorf("%w: shutting down", ErrNotShipped)
		}
	}
}

// Err returns the last PUT's failure while no PUT has succeeded since.
func (t *Tail) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lastErr
}

// Stalled says why writes should be turned away under ack bucket: the
// oldest entry waiting for the bucket is older than the ack timeout.
func (t *Tail) Stalled() error {
	if lag := t.Lag(); lag > t.tc.AckTimeout {
		if err := t.Err(); err != nil {
			return fmt.Errorf("the bucket has not confirmed a write for %s: %v", lag.Round(time.Second), err)
		}
		return fmt.Errorf("the bucket has not confirmed a write for %s", lag.Round(time.Second))
	}
	return nil
}

// Start runs the uploads and the heartbeat.
func (t *Tail) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	t.ctx = ctx
	go func() { <-t.stop; cancel() }()
	go t.loop()
}

// Drain uploads everything durable so far and returns once it is
// confirmed, or ctx's error (the WAL keeps what is not).
func (t *Tail) Drain(ctx context.Context) error {
	t.mu.Lock()
	var want uint64
	if n := len(t.queue); n > 0 {
		want = t.queue[n-1].Last
	} else if n := len(t.inflight); n > 0 {
		want = t.inflight[n-1].last()
	}
	t.mu.Unlock()
	if want == 0 {
		return nil
	}
	t.drainNow.Store(true)
	select {
	case t.kick <- struct{}{}:
	default:
	}
	for t.shipped.Load() < want {
		t.waitMu.Lock()
		ch := t.waitCh
		t.waitMu.Unlock()
		if t.shipped.Load() >= want {
			break
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("ship: WAL entries up to %d not in the bucket: %w", want, ctx.Err())
		}
	}
	return nil
}

// Close stops the uploads (a PUT in flight is abandoned; its entries are
// uploaded again at the next start) and marks the node stopped in its
// heartbeat.
func (t *Tail) Close() {
	t.once.Do(func() {
		close(t.stop)
		if t.ctx != nil {
			<-t.done
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			t.heartbeat(ctx, true)
			cancel()
		}
	})
}

// loop takes queued pieces into objects, PUTs at most InFlight at a time,
// and puts the heartbeat.
func (t *Tail) loop() {
	defer close(t.done)
	hb := time.NewTicker(t.tc.Heartbeat)
	defer hb.Stop()
	t.heartbeat(t.ctx, false)
	slots := make(chan struct{}, t.inFlight())
	var timer *time.Timer
	var timerC <-chan time.Time
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		if o := t.take(slots); o != nil {
			slots <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				t.put(o)
				<-slots
				select {
				case t.kick <- struct{}{}:
				default:
				}
			}()
			continue
		}
		if wait := t.nextWait(); wait > 0 && timerC == nil && len(slots) < cap(slots) {
			timer = time.NewTimer(wait)
			timerC = timer.C
		}
		select {
		case <-t.stop:
			if timer != nil {
				timer.Stop()
			}
			return
		case <-t.kick:
		case <-timerC:
			timerC = nil
		case <-hb.C:
			t.heartbeat(t.ctx, false)
		}
	}
}

func (t *Tail) inFlight() int {
	if t.tc.Ack {
		return t.tc.InFlight
	}
	return 1
}

// window is how long after a PUT's start the next may start.
func (t *Tail) window() time.Duration {
	if t.drainNow.Load() {
		return 0
	}
	if t.tc.Ack {
		return t.tc.AckWindow
	}
	return t.tc.Interval
}

// nextWait returns how long until the next PUT may start (0: nothing
// queued).
func (t *Tail) nextWait() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.queue) == 0 {
		return 0
	}
	return max(time.Until(t.lastStart.Add(t.window())), time.Millisecond)
}

// take makes the next object when a slot is free and a window passed since
// the last PUT started (or enough bytes wait): queued pieces of one file,
// up to about MaxObject bytes. Entries that become durable meanwhile wait
// for the next: one PUT per window at most, however fast they come.
func (t *Tail) take(slots chan struct{}) *object {
	if len(slots) == cap(slots) {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.queue) == 0 {
		return nil
	}
	var size int64
	for _, p := range t.queue {
		size += p.End - p.Off
	}
	if time.Since(t.lastStart) < t.window() && size < t.tc.MaxObject {
		return nil
	}
	t.lastStart = time.Now()
	o := &object{}
	n, size := 0, int64(0)
	for _, p := range t.queue {
		if n > 0 && (p.Path != t.queue[0].Path || p.Off != t.queue[n-1].End || size >= t.tc.MaxObject) {
			break
		}
		size += p.End - p.Off
		n++
	}
	o.pieces = append(o.pieces, t.queue[:n]...)
	t.queue = append(t.queue[:0], t.queue[n:]...)
	t.inflight = append(t.inflight, o)
	return o
}

// put uploads an object until the store confirms it (or the tail stops),
// then advances Shipped over the confirmed prefix.
func (t *Tail) put(o *object) {
	backoff := 50 * time.Millisecond
	for {
		t0 := time.Now()
		n, err := t.upload(o)
		if err == nil {
			t.putSeconds.Observe(time.Since(t0).Seconds())
			t.objects.Inc()
			t.bytesOut.Add(float64(n))
			t.confirm(o)
			return
		}
		if t.ctx.Err() != nil {
			return
		}
		t.errs.Inc()
		t.mu.Lock()
		t.lastErr = err
		t.mu.Unlock()
		t.log.Warn("WAL object upload failed; retrying", "first", o.first(), "last", o.last(), "in", backoff, "err", err)
		select {
		case <-t.stop:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// upload reads an object's bytes from the log and the key journal and puts
// them; the store's answer to a PUT with a Content-MD5 is its confirmation.
func (t *Tail) upload(o *object) (int, error) {
	p0, pn := o.pieces[0], o.pieces[len(o.pieces)-1]
	entries, err := readAt(p0.Path, p0.Off, pn.End)
	if err != nil {
		return 0, err
	}
	keys, err := readAt(t.keysPath, p0.keysOff, pn.keysEnd)
	if err != nil {
		return 0, err
	}
	b := AppendWALObject(make([]byte, 0, walHeaderSize+len(keys)+len(entries)), p0.First, pn.Last, keys, entries)
	key := WALKey(t.cfg.Prefix, t.cfg.Node, p0.First, pn.Last)
	failpoint.Hit("ship.Tail.put")
	_, err = t.client.PutObject(t.ctx, t.cfg.Bucket, key, bytes.NewReader(b), int64(len(b)), putOptions)
	if err != nil {
		return 0, fmt.Errorf("ship: put %s: %w", key, err)
	}
	return len(b), nil
}

// putOptions put a WAL object in one request whose CRC-32C the store checks
// (a trailing checksum: no SHA-256 or MD5 pass over the bytes).
var putOptions = minio.PutObjectOptions{ContentType: "application/octet-stream", DisableMultipart: true,
	DisableContentSha256: true, Checksum: minio.ChecksumCRC32C}

// readAt reads [off, end) of a file.
func readAt(path string, off, end int64) ([]byte, error) {
	if end <= off {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ship: %w", err)
	}
	defer f.Close()
	b := make([]byte, end-off)
	if _, err := f.ReadAt(b, off); err != nil {
		return nil, fmt.Errorf("ship: read %s [%d, %d): %w", path, off, end, err)
	}
	return b, nil
}

// confirm marks o done and moves Shipped over the done prefix.
func (t *Tail) confirm(o *object) {
	t.mu.Lock()
	o.done = true
	t.lastErr = nil
	var last uint64
	n := 0
	for n < len(t.inflight) && t.inflight[n].done {
		last = t.inflight[n].last()
		n++
	}
	t.inflight = append(t.inflight[:0], t.inflight[n:]...)
	t.mu.Unlock()
	if last > t.shipped.Load() {
		t.shipped.Store(last)
		t.saveState(last)
		t.waitMu.Lock()
		close(t.waitCh)
		t.waitCh = make(chan struct{})
		t.waitMu.Unlock()
	}
}

// saveState records Shipped for the next start: a hint (a stale one only
// uploads some entries again), so it is written without a sync, at most
// once a second.
func (t *Tail) saveState(last uint64) {
	now := time.Now().UnixNano()
	if prev := t.savedAt.Load(); now-prev < int64(time.Second) || !t.savedAt.CompareAndSwap(prev, now) {
		return
	}
	failpoint.Hit("ship.Tail.saveState.mkdir")
	err := fsutil.MkdirDurable(filepath.Dir(t.state))
	if err == nil {
		failpoint.Hit("ship.Tail.saveState.write")
		err = fsutil.WriteFileDurable(t.state, []byte(strconv.FormatUint(last, 10)+"\n"))
	}
	if err != nil {
		t.log.Warn("tail state not saved (the next start uploads some entries again)", "err", err)
	}
}

// heartbeat puts the node's liveness object: restore refuses a node whose
// heartbeat is recent, so two live writers never share a node id.
func (t *Tail) heartbeat(ctx context.Context, stopped bool) {
	host, _ := os.Hostname()
	b, _ := json.Marshal(Heartbeat{Node: t.cfg.Node, Host: host, PID: os.Getpid(), Time: time.Now().UTC(),
		Shipped: t.shipped.Load(), Stopped: stopped, Every: t.tc.Heartbeat.String()})
	failpoint.Hit("ship.Tail.heartbeat")
	if _, err := t.client.PutObject(ctx, t.cfg.Bucket, HeartbeatKey(t.cfg.Prefix, t.cfg.Node), bytes.NewReader(b), int64(len(b)),
		minio.PutObjectOptions{ContentType: "application/json"}); err != nil && ctx.Err() == nil {
		t.log.Warn("heartbeat object not written", "err", err)
	}
}

// Heartbeat is the content of a node's heartbeat object.
type Heartbeat struct {
	Node    string    `json:"node"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Time    time.Time `json:"time"`
	Shipped uint64    `json:"shipped_seq"`
	Stopped bool      `json:"stopped"`
	Every   string    `json:"every"`
}

// Prune deletes the WAL objects whose every entry is below low (the caller
// found them in shipped segment objects), after putting the node's key
// journal as it is now, so the keys of pruned entries stay in the bucket.
func (t *Tail) Prune(ctx context.Context, low uint64) (int, error) {
	low = min(low, t.shipped.Load()+1)
	t.mu.Lock()
	cursor := t.cursor
	t.mu.Unlock()
	objs, err := ListWAL(ctx, t.client, t.cfg.Bucket, t.cfg.Prefix, t.cfg.Node, func(o WALObject) bool { return o.First >= low })
	if err != nil {
		return 0, err
	}
	var drop []WALObject
	for _, o := range objs {
		if o.Last < low {
			drop = append(drop, o)
		}
	}
	if len(drop) == 0 {
		return 0, nil
	}
	keys, err := readAt(t.keysPath, 0, cursor)
	if err != nil {
		return 0, err
	}
	failpoint.Hit("ship.Tail.Prune.keys")
	if _, err := t.client.PutObject(ctx, t.cfg.Bucket, KeysKey(t.cfg.Prefix, t.cfg.Node), bytes.NewReader(keys), int64(len(keys)), putOptions); err != nil {
		return 0, fmt.Errorf("ship: put key journal: %w", err)
	}
	for _, o := range drop {
		failpoint.Hit("ship.Tail.Prune.remove")
		if err := t.client.RemoveObject(ctx, t.cfg.Bucket, o.Key, minio.RemoveObjectOptions{}); err != nil {
			return 0, fmt.Errorf("ship: remove %s: %w", o.Key, err)
		}
	}
	return len(drop), nil
}
