package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ingestd/ingestd/record"

	"github.com/cespare/xxhash/v2"

	"github.com/ingestd/ingestd/internal/failpoint"
	"github.com/ingestd/ingestd/internal/fsutil"

	"github.com/valyala/fasthttp"

	"github.com/ingestd/ingestd/ingest/wal"
	"github.com/ingestd/ingestd/segment"
)

// Server is the ingest daemon: HTTP intake, WAL, store. Create it with New,
// serve HTTP with Serve (health answers at once, intake after Recover), and
// stop it with Shutdown.
type Server struct {
	cfg   Config
	rules record.Rules
	log   *slog.Logger
	m     *Metrics
	store *Store
	wal   atomic.Pointer[wal.WAL[*reqState]] // set once recovery has opened it
	keys  *Keys                   // set by Recover before the WAL writer starts
	http  *fasthttp.Server
	dec   decoders

	parsers  sync.Pool // *record.Parser
	batches  sync.Pool // *reqState
	ready    atomic.Bool
	closing  atomic.Bool
	prods    atomic.Pointer[producers]
	rejected atomic.Pointer[rejectedStore] // nil: rejected lines are not kept
	retry    string                        // Retry-After seconds
}

// reqState is the per-request scratch memory, pooled. It is the meta of
// the request's WAL entry.
type reqState struct {
	batch   record.Batch
	payload []byte
	resp    []byte
	key     string // Idempotency-Key, "" when none
	digest  uint64 // with a key: of the request (see Keys), journaled with it
}

// OnDayDone registers fn to be told of each finished day whose files are
// final (compacted), e.g. to compute its report partial. fn must not block.
// Call it before Recover.
func (s *Server) OnDayDone(fn func(dir string)) { s.store.cfg.DayDone = fn }

// New validates cfg and prepares a server; nothing is read from disk yet.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Buffers.MemoryLimit > 0 {
		debug.SetMemoryLimit(int64(cfg.Buffers.MemoryLimit))
	}
	s := &Server{cfg: cfg, rules: cfg.Rules(), log: log, m: NewMetrics(),
		retry: strconv.Itoa(int((cfg.HTTP.RetryAfter + time.Second - 1) / time.Second))}
	s.prods.Store(newProducers(cfg.Auth.Tokens, nil))
	s.dec.budget = &byteBudget{max: int64(cfg.Buffers.MaxRequest)}
	s.m.producers = func() []*producer { return s.prods.Load().list }
	lvl, _ := segment.ParseLevel(cfg.Segments.Level)
	clvl, _ := segment.ParseLevel(cfg.Segments.CompactLevel)
	st, err := NewStore(StoreConfig{DataDir: cfg.DataDir, Node: cfg.Node, BlockSize: int(cfg.Segments.BlockSize), BlockAge: cfg.Segments.BlockAge,
		SealGrace: cfg.Segments.SealGrace, SealIdle: cfg.Segments.SealIdle, Level: lvl, CompactLevel: clvl,
		FlushWorkers: cfg.Segments.FlushWorkers, MaxBuffered: int64(cfg.Buffers.MaxBytes),
		RetainDays: cfg.Retention.MaxDays, RetainBytes: int64(cfg.Retention.MaxBytes)}, log, s.m)
	if err != nil {
		return nil, err
	}
	s.store = st
	s.m.buffered = st.Buffered
	s.m.walFiles = func() int { // /metrics answers during recovery too
		if w := s.wal.Load(); w != nil {
			return w.Files()
		}
		return 0
	}
	s.parsers.New = func() any { return record.NewParser(s.rules) }
	s.batches.New = func() any { return &reqState{} }
	s.http = &fasthttp.Server{
		Handler:      s.handle,
		ErrorHandler: s.errorHandler,
		Name:         "ingestd",
		// Streaming: fasthttp reads bodies up to MaxRequestBodySize ahead and
		// hands larger ones over as a stream, with no limit of its own; the
		// handler enforces http.max_body (readBody).
		StreamRequestBody:            true,
		MaxRequestBodySize:           int(cfg.HTTP.MaxBody),
		ExpectHandler:                s.expect,
		ReadBufferSize:               int(cfg.HTTP.MaxHeader),
		Concurrency:                  cfg.HTTP.MaxConnections,
		MaxConnsPerIP:                cfg.HTTP.MaxConnsPerIP,
		ReadTimeout:                  cfg.HTTP.ReadTimeout,
		WriteTimeout:                 cfg.HTTP.WriteTimeout,
		IdleTimeout:                  cfg.HTTP.IdleTimeout,
		DisablePreParseMultipartForm: true,
		CloseOnShutdown:              true,
		Logger:                       fasthttpLogger{log},
	}
	return s, nil
}

