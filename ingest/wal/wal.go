package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ingestd/ingestd/internal/failpoint"
	"github.com/ingestd/ingestd/internal/fsutil"

	"github.com/klauspost/compress/s2"
)

// SyncMode says when an entry counts as committed.
type SyncMode string

// Sync modes; see the README for the loss window of each.
const (
	SyncAlways   SyncMode = "always"   // after fdatasync: survives power loss
	SyncInterval SyncMode = "interval" // after write(2); fdatasync every Interval: survives a process crash
	SyncNever    SyncMode = "never"    // after write(2); the kernel writes back when it likes
)

// ParseSyncMode validates a mode name.
func ParseSyncMode(s string) (SyncMode, error) {
	switch m := SyncMode(s); m {
	case SyncAlways, SyncInterval, SyncNever:
		return m, nil
	}
	return "", fmt.Errorf("wal: unknown fsync mode %q (want always, interval or never)", s)
}

// Options configure a WAL whose entries carry a meta of type M: what the
// consumer needs at commit about each entry (for ingest, the request). The
// log stores only the payload bytes; metas live in memory until commit.
// Zero values mean the defaults.
type Options[M any] struct {
	Dir        string
	Sync       SyncMode      // default SyncAlways
	Interval   time.Duration // SyncInterval period; default 100ms
	FileSize   int64         // rotate after this many bytes; default 64 MiB
	NoCompress bool          // store payloads as they are
	// OnCommit is called by the writer goroutine for every entry, in
	// sequence order, once it is committed and before its Append returns.
	OnCommit func(seq uint64, meta M)
	// PreCommit, when set, is called by the writer goroutine with the
	// sequence of the batch's first entry and every entry's meta, before the
	// batch is written; an error fails the whole batch. What it makes
	// durable first is durable whenever the entries are.
	PreCommit func(first uint64, metas []M) error
	// OnSync, when set, observes every fdatasync's duration.
	OnSync func(time.Duration)
	// Fdatasync, when set, replaces the sync call (tests inject failures
	// through it, per WAL, so they can run in parallel).
	Fdatasync func(*os.File) error
	// OnDurable, when set, is called by the writer goroutine with every run
	// of entries once it is durable as Sync says (SyncAlways: after the
	// batch's fdatasync; SyncInterval: after the periodic one; SyncNever:
	// after the write), in sequence order, each run within one file. The
	// bytes stay in the file until Release passes them.
	OnDurable func(Range)
}

// Range is a run of whole entries in one log file: the bytes [Off, End) of
// Path hold the entries First..Last.
type Range struct {
	Path        string
	Off, End    int64
	First, Last uint64
}

