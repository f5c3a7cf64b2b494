// Package ship uploads finished days' sealed segment files to S3-compatible
// object storage (minio-go: AWS S3, MinIO, Ceph RGW, SeaweedFS, versitygw,
// GCS's S3 API) under deterministic keys that include the node, so any
// number of nodes share one bucket:
//
//	<prefix>/dt=YYYY-MM-DD/<node>-<kind>-<seq>.ndjson.zst
//	<prefix>/dt=YYYY-MM-DD/<node>.partial.json   the day's report partial
//
// The queue is the data directory itself: a sealed file without a
// "<file>.shipped" marker is still to ship, so the queue survives restarts
// and crashes. A file is shipped when its day has no open part and is either
// compacted to one file or its parts have not changed for an hour. A day's
// partial ships after all its files (and again when it is rewritten). The
// marker is written only after the store confirmed the object (its size
// checked); the local copy is deleted DeleteAfter later, never before. Uploading a compacted file deletes the
// objects of the parts its manifest says it replaces, so the bucket holds
// every record once. A day whose parts stay uncompacted for an hour ships its
// parts. While the store is down, uploads retry with backoff and
// intake goes on; the local disk budget (disk.min_free, 507) protects the box.
package ship

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ingestd/ingestd/internal/failpoint"
	"github.com/ingestd/ingestd/internal/fsutil"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ingestd/ingestd/segment"
)

// MarkerSuffix marks a file whose object the store confirmed.
const MarkerSuffix = ".shipped"

// Config says where and how to ship.
type Config struct {
	Endpoint    string        // host:port
	Secure      bool          // https
	Region      string        // "" for the server's default
	Bucket      string        // must exist
	Prefix      string        // key prefix, may be ""
	AccessKey   string        // or from AWS_ACCESS_KEY_ID
	SecretKey   string        // or from AWS_SECRET_ACCESS_KEY
	Node        string        // this node's id in every key
	DeleteAfter time.Duration // remove the local copy this long after the upload; < 0 keeps it
	// WaitPartials keeps a shipped file until a shipped partial of its day
	// lists it (the daemon computes partials), at most PartialWait longer.
	WaitPartials bool
	Interval     time.Duration // how often the data directory is scanned (10 s)
}

// Shipper uploads in the background. Its counters are read by the metrics.
type Shipper struct {
	cfg     Config
	dataDir string
	client  *minio.Client
	log     *slog.Logger

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
	once sync.Once

	tail      *Tail         // continuous shipping, whose superseded WAL objects a pass prunes; nil: none
	flushed   func() uint64 // every entry up to it is in local segment files
	prunedLow uint64        // the low of the last prune: the next lists the bucket only once it moved
	PrunedWAL atomic.Int64  // WAL objects deleted since start

	Uploaded      atomic.Int64 // objects confirmed
	UploadedBytes atomic.Int64
	Errors        atomic.Int64 // failed uploads (retried)
	BacklogFiles  atomic.Int64
	BacklogBytes  atomic.Int64
	OldestUnix    atomic.Int64 // modification time of the oldest unshipped file; 0: none
}

// New prepares a shipper and registers its gauges in reg (nil: not
// exported); nothing is contacted yet.
func New(dataDir string, cfg Config, reg prometheus.Registerer, log *slog.Logger) (*Shipper, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" || cfg.Node == "" {
		return nil, fmt.Errorf("ship: endpoint, bucket and node id are required")
	}
	if err := segment.CheckNode(cfg.Node); err != nil {
		return nil, fmt.Errorf("ship: %w", err)
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Second
	}
	c, err := Client(cfg)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Shipper{cfg: cfg, dataDir: dataDir, client: c, log: log,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	s.register(reg)
	return s, nil
}

// register exports the shipper's progress.
func (s *Shipper) register(reg prometheus.Registerer) {
	f := promauto.With(reg) // nil: made, not registered
	gauge := func(name, help string, fn func() float64) {
		f.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn)
	}
	gauge("ingestd_ship_backlog_files", "Sealed segment files not yet confirmed by the object store.", func() float64 { return float64(s.BacklogFiles.Load()) })
	gauge("ingestd_ship_backlog_bytes", "Bytes of those files.", func() float64 { return float64(s.BacklogBytes.Load()) })
	gauge("ingestd_ship_uploaded_files", "Objects uploaded and confirmed since start.", func() float64 { return float64(s.Uploaded.Load()) })
	gauge("ingestd_ship_upload_errors", "Failed uploads since start (each retried).", func() float64 { return float64(s.Errors.Load()) })
	gauge("ingestd_ship_oldest_unshipped_age_seconds", "Age of the oldest file not yet shipped (0: none).", func() float64 {
		if t := s.OldestUnix.Load(); t > 0 {
			return time.Since(time.Unix(t, 0)).Seconds()
		}
		return 0
	})
}

