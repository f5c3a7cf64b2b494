package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ingestd/ingestd/record"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ingestd/ingestd/internal/failpoint"
	"github.com/ingestd/ingestd/internal/fsutil"

	"github.com/ingestd/ingestd/ingest/store"
	"github.com/ingestd/ingestd/ingest/wal"
)

// Core is the intake core: authorization, budgets, the record rules, the
// WAL with group commit, the idempotency journal, the rejected-lines store
// and the day store. It knows nothing of HTTP: a protocol's handler calls
// Begin, then Write.Commit, and renders the typed result or error (see
// package adapter). Create it with New, open intake with Recover, stop it
// with Shutdown.
type Core struct {
	cfg   Config
	rules record.Rules
	log   *slog.Logger
	m     *metrics
	store *store.Store
	wal   atomic.Pointer[wal.WAL[*reqState]] // set once recovery has opened it
	keys  *Keys                              // set by Recover before the WAL writer starts

	parsers sync.Pool // *record.Parser
	batches sync.Pool // *reqState
	ready   atomic.Bool
	closing atomic.Bool
	// The disk's state, kept by watchDisk every second; the gauges and
	// /readyz read it.
	diskFree atomic.Int64
	diskLow  atomic.Bool
	failed   atomic.Bool // a storage failure was seen (and logged, once)
	prods    atomic.Pointer[producers]
	rejected atomic.Pointer[rejectedStore] // nil: rejected lines are not kept
	retry    int                           // Retry-After seconds

	tail       Tail // nil: the WAL is not shipped (no storage)
	ackBucket  bool // storage.ack: bucket: answers wait for tail
	ackTimeout time.Duration

	feed Feed // durable records for the read API's tail
}

// reqState is the per-request scratch memory, pooled. It is the meta of
// the request's WAL entry.
type reqState struct {
	batch   record.Batch
	recs    []byte              // records an adapter translated from its envelope
	payload []byte              // the request's WAL entry (format 2: frames made here)
	entry   record.EntryScratch // for building payload
	resp    []byte              // with a key: the success answer journaled with it
	key     string              // Idempotency-Key, "" when none
	digest  uint64              // with a key: of the request (see Keys), journaled with it
	seq     uint64              // the WAL entry, once committed
}

// OnDayDone registers fn to be told of each finished day whose files are
// final (compacted), e.g. to compute its report partial. fn must not block.
// Call it before Recover.
func (s *Core) OnDayDone(fn func(dir string)) { s.store.OnDayDone(fn) }

// New validates cfg and prepares a core; nothing is read from disk yet. The
// core and its store register their metrics in reg (nil: not exported).
func New(cfg Config, reg prometheus.Registerer, log *slog.Logger) (*Core, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	s := &Core{cfg: cfg, rules: cfg.Rules, log: log, m: newMetrics(reg),
		retry: int((cfg.RetryAfter + time.Second - 1) / time.Second)}
	s.prods.Store(newProducers(cfg.Tokens, nil, &s.m.tallies))
	st, err := store.New(store.Config{DataDir: cfg.DataDir, Node: cfg.Node, BlockSize: int(cfg.BlockSize), CompactBlockSize: int(cfg.CompactBlockSize), BlockAge: cfg.BlockAge,
		SealGrace: cfg.SealGrace, SealIdle: cfg.SealIdle, Level: cfg.Level, CompactLevel: cfg.CompactLevel,
		FlushWorkers: cfg.FlushWorkers, MaxBuffered: cfg.MaxBuffered,
		RetainDays: cfg.RetainDays, RetainBytes: cfg.RetainBytes}, reg, log)
	if err != nil {
		return nil, err
	}
	s.store = st
	if reg != nil {
		gauge(reg, "ingestd_disk_free_bytes", "Free bytes on the data directory's file system (checked every second).", func() float64 { return float64(s.diskFree.Load()) })
		gauge(reg, "ingestd_disk_low", "1 while free space is under disk.min_free and intake answers 507.", func() float64 { return bool01(s.diskLow.Load()) })
		gauge(reg, "ingestd_storage_failed", "1 once a WAL or segment write or fsync failed: intake is stopped until a restart.", func() float64 { return bool01(s.failed.Load()) })
		gauge(reg, "ingestd_wal_files", "Write-ahead log files on disk.", func() float64 { // /metrics answers during recovery too
			if w := s.wal.Load(); w != nil {
				return float64(w.Files())
			}
			return 0
		})
	}
	s.parsers.New = func() any { return record.NewParser(s.rules) }
	s.batches.New = func() any { return &reqState{} }
	return s, nil
}