const (
	entryHdr     = 8 // length + crc
	bodyHdr      = 9 // seq + flags
	flagS2       = 1
	maxEntry     = 1 << 30
	maxBatchSize = 32 << 20 // bytes gathered into one write
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors.
var (
	ErrClosed = errors.New("wal: closed")
	ErrFailed = errors.New("wal: failed earlier; restart to recover")
)

// CorruptionError is damage in the log that is not a torn tail.
type CorruptionError struct {
	Path   string
	Offset int64
	Err    error
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("wal: corruption in %s at offset %d: %v", e.Path, e.Offset, e.Err)
}

func (e *CorruptionError) Unwrap() error { return e.Err }

type file struct {
	first uint64 // first sequence it holds (its name)
	path  string
}

type request[M any] struct {
	payload []byte // the entry's payload as stored: own, or the caller's
	own     []byte // the request's s2 buffer, kept with it in the pool
	flags   byte
	meta    M
	seq     uint64
	err     error
	done    chan struct{}
}

// WAL is an open write-ahead log of entries with metas of type M. Append
// is safe for concurrent use.
type WAL[M any] struct {
	opts Options[M]

	mu    sync.Mutex // guards files
	files []file     // oldest first; the last is the active file

	// owned by the writer goroutine after Start
	f        *os.File
	size     int64
	next     uint64 // sequence of the next entry
	fileLast uint64 // sequence of the last entry in the newest file at Open (its first-1 when empty)
	last     uint64 // sequence of the last entry written
	err      error  // sticky write/sync failure (read under errMu by others)
	metas    []M    // PreCommit scratch, owned by the writer goroutine
	pend     Range  // written, not yet reported to OnDurable (Last == 0: none)

	errMu   sync.Mutex
	reqs    chan *request[M]
	stop    chan struct{}
	stopped chan struct{}
	started bool
	pool    sync.Pool
}

// Open opens the log in opts.Dir (creating it), cuts a torn tail off the
// newest file and positions the log after its last entry. Older files are
// checked when Replay reads them.
func Open[M any](opts Options[M]) (*WAL[M], TailReport, error) {
	var rep TailReport
	if opts.Sync == "" {
		opts.Sync = SyncAlways
	}
	if opts.Interval <= 0 {
		opts.Interval = 100 * time.Millisecond
	}
	if opts.FileSize <= 0 {
		opts.FileSize = 64 << 20
	}
	failpoint.Hit("wal.Open.mkdirdurable")
	if err := fsutil.MkdirDurable(opts.Dir); err != nil {
		return nil, rep, fmt.Errorf("wal: mkdir %s: %w", opts.Dir, err)
	}
	w := &WAL[M]{opts: opts, next: 1, fileLast: 0, reqs: make(chan *request[M], 1024), stop: make(chan struct{}), stopped: make(chan struct{})}
	files, err := listFiles(opts.Dir)
	if err != nil {
		return nil, rep, err
	}
	w.files = files
	if len(files) == 0 {
		return w, rep, nil
	}
	lastF := files[len(files)-1]
	w.next = lastF.first
	var lastSeq uint64
	end, torn, err := scanFile(lastF.path, lastF.first, func(seq uint64, _ byte, _ []byte) error {
		lastSeq = seq
		return nil
	})
	if err != nil {
		return nil, rep, err
	}
	if lastSeq > 0 {
		w.next, w.last = lastSeq+1, lastSeq
	} else if lastF.first > 0 {
		w.last = lastF.first - 1
	}
	w.fileLast = w.last
	if torn != "" {
		f, err := os.OpenFile(lastF.path, os.O_RDWR, 0)
		if err != nil {
			return nil, rep, fmt.Errorf("wal: open %s: %w", lastF.path, err)
		}
		st, _ := f.Stat()
		rep = TailReport{Path: lastF.path, Offset: end, Cut: st.Size() - end, Reason: torn}
		failpoint.Hit("wal.Open.truncate")
		err = f.Truncate(end)
		f.Close()
		if err != nil {
			return nil, rep, fmt.Errorf("wal: truncate %s: %w", lastF.path, err)
		}
	}
	// After a kill -9 the page cache still holds entries that were written
	// but never synced, and the scans above read them as if they were on
	// disk: recovery replays them and the idempotency journal answers
	// their keys with success. They are made durable before either can
	// happen, or a power cut later would take back what was answered.
	for _, f := range files {
		if err := syncFile(f.path); err != nil {
			return nil, rep, err
		}
	}
	failpoint.Hit("wal.Open.syncdir")
	if err := fsutil.SyncDir(opts.Dir); err != nil {
		return nil, rep, fmt.Errorf("wal: %w", err)
	}
	return w, rep, nil
}

// syncFile fsyncs the file at path.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("wal: open %s: %w", path, err)
	}
	defer f.Close()
	failpoint.Hit("wal.syncFile.sync")
	if err := f.Sync(); err != nil {
		return fmt.Errorf("wal: sync %s: %w", path, err)
	}
	return nil
}

// TailReport says what Open cut off.
type TailReport struct {
	Path   string
	Offset int64
	Cut    int64
	Reason string
}