// Client returns a client for the store of cfg (endpoint, TLS, region and
// credentials: the keys given, else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY).
func Client(cfg Config) (*minio.Client, error) { return client(cfg, false) }

// client returns a client; with trailers, a PUT can carry its CRC-32C in a
// trailing header, checked by the store, instead of signing a SHA-256 of
// the payload (the cost that matters when the WAL follows every write).
func client(cfg Config, trailers bool) (*minio.Client, error) {
	creds := credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")
	if cfg.AccessKey == "" {
		creds = credentials.NewEnvAWS()
	}
	c, err := minio.New(cfg.Endpoint, &minio.Options{Creds: creds, Secure: cfg.Secure, Region: cfg.Region, TrailingHeaders: trailers})
	if err != nil {
		return nil, fmt.Errorf("ship: %w", err)
	}
	return c, nil
}

// Key returns the object key of a file of day dt (YYYY-MM-DD): the file's
// own name when it carries a node id (every file written since node ids
// exist), else the name prefixed with this node's id.
func Key(prefix, node, dt, file string) string {
	if n, _, ok := segment.ParseName(file); !ok || n == "" {
		file = node + "-" + file
	}
	return dayKey(prefix, dt, file)
}

// dayKey returns <prefix>/dt=<dt>/<name>.
func dayKey(prefix, dt, name string) string {
	k := "dt=" + dt + "/" + name
	if p := strings.Trim(prefix, "/"); p != "" {
		k = p + "/" + k
	}
	return k
}

// SetTail makes the passes prune t's WAL objects once the segment objects
// hold their entries; flushed says up to which sequence the local segment
// files hold every entry. Call before Start.
func (s *Shipper) SetTail(t *Tail, flushed func() uint64) { s.tail, s.flushed = t, flushed }

// prune deletes the WAL objects whose entries are all in shipped segment
// objects: below the lowest sequence of any local file not yet shipped, of
// what is not yet in local files and of what the tail has not shipped. It
// lists the bucket only when that low moved since the last prune (a day
// shipped, the tail caught up after a restart).
func (s *Shipper) prune(ctx context.Context) {
	if s.tail == nil {
		return
	}
	low, err := UnshippedLow(s.dataDir)
	if err != nil {
		s.log.Warn("WAL objects not pruned", "err", err)
		return
	}
	low = min(low, s.flushed()+1, s.tail.Shipped()+1)
	if low <= s.prunedLow {
		return
	}
	n, err := s.tail.Prune(ctx, low)
	if err != nil {
		s.log.Warn("WAL objects not pruned", "err", err)
		return
	}
	s.prunedLow = low
	if n > 0 {
		s.PrunedWAL.Add(int64(n))
		s.log.Info("pruned WAL objects the shipped segments hold", "objects", n, "below", low)
	}
}

// UnshippedLow returns the lowest WAL sequence held by a local segment file
// not yet shipped (open parts included), or the largest uint64 when there
// is none: WAL objects wholly below it are in shipped segment objects. A
// file whose lowest sequence cannot be told gives 0 (prune nothing).
func UnshippedLow(dataDir string) (uint64, error) {
	low := ^uint64(0)
	days, err := segment.ListDays(dataDir)
	if err != nil {
		return 0, err
	}
	for _, d := range days {
		sealed, open, err := segment.DayFiles(d.Dir)
		if err != nil {
			return 0, err
		}
		for _, f := range append(open, sealed...) {
			if strings.HasSuffix(f, segment.SuffixSealed) && shipped(f) {
				continue
			}
			low = min(low, lowestSeq(f))
		}
	}
	return low, nil
}

// lowestSeq is a segment file's lowest sequence: a part's name says it; a
// compacted file's is its parts', listed by its manifest.
func lowestSeq(f string) uint64 {
	if !segment.IsCompacted(f) {
		seq, _ := segment.NameSeq(filepath.Base(f))
		return seq
	}
	names, err := segment.ReadManifest(f)
	if err != nil || len(names) == 0 {
		return 0
	}
	low := ^uint64(0)
	for _, n := range names {
		seq, _ := segment.NameSeq(n)
		low = min(low, seq)
	}
	return low
}

// Start runs the shipping loop.
func (s *Shipper) Start() { go s.loop() }