// RejectRequest counts a whole request an adapter refused with 400 for
// reason (one of record.Reasons) before it reached the core.
func (s *Core) RejectRequest(reason string) { s.m.rejectRequest(reason) }

// RetryAfter is the Retry-After, in seconds, of a 503 (http.retry_after).
func (s *Core) RetryAfter() int { return s.retry }

// Recover repairs the data directory, replays the WAL into the buffers and
// opens intake (/readyz turns 200). Corruption that is not a torn tail
// returns a *StartupError naming the file, offset and repair command.
func (s *Core) Recover() error {
	t0 := time.Now()
	failpoint.Hit("ingest.Recover.mkdirdurable")
	if err := fsutil.MkdirDurable(s.cfg.DataDir); err != nil {
		return fmt.Errorf("ingest: data dir %s: %w", s.cfg.DataDir, err)
	}
	if s.cfg.KeepRejected {
		r, err := openRejected(RejectedDir(s.cfg.DataDir), s.cfg.MaxRejected, s.log, s.m)
		if err != nil {
			return err
		}
		s.rejected.Store(r)
	}
	rep, err := s.store.Recover()
	if err != nil {
		return err
	}
	mode := s.cfg.Fsync
	w, tail, err := wal.Open(wal.Options[*reqState]{
		Dir: filepath.Join(s.cfg.DataDir, "wal"), Sync: mode, Interval: s.cfg.FsyncInterval,
		FileSize: s.cfg.WALFileSize, NoCompress: s.cfg.WALNoCompress,
		OnCommit: s.commit, OnSync: s.m.observeFsync, OnDurable: s.onDurable,
		PreCommit: func(first uint64, metas []*reqState) error { return s.keys.preCommit(first, metas) },
	})
	if err != nil {
		return s.startupErr(err)
	}
	if tail.Cut > 0 {
		s.log.Warn("cut torn tail of WAL", "file", tail.Path, "offset", tail.Offset, "bytes", tail.Cut, "reason", tail.Reason)
	}
	var replayed int
	if err := w.Replay(func(seq uint64, p []byte) error { replayed++; return s.store.Replay(seq, p) }); err != nil {
		return s.startupErr(err)
	}
	w.SetNext(max(w.LastSeq(), rep.MaxSeq) + 1)
	keys, err := OpenKeys(s.cfg.DataDir, s.cfg.KeyWindow, s.cfg.MaxKeys, mode == wal.SyncAlways, w.LastSeq(), time.Now())
	if err != nil {
		return err
	}
	s.keys = keys
	var rel store.Releaser = w
	if s.tail != nil {
		// What a previous process wrote may not be in the bucket yet.
		rs, err := wal.Ranges(filepath.Join(s.cfg.DataDir, "wal"), s.tail.Shipped())
		if err != nil {
			return s.startupErr(err)
		}
		s.tail.Resume(rs, keys.size)
		rel = shippedReleaser{w, s.tail}
	}
	if err := w.Start(); err != nil {
		return err
	}
	s.wal.Store(w)
	// Everything up to the log's end is in the segments or was just
	// replayed into the buffers: the durable watermark starts there, not
	// at 0 (else a start without traffic could not empty the log on stop).
	s.store.Attach(rel, w.LastSeq())
	d := time.Since(t0)
	s.m.recovery.Store(int64(d))
	s.log.Info("recovered", "days", rep.Days, "open_parts", rep.OpenParts, "cut_bytes", rep.CutBytes,
		"wal_entries_read", replayed, "buffered_bytes", s.store.Buffered(), "duration", d.Round(time.Millisecond))
	s.checkDisk()
	go s.watchDisk()
	s.ready.Store(true)
	return nil
}