func listFiles(dir string) ([]file, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("wal: list %s: %w", dir, err)
	}
	var out []file
	for _, e := range ents {
		n := e.Name()
		if !strings.HasSuffix(n, ".wal") {
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(n, ".wal"), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("wal: unexpected file %s in %s", n, dir)
		}
		out = append(out, file{first: seq, path: filepath.Join(dir, n)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].first < out[j].first })
	return out, nil
}

func fileName(dir string, first uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%016x.wal", first))
}

// LastSeq returns the sequence of the last entry in the log (0 if none).
func (w *WAL[M]) LastSeq() uint64 { return w.next - 1 }

// SetNext raises the next sequence to at least seq (the daemon passes one
// more than the highest sequence its segments hold, in case the log was
// emptied). Call before Start.
func (w *WAL[M]) SetNext(seq uint64) {
	if seq > w.next {
		w.next = seq
		w.last = seq - 1
	}
}

// Start opens the active file for appending and starts the writer.
func (w *WAL[M]) Start() error {
	if w.started {
		return errors.New("wal: started twice")
	}
	// Continue the newest file if its name still matches the sequence; an
	// emptied log starts a new file named after the next sequence.
	if n := len(w.files); n > 0 && w.files[n-1].first <= w.next && w.next == w.fileLast+1 {
		f, err := os.OpenFile(w.files[n-1].path, os.O_RDWR|os.O_APPEND, 0)
		if err != nil {
			return fmt.Errorf("wal: open %s: %w", w.files[n-1].path, err)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return fmt.Errorf("wal: stat %s: %w", w.files[n-1].path, err)
		}
		w.f, w.size = f, st.Size()
	} else if err := w.create(w.next); err != nil {
		return err
	}
	w.started = true
	go w.run()
	return nil
}

// create makes a new active file named first and syncs the directory.
func (w *WAL[M]) create(first uint64) error {
	p := fileName(w.opts.Dir, first)
	failpoint.Hit("wal.create.openfile")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("wal: create %s: %w", p, err)
	}
	failpoint.Hit("wal.create.syncdir")
	if err := fsutil.SyncDir(w.opts.Dir); err != nil {
		f.Close()
		return err
	}
	w.f, w.size = f, 0
	w.mu.Lock()
	if n := len(w.files); n == 0 || w.files[n-1].first != first {
		w.files = append(w.files, file{first: first, path: p})
	}
	w.mu.Unlock()
	return nil
}

// Append commits one entry and returns its sequence once it is committed
// per the sync mode. The caller's payload is s2-compressed (unless
// NoCompress) and is not retained after Append returns.
func (w *WAL[M]) Append(payload []byte, meta M) (uint64, error) {
	return w.append(payload, meta, !w.opts.NoCompress)
}

// AppendPacked is Append for a payload that is compressed already (zstd
// frames): it is stored as it is, without s2, and without a copy (the
// writer reads it before Append returns).
func (w *WAL[M]) AppendPacked(payload []byte, meta M) (uint64, error) {
	return w.append(payload, meta, false)
}

func (w *WAL[M]) append(payload []byte, meta M, s2ed bool) (uint64, error) {
	if len(payload) > maxEntry-bodyHdr {
		return 0, fmt.Errorf("wal: entry of %d bytes too large", len(payload))
	}
	r, _ := w.pool.Get().(*request[M])
	if r == nil {
		r = &request[M]{done: make(chan struct{}, 1)}
	}
	if s2ed {
		r.own = s2.Encode(r.own[:cap(r.own)], payload)
		r.payload, r.flags = r.own, flagS2
	} else {
		r.payload, r.flags = payload, 0
	}
	r.meta, r.err, r.seq = meta, nil, 0
	select {
	case w.reqs <- r:
	case <-w.stop:
		r.payload = nil
		return 0, ErrClosed
	}
	<-r.done
	seq, err := r.seq, r.err
	var zero M
	r.meta, r.payload = zero, nil
	w.pool.Put(r)
	return seq, err
}