// Kick asks for a pass now (a day was just finished). It never blocks.
func (s *Shipper) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Close stops the loop, abandoning an upload in progress (its file stays
// unmarked, so it is uploaded again at the next start).
func (s *Shipper) Close() {
	s.once.Do(func() { close(s.stop) })
	<-s.done
}

func (s *Shipper) loop() {
	defer close(s.done)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-s.stop; cancel() }()
	backoff := time.Duration(0)
	for {
		wait := s.cfg.Interval
		if err := s.Pass(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			backoff = min(max(2*backoff, time.Second), 2*time.Minute)
			wait = backoff
			s.log.Warn("shipping failed; retrying", "in", wait, "backlog_files", s.BacklogFiles.Load(), "err", err)
		} else {
			backoff = 0
			s.prune(ctx)
		}
		select {
		case <-s.stop:
			return
		case <-s.kick:
		case <-time.After(wait):
		}
	}
}

// Pass ships what is ready, deletes local copies whose delay is over, and
// updates the backlog. It returns the first upload error.
func (s *Shipper) Pass(ctx context.Context) error {
	days, err := segment.ListDays(s.dataDir)
	if err != nil {
		return err
	}
	var files, bytes, oldest int64
	var first error
	now := time.Now()
	for _, d := range days {
		sealed, open, err := segment.DayFiles(d.Dir)
		if err != nil {
			return err
		}
		compacted := len(sealed) == 1 && segment.IsCompacted(sealed[0])
		ready := len(open) == 0 && (compacted || settled(sealed, now))
		pending, kept := 0, 0
		var listed map[string]bool // files listed by the day's shipped partials, read when first needed
		covered := func() map[string]bool {
			if listed == nil {
				listed = shippedPartialInputs(d.Dir)
			}
			return listed
		}
		for _, f := range sealed {
			if shipped(f) {
				if !s.maybeDelete(f, now, covered) {
					kept++
				}
				continue
			}
			pending++
			st, err := os.Stat(f)
			if err != nil {
				continue
			}
			if ready && first == nil {
				if err := s.upload(ctx, d, f, st.Size()); err != nil {
					s.Errors.Add(1)
					first = err
				} else {
					continue
				}
			}
			files++
			bytes += st.Size()
			if t := st.ModTime().Unix(); oldest == 0 || t < oldest {
				oldest = t
			}
		}
		// The day's report partials follow its files (a reader uses one only
		// while every file it lists is there), and go with the last local copy.
		for _, p := range partialFiles(d.Dir) {
			switch state, ok := partialState(p); {
			case !ok:
			case shippedPartial(p, state):
				failpoint.Hit("ship.Pass.remove")
				if kept == 0 && pending == 0 && s.cfg.DeleteAfter >= 0 && os.Remove(p) == nil {
					failpoint.Hit("ship.Pass.remove.2")
					os.Remove(p + MarkerSuffix)
				}
			case ready && pending == 0 && first == nil:
				if err := s.uploadPartial(ctx, d, p, state); err != nil {
					s.Errors.Add(1)
					first = err
				}
			}
		}
	}
	s.BacklogFiles.Store(files)
	s.BacklogBytes.Store(bytes)
	s.OldestUnix.Store(oldest)
	return first
}

// settled reports whether a day's parts have not changed for an hour: a day
// whose compaction failed or is off ships its parts as they are.
func settled(sealed []string, now time.Time) bool {
	for _, f := range sealed {
		if st, err := os.Stat(f); err != nil || now.Sub(st.ModTime()) < time.Hour {
			return false
		}
	}
	return len(sealed) > 0
}

func shipped(f string) bool {
	_, err := os.Stat(f + MarkerSuffix)
	return err == nil
}