type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) { f.l.Debug(fmt.Sprintf(format, args...)) }

// Metrics returns the server's metrics.
func (s *Server) Metrics() *Metrics { return s.m }

// Serve answers HTTP on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.http.Serve(ln) }

// Recover repairs the data directory, replays the WAL into the buffers and
// opens intake (/readyz turns 200). Corruption that is not a torn tail
// returns a *StartupError naming the file, offset and repair command.
func (s *Server) Recover() error {
	t0 := time.Now()
	failpoint.Hit("ingest.Recover.mkdirdurable")
	if err := fsutil.MkdirDurable(s.cfg.DataDir); err != nil {
		return fmt.Errorf("ingest: data dir %s: %w", s.cfg.DataDir, err)
	}
	if s.cfg.Rejected.Keep {
		r, err := openRejected(RejectedDir(s.cfg.DataDir), int64(s.cfg.Rejected.MaxBytes), s.log, s.m)
		if err != nil {
			return err
		}
		s.rejected.Store(r)
	}
	rep, err := s.store.Recover()
	if err != nil {
		return err
	}
	mode, _ := wal.ParseSyncMode(s.cfg.WAL.Fsync)
	w, tail, err := wal.Open(wal.Options[*reqState]{
		Dir: filepath.Join(s.cfg.DataDir, "wal"), Sync: mode, Interval: s.cfg.WAL.FsyncInterval,
		FileSize: int64(s.cfg.WAL.FileSize), NoCompress: !s.cfg.WAL.Compress,
		OnCommit: s.commit, OnSync: s.m.walFsync.observe,
		PreCommit: func(first uint64, metas []*reqState) error { return s.keys.preCommit(first, metas) },
	})
	if err != nil {
		return s.startupErr(err)
	}
	if tail.Cut > 0 {
		s.log.Warn("cut torn tail of WAL", "file", tail.Path, "offset", tail.Offset, "bytes", tail.Cut, "reason", tail.Reason)
	}
	var replayed int
	replay := s.store.replay(rep.HighWater)
	if err := w.Replay(func(seq uint64, p []byte) error { replayed++; return replay(seq, p) }); err != nil {
		return s.startupErr(err)
	}
	w.SetNext(max(w.LastSeq(), rep.MaxSeq) + 1)
	// Everything up to here is in the segments or was just replayed into
	// the buffers: the durable watermark starts at the log's end, not at 0
	// (else a start without traffic could not empty the log on stop).
	if last := w.LastSeq(); last > s.store.lastApplied.Load() {
		s.store.lastApplied.Store(last)
	}
	keys, err := OpenKeys(s.cfg.DataDir, s.cfg.Idempotency.Window, s.cfg.Idempotency.MaxKeys, mode == wal.SyncAlways, w.LastSeq(), time.Now())
	if err != nil {
		return err
	}
	s.keys = keys
	if err := w.Start(); err != nil {
		return err
	}
	s.wal.Store(w)
	s.store.wal = w
	s.store.Start()
	s.store.release()
	d := time.Since(t0)
	s.m.recoverySeconds.Store(math.Float64bits(d.Seconds()))
	s.log.Info("recovered", "days", rep.Days, "open_parts", rep.OpenParts, "cut_bytes", rep.CutBytes,
		"wal_entries_read", replayed, "buffered_bytes", s.store.Buffered(), "duration", d.Round(time.Millisecond))
	s.checkDisk()
	go s.watchDisk()
	s.ready.Store(true)
	return nil
}