// Err returns the sticky failure, if any.
func (w *WAL[M]) Err() error {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	return w.err
}

func (w *WAL[M]) setErr(err error) {
	w.errMu.Lock()
	w.err = err
	w.errMu.Unlock()
}

// run is the writer goroutine: group commit.
func (w *WAL[M]) run() {
	defer close(w.stopped)
	var (
		batch []*request[M]
		buf   []byte
		dirty bool
	)
	var tick <-chan time.Time
	if w.opts.Sync == SyncInterval {
		t := time.NewTicker(w.opts.Interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		var r *request[M]
		select {
		case r = <-w.reqs:
		case <-tick:
			if dirty && w.err == nil {
				if err := w.fsync(); err != nil {
					w.setErr(fmt.Errorf("%w: %w", ErrFailed, err))
				} else {
					w.durable()
				}
				dirty = false
			}
			continue
		case <-w.stop:
			// drain what is queued, then sync and stop
			for {
				select {
				case r = <-w.reqs:
					batch = append(batch[:0], r)
					buf = w.commit(batch, buf)
					continue
				default:
				}
				break
			}
			if w.err == nil && (w.opts.Sync == SyncNever || w.fsync() == nil) {
				w.durable()
			}
			w.f.Close()
			return
		}
		batch = append(batch[:0], r)
		size := len(r.payload)
	gather:
		for size < maxBatchSize {
			select {
			case r = <-w.reqs:
				batch = append(batch, r)
				size += len(r.payload)
			default:
				break gather
			}
		}
		buf = w.commit(batch, buf)
		dirty = w.opts.Sync == SyncInterval
	}
}

// commit writes a batch with one write (and one fdatasync in SyncAlways),
// then applies and answers each entry in order.
func (w *WAL[M]) commit(batch []*request[M], buf []byte) []byte {
	fail := func(err error) []byte {
		for _, r := range batch {
			r.err = err
			r.done <- struct{}{}
		}
		return buf
	}
	if err := w.Err(); err != nil {
		return fail(err)
	}
	first := w.next
	if w.opts.PreCommit != nil {
		w.metas = w.metas[:0]
		for _, r := range batch {
			w.metas = append(w.metas, r.meta)
		}
		if err := w.opts.PreCommit(first, w.metas); err != nil {
			return fail(err)
		}
	}
	buf = buf[:0]
	for i, r := range batch {
		seq := first + uint64(i)
		start := len(buf)
		buf = append(buf, make([]byte, entryHdr+bodyHdr)...)
		binary.LittleEndian.PutUint64(buf[start+entryHdr:], seq)
		buf[start+entryHdr+8] = r.flags
		buf = append(buf, r.payload...)
		body := buf[start+entryHdr:]
		binary.LittleEndian.PutUint32(buf[start:], uint32(len(body)))
		binary.LittleEndian.PutUint32(buf[start+4:], crc32.Checksum(body, castagnoli))
	}
	if w.size > 0 && w.size+int64(len(buf)) > w.opts.FileSize {
		if err := w.rotate(first); err != nil {
			w.setErr(fmt.Errorf("%w: %w", ErrFailed, err))
			return fail(w.Err())
		}
	}
	failpoint.Hit("wal.commit.write")
	off := w.size
	n, err := w.f.Write(buf)
	w.size += int64(n)
	if err == nil && w.opts.Sync == SyncAlways {
		err = w.fsync()
	}
	if err != nil {
		// The file may hold part of the batch; nobody was answered, and the
		// log refuses further entries until a restart truncates it.
		w.setErr(fmt.Errorf("%w: %w", ErrFailed, err))
		return fail(w.Err())
	}
	w.next = first + uint64(len(batch))
	w.last = w.next - 1
	if w.pend.Last == 0 {
		w.pend = Range{Path: w.f.Name(), Off: off, First: first}
	}
	w.pend.End, w.pend.Last = w.size, w.last
	if w.opts.Sync != SyncInterval {
		w.durable()
	}
	for i, r := range batch {
		r.seq = first + uint64(i)
		if w.opts.OnCommit != nil {
			w.opts.OnCommit(r.seq, r.meta)
		}
	}
	for _, r := range batch {
		r.done <- struct{}{}
	}
	return buf
}

// fdatasync is the sync call unless Options.Fdatasync replaces it.
func fdatasync(f *os.File) error {
	failpoint.Hit("wal.fdatasync")
	return fsutil.Fdatasync(f)
}

// fsync makes the current file's writes durable. A failure is never retried
// on the same file: after a failed fsync the kernel may have dropped the
// dirty pages and marked them clean, so a second fsync could "succeed"
// without the data. The error is sticky (setErr); the daemon stops
// acknowledging and a restart recovers from what is really on disk.
func (w *WAL[M]) fsync() error {
	t := time.Now()
	sync := fdatasync
	if w.opts.Fdatasync != nil {
		sync = w.opts.Fdatasync
	}
	err := sync(w.f)
	if w.opts.OnSync != nil {
		w.opts.OnSync(time.Since(t))
	}
	if err != nil {
		return fmt.Errorf("wal: fdatasync %s: %w", w.f.Name(), err)
	}
	return nil
}

// durable reports the pending run to OnDurable.
func (w *WAL[M]) durable() {
	if w.pend.Last != 0 && w.opts.OnDurable != nil {
		w.opts.OnDurable(w.pend)
	}
	w.pend = Range{}
}

func (w *WAL[M]) rotate(first uint64) error {
	if w.opts.Sync != SyncNever {
		if err := w.fsync(); err != nil {
			return err
		}
	}
	w.durable() // a run never spans files
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("wal: close %s: %w", w.f.Name(), err)
	}
	return w.create(first)
}