func (s *Shipper) upload(ctx context.Context, d segment.Day, f string, size int64) error {
	dt := d.Start.Format(time.DateOnly)
	key := Key(s.cfg.Prefix, s.cfg.Node, dt, filepath.Base(f))
	failpoint.Hit("ship.upload.put")
	info, err := s.client.FPutObject(ctx, s.cfg.Bucket, key, f, minio.PutObjectOptions{
		ContentType: "application/zstd", PartSize: 64 << 20, SendContentMd5: true})
	if err != nil {
		return fmt.Errorf("ship: upload %s to %s: %w", f, key, err)
	}
	st, err := s.client.StatObject(ctx, s.cfg.Bucket, key, minio.StatObjectOptions{})
	if err != nil || st.Size != size {
		return fmt.Errorf("ship: %s: the store does not confirm %d bytes (stat %d, %v)", key, size, st.Size, err)
	}
	// A compacted file replaces parts that may have been shipped before.
	if segment.IsCompacted(f) {
		if names, err := segment.ReadManifest(f); err == nil {
			for _, n := range names {
				if n == filepath.Base(f) {
					continue
				}
				failpoint.Hit("ship.upload.removereplaced")
				if err := s.client.RemoveObject(ctx, s.cfg.Bucket, Key(s.cfg.Prefix, s.cfg.Node, dt, n), minio.RemoveObjectOptions{}); err != nil {
					return fmt.Errorf("ship: remove replaced %s: %w", n, err)
				}
				failpoint.Hit("ship.upload.remove")
				os.Remove(filepath.Join(d.Dir, n+MarkerSuffix))
			}
		}
	}
	failpoint.Hit("ship.upload.writefile")
	if err := os.WriteFile(f+MarkerSuffix, []byte(key+" "+info.ETag+"\n"), 0o600); err != nil {
		return fmt.Errorf("ship: marker: %w", err)
	}
	failpoint.Hit("ship.upload.syncdir")
	fsutil.SyncDir(d.Dir)
	s.Uploaded.Add(1)
	s.UploadedBytes.Add(size)
	s.log.Info("shipped", "file", f, "key", key, "bytes", size)
	return nil
}

// PartialWait is how much longer than DeleteAfter a shipped file waits for
// a partial that lists it (WaitPartials) before it is removed anyway.
const PartialWait = time.Hour

// maybeDelete removes a shipped file's local copy once its delay is over
// (and, with WaitPartials, once a shipped partial lists it); it reports
// whether the file is gone.
func (s *Shipper) maybeDelete(f string, now time.Time, covered func() map[string]bool) bool {
	if s.cfg.DeleteAfter < 0 {
		return false
	}
	st, err := os.Stat(f + MarkerSuffix)
	if err != nil || now.Sub(st.ModTime()) < s.cfg.DeleteAfter {
		return false
	}
	if s.cfg.WaitPartials && now.Sub(st.ModTime()) < s.cfg.DeleteAfter+PartialWait && !covered()[filepath.Base(f)] {
		return false
	}
	failpoint.Hit("ship.maybeDelete.remove")
	if err := os.Remove(f); err != nil {
		return false
	}
	s.log.Info("local copy removed after shipping", "file", f)
	return true
}

// partialFiles lists a day's node-named partials. The partial written before
// node ids (report.partial.json) lists unprefixed names and is not shipped.
func partialFiles(dir string) []string {
	names, _ := segment.ReportPartials(dir)
	out := names[:0]
	for _, p := range names {
		if filepath.Base(p) != segment.LegacyReportPartial {
			out = append(out, p)
		}
	}
	return out
}

// partialState is what a partial's marker records: its size and modification
// time when it was uploaded. A partial rewritten since then ships again.
func partialState(p string) (string, bool) {
	st, err := os.Stat(p)
	if err != nil {
		return "", false
	}
	return fmt.Sprintf("%d %d", st.Size(), st.ModTime().UnixNano()), true
}

// shippedPartialInputs returns the files listed by a day's shipped partials.
func shippedPartialInputs(dir string) map[string]bool {
	out := map[string]bool{}
	for _, p := range partialFiles(dir) {
		state, ok := partialState(p)
		if !ok || !shippedPartial(p, state) {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var in struct {
			Inputs []struct {
				Name string `json:"name"`
			} `json:"inputs"`
		}
		if json.Unmarshal(b, &in) == nil {
			for _, i := range in.Inputs {
				out[i.Name] = true
			}
		}
	}
	return out
}

func shippedPartial(p, state string) bool {
	b, err := os.ReadFile(p + MarkerSuffix)
	return err == nil && strings.HasPrefix(string(b), state+" ")
}

func (s *Shipper) uploadPartial(ctx context.Context, d segment.Day, p, state string) error {
	key := dayKey(s.cfg.Prefix, d.Start.Format(time.DateOnly), filepath.Base(p))
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("ship: %w", err)
	}
	failpoint.Hit("ship.uploadPartial.put")
	if _, err := s.client.PutObject(ctx, s.cfg.Bucket, key, bytes.NewReader(b), int64(len(b)),
		minio.PutObjectOptions{ContentType: "application/json", SendContentMd5: true}); err != nil {
		return fmt.Errorf("ship: upload %s to %s: %w", p, key, err)
	}
	failpoint.Hit("ship.uploadPartial.writefile")
	if err := os.WriteFile(p+MarkerSuffix, []byte(state+" "+key+"\n"), 0o600); err != nil {
		return fmt.Errorf("ship: marker: %w", err)
	}
	s.log.Info("shipped partial", "file", p, "key", key, "bytes", len(b))
	return nil
}