// StartupError stops the daemon's start: corruption that is not a torn
// tail (in the WAL or the segments), with the command that repairs it.
type StartupError = store.StartupError

func (s *Core) startupErr(err error) error {
	var ce *wal.CorruptionError
	if errors.As(err, &ce) {
		return &StartupError{Err: err, Hint: fmt.Sprintf("run `ingestd repair --data-dir %s` to cut the WAL at the damage (a copy is kept as *.broken); entries after it are lost unless already in segments", s.cfg.DataDir)}
	}
	return err
}

// commit is the WAL's OnCommit: it runs on the WAL writer goroutine, in
// sequence order, and moves the request's records (its entry's frames) into
// the day buffers.
func (s *Core) commit(seq uint64, st *reqState) {
	s.store.ApplyEntry(seq, st.payload)
}

// Closing turns intake away (503 "shutting down") before the HTTP layer
// stops; Shutdown calls it too.
func (s *Core) Closing() {
	s.closing.Store(true)
	s.ready.Store(false)
}

// Shutdown flushes and seals every buffer and part and empties the WAL.
// Call it once the HTTP layer answered the requests in flight.
func (s *Core) Shutdown(ctx context.Context) error {
	s.Closing()
	if r := s.rejected.Load(); r != nil {
		r.close()
	}
	w := s.wal.Load()
	if w == nil { // never recovered
		return nil
	}
	walErr := w.Close()
	if err := s.store.Close(); err != nil {
		return fmt.Errorf("ingest: flush on stop: %w (the WAL keeps the data; it is replayed on the next start)", err)
	}
	s.keys.Close()
	if walErr != nil {
		return walErr
	}
	if d, last := s.store.Durable(), w.LastSeq(); d < last {
		return fmt.Errorf("ingest: BUG: after flushing, segments hold up to %d of %d; WAL kept", d, last)
	}
	if s.tail != nil {
		// The segments are not in the bucket before the day is finished:
		// the WAL's last entries must be, before the log is emptied.
		if err := s.tail.Drain(ctx); err != nil {
			s.log.Warn("WAL kept: its last entries are not in the bucket yet (they ship at the next start)", "err", err)
			return nil
		}
	}
	return w.Empty()
}

func (s *Core) failure() error {
	err := s.store.Failed()
	if w := s.wal.Load(); err == nil && w != nil {
		err = w.Err()
	}
	if err != nil && s.failed.CompareAndSwap(false, true) {
		s.log.Error("STORAGE FAILED: intake stopped (writes answer 507 storage_failed); acknowledged data is safe in the WAL and segments; "+
			"fix the disk (free space, remount read-write, replace it) and restart to recover (a failed fsync is never retried on the same file)", "err", err)
	}
	return err
}

// SetTokens replaces the bearer tokens (a SIGHUP re-reads the token file).
// Producers keep their counters across the swap.
func (s *Core) SetTokens(ts []Token) error {
	if err := ValidateTokens(ts); err != nil {
		return fmt.Errorf("ingest: tokens%w", err)
	}
	s.prods.Store(newProducers(ts, s.prods.Load(), &s.m.tallies))
	return nil
}

// watchDisk checks the data directory's free space every second until the
// server stops.
func (s *Core) watchDisk() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for range t.C {
		if s.closing.Load() {
			return
		}
		s.checkDisk()
		s.failure() // logs a storage failure within a second, traffic or not
	}
}

// checkDisk turns intake to 507 below disk.min_free and back above it.
func (s *Core) checkDisk() {
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.cfg.DataDir, &st); err != nil {
		return
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	s.diskFree.Store(free)
	low := s.cfg.MinFree > 0 && free < s.cfg.MinFree
	if was := s.diskLow.Swap(low); was != low {
		if low {
			s.log.Error("disk nearly full: intake answers 507 until space returns", "free_bytes", free, "min_free", s.cfg.MinFree, "dir", s.cfg.DataDir)
		} else {
			s.log.Info("disk space back above disk.min_free: intake open again", "free_bytes", free)
		}
	}
}