func (s *Server) startupErr(err error) error {
	var ce *wal.CorruptionError
	if errors.As(err, &ce) {
		return &StartupError{Err: err, Hint: fmt.Sprintf("run `ingestd repair --data-dir %s` to cut the WAL at the damage (a copy is kept as *.broken); entries after it are lost unless already in segments", s.cfg.DataDir)}
	}
	return err
}

// commit is the WAL's OnCommit: it runs on the WAL writer goroutine, in
// sequence order, and moves the request's records into the day buffers.
func (s *Server) commit(seq uint64, st *reqState) {
	b := &st.batch
	s.store.applyRecs(seq, b.Buf, b.Recs, nil)
}

// Shutdown stops accepting, lets in-flight requests finish, flushes and
// seals every buffer and part, and empties the WAL.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.ready.Store(false)
	err := s.http.ShutdownWithContext(ctx)
	if err != nil {
		s.log.Warn("http shutdown", "err", err)
	}
	if r := s.rejected.Load(); r != nil {
		r.close()
	}
	w := s.wal.Load()
	if w == nil { // never recovered
		return err
	}
	walErr := w.Close()
	if err := s.store.Close(); err != nil {
		return fmt.Errorf("ingest: flush on stop: %w (the WAL keeps the data; it is replayed on the next start)", err)
	}
	s.keys.Close()
	if walErr != nil {
		return walErr
	}
	if d, last := s.store.durable(), w.LastSeq(); d < last {
		return fmt.Errorf("ingest: BUG: after flushing, segments hold up to %d of %d; WAL kept", d, last)
	}
	return w.Empty()
}

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic in handler", "panic", r, "path", string(ctx.Path()))
			s.answerErr(ctx, fasthttp.StatusInternalServerError, "internal error", 0)
		}
	}()
	switch string(ctx.Path()) {
	case "/v1/ingest":
		if !ctx.IsPost() {
			ctx.Response.Header.Set("Allow", "POST")
			s.answerErr(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed; use POST", 0)
			return
		}
		s.ingest(ctx)
	case "/healthz":
		s.simple(ctx, fasthttp.StatusOK, `{"status":"ok"}`)
	case "/readyz":
		switch {
		case s.ready.Load() && s.failure() == nil && s.m.diskLow.Load():
			s.simple(ctx, fasthttp.StatusServiceUnavailable, `{"status":"disk_low"}`)
		case s.ready.Load() && s.failure() == nil:
			s.simple(ctx, fasthttp.StatusOK, `{"status":"ready"}`)
		case s.failure() != nil:
			s.simple(ctx, fasthttp.StatusServiceUnavailable, `{"status":"failed","error":`+string(appendJSONString(nil, s.failure().Error()))+`}`)
		case s.closing.Load():
			s.simple(ctx, fasthttp.StatusServiceUnavailable, `{"status":"stopping"}`)
		default:
			s.simple(ctx, fasthttp.StatusServiceUnavailable, `{"status":"recovering"}`)
		}
	case "/metrics":
		if !ctx.IsGet() && !ctx.IsHead() {
			ctx.Response.Header.Set("Allow", "GET")
			s.answerErr(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed; use GET", 0)
			return
		}
		ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
		s.m.Write(ctx)
		s.m.code("/metrics", fasthttp.StatusOK)
	default:
		path := string(ctx.Path())
		if path == "/loki/api/v1/push" {
			s.lokiPush(ctx)
			return
		}
		if s.esRoute(ctx, path) {
			return
		}
		s.answerErr(ctx, fasthttp.StatusNotFound, "not found", 0)
	}
}

func (s *Server) simple(ctx *fasthttp.RequestCtx, code int, body string) {
	if !ctx.IsGet() && !ctx.IsHead() {
		ctx.Response.Header.Set("Allow", "GET")
		s.answerErr(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed; use GET", 0)
		return
	}
	ctx.SetStatusCode(code)
	ctx.SetContentType("application/json")
	ctx.SetBodyString(body)
	s.m.code(endpoint(ctx), code)
}

func (s *Server) failure() error {
	err := s.store.Failed()
	if w := s.wal.Load(); err == nil && w != nil {
		err = w.Err()
	}
	if err != nil && s.m.failed.CompareAndSwap(false, true) {
		s.log.Error("STORAGE FAILED: intake stopped (507/503); acknowledged data is safe in the WAL and segments; "+
			"fix the disk and restart to recover (a failed fsync is never retried on the same file)", "err", err)
	}
	return err
}

// errorHandler answers what fasthttp rejects before the handler runs.
func (s *Server) errorHandler(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		s.answerErr(ctx, fasthttp.StatusRequestEntityTooLarge, fmt.Sprintf("request body over the limit of %d bytes", s.cfg.HTTP.MaxBody), 0)
	case errors.As(err, &small):
		s.answerErr(ctx, fasthttp.StatusRequestHeaderFieldsTooLarge, fmt.Sprintf("request headers over the limit of %d bytes", s.cfg.HTTP.MaxHeader), 0)
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			s.answerErr(ctx, fasthttp.StatusRequestTimeout, "request timed out", 0)
			return
		}
		s.answerErr(ctx, fasthttp.StatusBadRequest, "malformed HTTP request", 0)
	}
}