// Release says every entry up to and including seq is durable elsewhere;
// files holding only such entries are deleted (never the active one).
func (w *WAL[M]) Release(seq uint64) error {
	w.mu.Lock()
	var drop []file
	for len(w.files) > 1 && w.files[1].first-1 <= seq {
		drop = append(drop, w.files[0])
		w.files = w.files[1:]
	}
	w.mu.Unlock()
	for _, f := range drop {
		failpoint.Hit("wal.Release.remove")
		if err := os.Remove(f.path); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("wal: remove %s: %w", f.path, err)
		}
	}
	if len(drop) > 0 {
		failpoint.Hit("wal.Release.syncdir")
		return fsutil.SyncDir(w.opts.Dir)
	}
	return nil
}

// Files returns how many log files exist.
func (w *WAL[M]) Files() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.files)
}

// Close stops the writer after the queued entries and syncs. Appends after
// Close fail with ErrClosed.
func (w *WAL[M]) Close() error {
	if !w.started {
		return nil
	}
	select {
	case <-w.stop:
		return nil
	default:
	}
	close(w.stop)
	<-w.stopped
	return w.Err()
}

// Empty, after Close, replaces the log by one empty file named after the
// next sequence: the caller has made every entry durable elsewhere. The new
// file is created and the directory synced before the old files go, so the
// next sequence is never forgotten.
func (w *WAL[M]) Empty() error {
	w.mu.Lock()
	old := append([]file(nil), w.files...)
	w.mu.Unlock()
	if len(old) == 1 && old[0].first == w.next {
		return nil
	}
	if err := w.create(w.next); err != nil {
		return err
	}
	w.f.Close()
	for _, f := range old {
		if f.first == w.next {
			continue
		}
		failpoint.Hit("wal.Empty.remove")
		if err := os.Remove(f.path); err != nil {
			return fmt.Errorf("wal: remove %s: %w", f.path, err)
		}
	}
	w.mu.Lock()
	w.files = []file{{first: w.next, path: fileName(w.opts.Dir, w.next)}}
	w.mu.Unlock()
	failpoint.Hit("wal.Empty.syncdir")
	return fsutil.SyncDir(w.opts.Dir)
}