// authorized returns the request's producer, or nil when its token is
// missing or unknown.
func (s *Server) authorized(ctx *fasthttp.RequestCtx) *producer {
	return s.prods.Load().find(ctx.Request.Header.Peek("Authorization"))
}

// SetTokens replaces the bearer tokens (a SIGHUP re-reads the token file).
// Producers keep their counters across the swap.
func (s *Server) SetTokens(ts []Token) error {
	if err := ValidateTokens(ts); err != nil {
		return fmt.Errorf("ingest: tokens%w", err)
	}
	s.prods.Store(newProducers(ts, s.prods.Load()))
	return nil
}

func (s *Server) ingest(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	defer func() { s.m.ack.observe(time.Since(start)) }()
	prod := s.gate(ctx)
	if prod == nil {
		return
	}
	st := s.batches.Get().(*reqState)
	defer s.batches.Put(st)
	st.key, st.digest = "", 0
	k := ctx.Request.Header.Peek("Idempotency-Key")
	if k != nil && !validKey(k) {
		s.answerErr(ctx, fasthttp.StatusBadRequest, errKeyFormat.Error(), 0)
		return
	}
	body, release, ok := s.body(ctx)
	defer release()
	if !ok {
		return
	}
	if k != nil {
		key := string(k)
		digest := requestDigest(ctx.RequestURI(), body)
		answer, replay, err := s.keys.Begin(key, digest, start)
		if err != nil {
			s.answerErr(ctx, fasthttp.StatusUnprocessableEntity, err.Error(), 0)
			return
		}
		if replay {
			ctx.Response.Header.Set("Idempotency-Replayed", "true")
			ctx.SetStatusCode(fasthttp.StatusOK)
			ctx.SetContentType("application/json")
			ctx.SetBody(answer)
			s.m.code("/v1/ingest", fasthttp.StatusOK)
			return
		}
		st.key, st.digest = key, digest
		// Runs last: remember a 200's answer, release the key otherwise.
		defer func() { s.keys.Finish(key, st.resp, ctx.Response.StatusCode() == fasthttp.StatusOK) }()
	}
	skip := string(ctx.QueryArgs().Peek("invalid")) == "skip"
	b := &st.batch
	if re := s.parse(st, body, start, skip); re != nil {
		s.m.rejectRequest(re.Reason)
		s.answerErr(ctx, fasthttp.StatusBadRequest, re.Msg, re.Line)
		return
	}
	for i, n := range b.ByReason {
		if n > 0 {
			s.m.reject(record.Reasons[i], n)
		}
	}
	if len(b.Buf) > segment.MaxBlockRaw {
		s.answerErr(ctx, fasthttp.StatusRequestEntityTooLarge, fmt.Sprintf("request stores %d bytes (compacted, with added timestamps), over the limit of %d", len(b.Buf), segment.MaxBlockRaw), 0)
		return
	}
	// The answer is made before the WAL append: with an Idempotency-Key it
	// is journaled in the same group commit.
	r := append(st.resp[:0], `{"accepted":`...)
	r = strconv.AppendInt(r, int64(len(b.Recs)), 10)
	if skip {
		r = append(r, `,"rejected":`...)
		r = strconv.AppendInt(r, int64(b.Rejected), 10)
		r = append(r, `,"errors":[`...)
		for i, e := range b.Errs {
			if i > 0 {
				r = append(r, ',')
			}
			r = append(r, `{"line":`...)
			r = strconv.AppendInt(r, int64(e.Line), 10)
			r = append(r, `,"error":`...)
			r = appendJSONString(r, e.Err)
			r = append(r, '}')
		}
		r = append(r, ']')
	}
	r = append(r, '}')
	st.resp = r
	if !s.persist(ctx, prod, st) {
		return
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/json")
	ctx.SetBody(r) // copies
	s.m.code("/v1/ingest", fasthttp.StatusOK)
}

// maxDrain is how much of an over-limit body is read and discarded before
// the 413 is sent and the connection closed: closing a socket with unread
// data makes the kernel reset it, and the client would lose the answer.
const (
	maxDrain     = 4 << 20
	maxDrainTime = 2 * time.Second
)

// readBody reads the request body into a pooled buffer (release with
// s.dec.put), refusing more than http.max_body bytes.
func (s *Server) readBody(ctx *fasthttp.RequestCtx) ([]byte, *[]byte, error) {
	limit := int(s.cfg.HTTP.MaxBody)
	if cl := ctx.Request.Header.ContentLength(); cl > limit {
		s.drain(ctx)
		return nil, nil, errTooLarge
	}
	r := ctx.RequestBodyStream()
	if r == nil {
		b := ctx.Request.Body()
		if len(b) > limit {
			return nil, nil, errTooLarge
		}
		return b, nil, nil
	}
	b, bp, err := s.dec.readAll(r, limit, "body")
	if errors.Is(err, errTooLarge) {
		s.drain(ctx)
	}
	return b, bp, err
}

func (s *Server) drain(ctx *fasthttp.RequestCtx) {
	if r := ctx.RequestBodyStream(); r != nil {
		// Bounded in time as well: the connection closes after this answer.
		ctx.Conn().SetReadDeadline(time.Now().Add(maxDrainTime))
		io.CopyN(io.Discard, r, maxDrain)
	}
	ctx.SetConnectionClose()
}

// expect answers "Expect: 100-continue" before the client sends its body:
// a declared length over the limit gets 413 and a missing token 401 at once.
//
// The refusal carries the same JSON error as one after the body was read
// (fasthttp writes the response as set here, with the returned status).
func (s *Server) expect(ctx *fasthttp.RequestCtx) int {
	if cl := ctx.Request.Header.ContentLength(); cl > int(s.cfg.HTTP.MaxBody) {
		s.answerErr(ctx, fasthttp.StatusRequestEntityTooLarge, fmt.Sprintf("request body over the limit of %d bytes", s.cfg.HTTP.MaxBody), 0)
		return fasthttp.StatusRequestEntityTooLarge
	}
	if p := endpoint(ctx); (p == "/v1/ingest" || p == "/_bulk" || p == "/loki/api/v1/push") && s.authorized(ctx) == nil {
		s.answerErr(ctx, fasthttp.StatusUnauthorized, "missing or unknown bearer token", 0)
		return fasthttp.StatusUnauthorized
	}
	return fasthttp.StatusContinue
}

// storageErr answers a request the disk could not take: 507 when it is out
// of space, 503 otherwise.
func (s *Server) storageErr(ctx *fasthttp.RequestCtx, err error) {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		s.answerErr(ctx, fasthttp.StatusInsufficientStorage, "disk full: "+err.Error(), 0)
		return
	}
	ctx.Response.Header.Set("Retry-After", s.retry)
	s.answerErr(ctx, fasthttp.StatusServiceUnavailable, "storage failure: "+err.Error(), 0)
}

func (s *Server) answerErr(ctx *fasthttp.RequestCtx, code int, msg string, line int) {
	ctx.SetStatusCode(code)
	ctx.SetContentType("application/json")
	b := append([]byte(`{"error":`), appendJSONString(nil, msg)...)
	if line > 0 {
		b = append(b, `,"line":`...)
		b = strconv.AppendInt(b, int64(line), 10)
	}
	b = append(b, '}')
	ctx.SetBody(b)
	s.m.code(endpoint(ctx), code)
}

// endpoint names the request's path for metrics, from a fixed set.
func endpoint(ctx *fasthttp.RequestCtx) string {
	switch p := string(ctx.Path()); {
	case p == "/v1/ingest" || p == "/healthz" || p == "/readyz" || p == "/metrics" || p == "/loki/api/v1/push":
		return p
	case strings.HasSuffix(p, "/_bulk"):
		return "/_bulk"
	}
	return "other"
}

// appendJSONString appends s as a JSON string literal.
func appendJSONString(dst []byte, s string) []byte {
	const hexd = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// watchDisk checks the data directory's free space every second until the
// server stops.
func (s *Server) watchDisk() {
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
func (s *Server) checkDisk() {
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.cfg.DataDir, &st); err != nil {
		return
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	s.m.diskFree.Store(free)
	low := s.cfg.Disk.MinFree > 0 && free < int64(s.cfg.Disk.MinFree)
	if was := s.m.diskLow.Swap(low); was != low {
		if low {
			s.log.Error("disk nearly full: intake answers 507 until space returns", "free_bytes", free, "min_free", int64(s.cfg.Disk.MinFree), "dir", s.cfg.DataDir)
		} else {
			s.log.Info("disk space back above disk.min_free: intake open again", "free_bytes", free)
		}
	}
}

// gate answers what stops any write before its body is read: a bad token,
// a storage failure, a full disk, recovery or shutdown. It returns the
// producer, or nil once it has answered.
func (s *Server) gate(ctx *fasthttp.RequestCtx) *producer {
	prod := s.authorized(ctx)
	if prod == nil {
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="ingestd"`)
		s.answerErr(ctx, fasthttp.StatusUnauthorized, "missing or unknown bearer token", 0)
		return nil
	}
	if err := s.failure(); err != nil {
		s.storageErr(ctx, err)
		return nil
	}
	if s.m.diskLow.Load() {
		s.answerErr(ctx, fasthttp.StatusInsufficientStorage, fmt.Sprintf("disk nearly full: %d bytes free, under disk.min_free (%d); nothing was stored", s.m.diskFree.Load(), s.cfg.Disk.MinFree), 0)
		return nil
	}
	if !s.ready.Load() {
		ctx.Response.Header.Set("Retry-After", s.retry)
		msg := "recovering; not accepting yet"
		if s.closing.Load() {
			msg = "shutting down"
		}
		s.answerErr(ctx, fasthttp.StatusServiceUnavailable, msg, 0)
		return nil
	}
	return prod
}

// body reads and decodes the request body under the limits. On failure it
// has answered and ok is false. release returns the buffers.
func (s *Server) body(ctx *fasthttp.RequestCtx) (body []byte, release func(), ok bool) {
	wire, wp, err := s.readBody(ctx)
	if err != nil {
		s.dec.put(wp)
		switch {
		case errors.Is(err, errTooLarge):
			s.answerErr(ctx, fasthttp.StatusRequestEntityTooLarge, fmt.Sprintf("request body over the limit of %d bytes", s.cfg.HTTP.MaxBody), 0)
		case errors.Is(err, errBusy):
			s.drain(ctx)
			ctx.Response.Header.Set("Retry-After", s.retry)
			s.answerErr(ctx, fasthttp.StatusServiceUnavailable, err.Error()+"; retry later", 0)
		default:
			s.answerErr(ctx, fasthttp.StatusBadRequest, "reading request body: "+err.Error(), 0)
		}
		return nil, func() {}, false
	}
	s.m.wireBytesIn.Add(int64(len(wire)))
	body, bp, err := s.dec.decode(ctx.Request.Header.ContentEncoding(), wire, int(s.cfg.HTTP.MaxBody))
	release = func() { s.dec.put(bp); s.dec.put(wp) }
	switch {
	case errors.Is(err, errTooLarge):
		s.answerErr(ctx, fasthttp.StatusRequestEntityTooLarge, fmt.Sprintf("request body over the limit of %d bytes after decompression", s.cfg.HTTP.MaxBody), 0)
		return nil, release, false
	case errors.Is(err, errUnsupported):
		s.answerErr(ctx, fasthttp.StatusUnsupportedMediaType, err.Error(), 0)
		return nil, release, false
	case errors.Is(err, errBusy):
		ctx.Response.Header.Set("Retry-After", s.retry)
		s.answerErr(ctx, fasthttp.StatusServiceUnavailable, err.Error()+"; retry later", 0)
		return nil, release, false
	case err != nil:
		s.answerErr(ctx, fasthttp.StatusBadRequest, err.Error(), 0)
		return nil, release, false
	}
	s.m.bytesIn.Add(int64(len(body)))
	return body, release, true
}

// persist makes st.batch durable: the producer's rate limit, the buffer
// budget, then one WAL entry, fsynced before it returns true. On failure it
// has answered. The caller answers 200 after it.
func (s *Server) persist(ctx *fasthttp.RequestCtx, prod *producer, st *reqState) bool {
	b := &st.batch
	if len(b.Recs) > 0 {
		if prod.limit != nil {
			if ok, wait := prod.limit.take(len(b.Recs), time.Now()); !ok {
				prod.limited.Add(1)
				ctx.Response.Header.Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
				s.answerErr(ctx, fasthttp.StatusTooManyRequests, "rate limit of producer "+prod.name+" reached; retry later", 0)
				return false
			}
		}
		n := int64(len(b.Buf))
		if !s.store.Admit(n) {
			ctx.Response.Header.Set("Retry-After", s.retry)
			s.answerErr(ctx, fasthttp.StatusServiceUnavailable, "buffers full; retry later", 0)
			return false
		}
		st.payload = record.AppendEntry(st.payload[:0], b)
		if _, err := s.wal.Load().Append(st.payload, st); err != nil {
			s.store.Unadmit(n)
			s.storageErr(ctx, err)
			return false
		}
		s.m.recordsIn.Add(int64(len(b.Recs)))
		prod.records.Add(int64(len(b.Recs)))
	}
	prod.requests.Add(1)
	if r := s.rejected.Load(); r != nil && len(b.Bad) > 0 {
		r.add(prod.name, time.Now(), b)
	}
	return true
}

// parse parses body into st's batch with a pooled parser.
func (s *Server) parse(st *reqState, body []byte, now time.Time, skip bool) *record.RequestError {
	st.batch.Reset()
	p := s.parsers.Get().(*record.Parser)
	re := p.Parse(body, now, skip, &st.batch)
	s.parsers.Put(p)
	return re
}

// open runs gate and body for the shipper endpoints and takes request
// scratch from the pool; done gives everything back. When ok is false it
// has answered.
func (s *Server) open(ctx *fasthttp.RequestCtx) (prod *producer, body []byte, st *reqState, done func(), ok bool) {
	if prod = s.gate(ctx); prod == nil {
		return nil, nil, nil, func() {}, false
	}
	body, release, ok := s.body(ctx)
	if !ok {
		return nil, nil, nil, release, false
	}
	st = s.batches.Get().(*reqState)
	st.key, st.digest = "", 0
	return prod, body, st, func() { s.batches.Put(st); release() }, true
}

// requestDigest fingerprints a request for its Idempotency-Key: path and
// query, then the decoded body (so the same records sent with another
// compression are the same request). Never 0, which means "none".
func requestDigest(uri, body []byte) uint64 {
	d := xxhash.New()
	d.Write(uri)
	d.Write([]byte{0})
	d.Write(body)
	return max(d.Sum64(), 1)
}
