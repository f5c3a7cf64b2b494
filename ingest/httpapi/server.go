// Package httpapi is ingestd's HTTP layer: the fasthttp server with every
// limit a client controls (headers, body, connections, time), body
// decoding, the one route table, health and metrics endpoints, and the
// skeleton every write runs (core.Begin → read and decode the body →
// adapter.Records → Write.Commit → the adapter's answer). Protocol adapters
// (package ingest/adapter/...) and the core (package ingest) know nothing of
// HTTP; only this package imports fasthttp.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/valyala/fasthttp"

	"github.com/ingestd/ingestd/ingest"
	"github.com/ingestd/ingestd/ingest/adapter"
	"github.com/ingestd/ingestd/ingest/adapter/es"
	"github.com/ingestd/ingestd/ingest/adapter/hec"
	"github.com/ingestd/ingestd/ingest/adapter/loki"
	"github.com/ingestd/ingestd/ingest/adapter/native"
	"github.com/ingestd/ingestd/ingest/adapter/otlp"
	"github.com/ingestd/ingestd/internal/jsonx"
)

// Server serves the HTTP API in front of an intake core.
type Server struct {
	core *ingest.Core
	cfg  Config
	reg  Registry
	log  *slog.Logger
	http *fasthttp.Server
	dec  decoders

	reportsDir string        // served under /reports/; "" = not served
	explore    *exploreState // the read API and the explorer page; nil = not served

	// The HTTP layer's metrics.
	requests    *prometheus.CounterVec // by endpoint (a fixed set) and status
	ack         prometheus.Histogram
	bytesIn     prometheus.Counter
	wireBytesIn prometheus.Counter
}

// Registry is where the server registers its metrics and what /metrics
// serves: the daemon's whole registry (*prometheus.Registry).
type Registry interface {
	prometheus.Registerer
	prometheus.Gatherer
}

// New prepares the HTTP server for core (not listening yet); zero fields of
// cfg take their defaults.
func New(core *ingest.Core, cfg Config, reg Registry, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	h := &Server{core: core, cfg: cfg, reg: reg, log: log,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ingestd_http_requests_total", Help: "HTTP requests by endpoint and status code."}, []string{"path", "code"}),
		ack: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ingestd_ack_latency_seconds", Help: "Time from request received to answer, for ingest requests.",
			Buckets: ingest.LatencyBuckets}),
		bytesIn:     prometheus.NewCounter(prometheus.CounterOpts{Name: "ingestd_bytes_in_total", Help: "Request body bytes after decompression."}),
		wireBytesIn: prometheus.NewCounter(prometheus.CounterOpts{Name: "ingestd_wire_bytes_in_total", Help: "Request body bytes as received."}),
	}
	reg.MustRegister(h.requests, h.ack, h.bytesIn, h.wireBytesIn)
	h.dec.budget = &byteBudget{max: cfg.MaxRequestBytes}
	h.http = &fasthttp.Server{
		Handler:      h.handle,
		ErrorHandler: h.errorHandler,
		Name:         "ingestd",
		// Streaming: fasthttp (v1.78) pre-reads at most 8 KiB of a body and
		// hands every body over as a stream, whatever its length and
		// MaxRequestBodySize, with no limit of its own: the handler enforces
		// http.max_body (readBody), so no body-size error reaches errorHandler.
		StreamRequestBody:            true,
		MaxRequestBodySize:           int(cfg.MaxBody),
		ExpectHandler:                h.expect,
		ReadBufferSize:               cfg.MaxHeader,
		Concurrency:                  cfg.MaxConnections,
		MaxConnsPerIP:                cfg.MaxConnsPerIP,
		ReadTimeout:                  cfg.ReadTimeout,
		WriteTimeout:                 cfg.WriteTimeout,
		IdleTimeout:                  cfg.IdleTimeout,
		DisablePreParseMultipartForm: true,
		CloseOnShutdown:              true,
		Logger:                       fasthttpLogger{log},
	}
	return h, nil
}

type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) { f.l.Debug(fmt.Sprintf(format, args...)) }

// Serve answers HTTP on ln until Shutdown.
func (h *Server) Serve(ln net.Listener) error { return h.http.Serve(ln) }

// Shutdown turns new writes away, stops accepting connections, answers the
// requests in flight, then shuts the core down (flush, seal, empty the WAL).
func (h *Server) Shutdown(ctx context.Context) error {
	h.core.Closing()
	if h.explore != nil {
		h.explore.stop() // tails and questions end: their connections close
	}
	if err := h.http.ShutdownWithContext(ctx); err != nil {
		h.log.Warn("http shutdown", "err", err)
	}
	return h.core.Shutdown(ctx)
}

func (h *Server) handle(ctx *fasthttp.RequestCtx) {
	r, ok := lookup(ctx)
	defer func() {
		if p := recover(); p != nil {
			h.log.Error("panic in handler", "panic", p, "path", string(ctx.Path()))
			h.reply(ctx, r.endpoint, native.Error(&adapter.Error{Status: 500, Message: "internal error"}))
		}
	}()
	if !ok {
		h.reply(ctx, r.endpoint, native.Error(&adapter.Error{Status: 404, Message: "not found"}))
		return
	}
	r.serve(h, ctx, r.call)
}

// reply writes an adapter's reply and counts it.
func (h *Server) reply(ctx *fasthttp.RequestCtx, endpoint string, r adapter.Reply) {
	ctx.SetStatusCode(r.Status)
	for i := 0; i+1 < len(r.Header); i += 2 {
		ctx.Response.Header.Add(r.Header[i], r.Header[i+1])
	}
	if r.ContentType != "" {
		ctx.SetContentType(r.ContentType)
	}
	ctx.SetBody(r.Body)
	h.requests.WithLabelValues(endpoint, strconv.Itoa(r.Status)).Inc()
}

// isGet answers 405 to a method other than GET and HEAD.
func (h *Server) isGet(ctx *fasthttp.RequestCtx, endpoint string) bool {
	if ctx.IsGet() || ctx.IsHead() {
		return true
	}
	r := native.Error(&adapter.Error{Status: 405, Message: "method not allowed; use GET"})
	r.Header = append(r.Header, "Allow", "GET")
	h.reply(ctx, endpoint, r)
	return false
}

// get answers a read-only endpoint.
func (h *Server) get(ctx *fasthttp.RequestCtx, endpoint string, code int, body string) {
	if h.isGet(ctx, endpoint) {
		h.reply(ctx, endpoint, adapter.Reply{Status: code, ContentType: "application/json", Body: []byte(body)})
	}
}

func (h *Server) healthz(ctx *fasthttp.RequestCtx, _ es.Call) {
	h.get(ctx, "/healthz", 200, `{"status":"ok"}`)
}

func (h *Server) readyz(ctx *fasthttp.RequestCtx, _ es.Call) {
	switch state, err := h.core.Readiness(); {
	case state == "ready":
		h.get(ctx, "/readyz", 200, `{"status":"ready"}`)
	case err != nil:
		h.get(ctx, "/readyz", 503, `{"status":"`+state+`","error":`+string(jsonx.AppendString(nil, err.Error()))+`}`)
	default:
		h.get(ctx, "/readyz", 503, `{"status":"`+state+`"}`)
	}
}

func (h *Server) metrics(ctx *fasthttp.RequestCtx, _ es.Call) {
	if !h.isGet(ctx, "/metrics") {
		return
	}
	ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
	if err := writeMetrics(ctx, h.reg); err != nil {
		h.log.Warn("metrics", "err", err)
	}
	h.requests.WithLabelValues("/metrics", "200").Inc()
}

// writeMetrics writes every metric g gathers in the Prometheus text format.
func writeMetrics(w io.Writer, g prometheus.Gatherer) error {
	mfs, err := g.Gather()
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	return err
}

// errorHandler answers what fasthttp rejects before the handler runs.
func (h *Server) errorHandler(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	e := &adapter.Error{Status: 400, Code: adapter.CodeInvalid, Message: "malformed HTTP request"}
	var ne net.Error
	switch {
	case errors.As(err, &small):
		e = &adapter.Error{Status: 431, Code: adapter.CodeTooLarge, Message: fmt.Sprintf("request headers over the limit of %d bytes (http.max_header)", h.cfg.MaxHeader)}
	case errors.As(err, &ne) && ne.Timeout():
		e = &adapter.Error{Status: 408, Code: adapter.CodeInvalid, Message: "request timed out"}
	}
	r, _ := lookup(ctx)
	h.reply(ctx, r.endpoint, r.refuse(ctx, e))
}

// expect answers "Expect: 100-continue" before the client sends its body:
// a declared length over the limit gets 413 and a missing token 401 at once,
// with the same error body as after the body was read.
func (h *Server) expect(ctx *fasthttp.RequestCtx) int {
	r, _ := lookup(ctx)
	if cl := ctx.Request.Header.ContentLength(); cl > int(h.cfg.MaxBody) {
		h.reply(ctx, r.endpoint, r.refuse(ctx, h.tooLarge("")))
		return fasthttp.StatusRequestEntityTooLarge
	}
	if !r.write {
		return fasthttp.StatusContinue
	}
	switch known, write, _ := h.core.Access(credentials(ctx)); {
	case !known:
		h.reply(ctx, r.endpoint, r.refuse(ctx, &adapter.Error{Status: 401, Code: adapter.CodeUnauthorized, Message: "missing or unknown bearer token"}))
		return fasthttp.StatusUnauthorized
	case !write:
		h.reply(ctx, r.endpoint, r.refuse(ctx, &adapter.Error{Status: 403, Code: adapter.CodeForbidden, Message: "this token has the role read: it may not write"}))
		return fasthttp.StatusForbidden
	}
	return fasthttp.StatusContinue
}

func (h *Server) tooLarge(after string) *adapter.Error {
	return &adapter.Error{Status: 413, Code: adapter.CodeTooLarge, Message: fmt.Sprintf("request body over the limit of %d bytes%s (http.max_body)", h.cfg.MaxBody, after)}
}

// Before refusing a body it will not read (over the limit, or no memory to
// read it into), the server reads and discards the rest of it, then answers
// and closes: closing a socket with unread data makes the kernel reset it,
// and a client still writing its body (one that sent no Expect:
// 100-continue, as Go's net/http does) would get the reset instead of the
// answer. The discarding stops after maxDrain bytes, maxDrainTime, or
// drainIdle without a byte (a client that stalls gets its answer then). A
// client that sends Expect is refused before it sends the body.
const (
	maxDrain     = 1 << 30
	maxDrainTime = 30 * time.Second
	drainIdle    = 500 * time.Millisecond
)

// readBody reads the request body into a pooled buffer (release with
// h.dec.put), refusing more than http.max_body bytes.
func (h *Server) readBody(ctx *fasthttp.RequestCtx) ([]byte, *[]byte, error) {
	limit := int(h.cfg.MaxBody)
	if cl := ctx.Request.Header.ContentLength(); cl > limit {
		h.drain(ctx)
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
	b, bp, err := h.dec.readAll(r, limit, "body")
	if errors.Is(err, errTooLarge) {
		h.drain(ctx)
	}
	return b, bp, err
}

// drain discards the rest of a refused body (see maxDrain) and closes the
// connection after the answer.
func (h *Server) drain(ctx *fasthttp.RequestCtx) {
	if r := ctx.RequestBodyStream(); r != nil {
		c, buf := ctx.Conn(), make([]byte, 64<<10) // a refusal's path: no pool
		end := time.Now().Add(maxDrainTime)
		for n := 0; n < maxDrain && time.Now().Before(end); {
			dl := time.Now().Add(drainIdle)
			if dl.After(end) {
				dl = end
			}
			c.SetReadDeadline(dl)
			k, err := r.Read(buf)
			if n += k; err != nil {
				break
			}
		}
	}
	ctx.SetConnectionClose()
}

// body reads and decodes the request body under the limits. release
// returns the buffers (also after an error).
func (h *Server) body(ctx *fasthttp.RequestCtx) (body []byte, release func(), _ *adapter.Error) {
	wire, wp, err := h.readBody(ctx)
	if err != nil {
		h.dec.put(wp)
		switch {
		case errors.Is(err, errTooLarge):
			return nil, func() {}, h.tooLarge("")
		case errors.Is(err, errBusy):
			h.drain(ctx)
			return nil, func() {}, &adapter.Error{Status: 503, Code: adapter.CodeBusy, Message: err.Error() + "; retry later", RetryAfter: h.core.RetryAfter()}
		}
		return nil, func() {}, &adapter.Error{Status: 400, Code: adapter.CodeInvalid, Message: "reading request body: " + err.Error()}
	}
	body, bp, err := h.dec.decode(ctx.Request.Header.ContentEncoding(), wire, int(h.cfg.MaxBody))
	release = func() { h.dec.put(bp); h.dec.put(wp) }
	switch {
	case errors.Is(err, errTooLarge):
		return nil, release, h.tooLarge(" after decompression")
	case errors.Is(err, errUnsupported):
		return nil, release, &adapter.Error{Status: 415, Code: adapter.CodeUnsupported, Message: err.Error()}
	case errors.Is(err, errBusy):
		return nil, release, &adapter.Error{Status: 503, Code: adapter.CodeBusy, Message: err.Error() + "; retry later", RetryAfter: h.core.RetryAfter()}
	case err != nil:
		return nil, release, &adapter.Error{Status: 400, Code: adapter.CodeInvalid, Message: err.Error()}
	}
	h.wireBytesIn.Add(float64(len(wire)))
	h.bytesIn.Add(float64(len(body)))
	return body, release, nil
}

// begin runs the steps every write shares before its records: the core's
// Begin (token, storage, disk, readiness), then the body. On an error
// nothing is held.
func (h *Server) begin(ctx *fasthttp.RequestCtx, protocol string) (*ingest.Write, []byte, func(), *adapter.Error) {
	w, e := h.core.Begin(credentials(ctx), protocol)
	if e != nil {
		return nil, nil, nil, e
	}
	body, release, e := h.body(ctx)
	if e != nil {
		release()
		w.Refuse(e)
		w.Done(false)
		return nil, nil, nil, e
	}
	return w, body, release, nil
}

// ingest is POST /v1/ingest: the body is the records.
func (h *Server) ingest(ctx *fasthttp.RequestCtx, _ es.Call) {
	start := time.Now()
	defer func() { h.ack.Observe(time.Since(start).Seconds()) }()
	const ep = "/v1/ingest"
	if !ctx.IsPost() {
		r := native.Error(&adapter.Error{Status: 405, Message: "method not allowed; use POST"})
		r.Header = append(r.Header, "Allow", "POST")
		h.reply(ctx, ep, r)
		return
	}
	skip := string(ctx.QueryArgs().Peek("invalid")) == "skip"
	contentType := ctx.Request.Header.ContentType()
	var answer []byte // made in Commit, so that an Idempotency-Key's journal keeps it
	h.write(ctx, ep, adapted{
		protocol: "native",
		keyed:    true,
		options: native.Options(skip, func(res *adapter.Result) []byte {
			answer = native.AppendAnswer(answer[:0], res, skip)
			return answer
		}),
		answer: func(res *adapter.Result) adapter.Reply {
			if answer == nil {
				answer = native.AppendAnswer(nil, res, skip)
			}
			return native.Answer(answer)
		},
		refuse: func(e *adapter.Error) adapter.Reply { return native.Error(native.FormHint(e, contentType)) },
		replay: func(first []byte) adapter.Reply {
			r := native.Answer(first)
			r.Header = []string{"Idempotency-Replayed", "true"}
			return r
		},
	})
}

// adapted is what the write skeleton needs of one request's adapter.
type adapted struct {
	protocol string // its name in the metrics
	// records appends the envelope's records to dst; nil when the body is
	// the records as sent (the native API).
	records func(dst, body []byte) ([]byte, *adapter.Error)
	options adapter.Options
	answer  func(*adapter.Result) adapter.Reply
	refuse  func(*adapter.Error) adapter.Reply
	// keyed: an Idempotency-Key header makes a repeat of the request get
	// the first answer, as replay renders it, and store nothing again.
	keyed  bool
	replay func(first []byte) adapter.Reply
}

// write runs the steps every write shares: Begin and the body, the
// Idempotency-Key when the protocol honours one, the adapter's records (in
// the write's pooled scratch), Commit, and the adapter's answer or refusal.
func (h *Server) write(ctx *fasthttp.RequestCtx, ep string, a adapted) {
	w, body, release, e := h.begin(ctx, a.protocol)
	if e != nil {
		h.reply(ctx, ep, a.refuse(e))
		return
	}
	defer release()
	ok := false
	defer func() { w.Done(ok) }()
	if key := ctx.Request.Header.Peek("Idempotency-Key"); a.keyed && key != nil {
		first, e := w.Key(key, ctx.RequestURI(), body)
		if e != nil {
			h.reply(ctx, ep, a.refuse(e))
			return
		}
		if first != nil {
			h.reply(ctx, ep, a.replay(first))
			return
		}
	}
	recs := body
	if a.records != nil {
		recs, e = a.records(w.Scratch(), body)
		w.KeepScratch(recs)
		if e != nil {
			w.Refuse(e)
			h.refused(e)
			h.reply(ctx, ep, a.refuse(e))
			return
		}
	}
	res, e := w.Commit(recs, a.options)
	if e != nil {
		h.reply(ctx, ep, a.refuse(e))
		return
	}
	ok = true
	h.reply(ctx, ep, a.answer(res))
}

// refused counts a request an adapter refused for a malformed envelope
// (the core counts the ones it refuses).
func (h *Server) refused(e *adapter.Error) {
	if e.Reason != "" {
		h.core.RejectRequest(e.Reason)
	}
}

// elasticsearch serves the Elasticsearch API. A secured Elasticsearch
// answers nothing without credentials; nor does ingestd once tokens are
// configured (health and readiness endpoints stay open).
func (h *Server) elasticsearch(ctx *fasthttp.RequestCtx, call es.Call) {
	ep := "/_es"
	if call.Writes() {
		ep = "/_bulk"
		start := time.Now()
		defer func() { h.ack.Observe(time.Since(start).Seconds()) }()
	}
	if !h.core.Authorized(ctx.Request.Header.Peek("Authorization")) {
		h.reply(ctx, ep, es.Unauthorized(call.Path))
		return
	}
	if !call.Writes() {
		h.reply(ctx, ep, es.Static(call, ctx.LocalAddr().String()))
		return
	}
	ew := es.NewWrite(call)
	if e := ew.Check(); e != nil {
		h.reply(ctx, ep, es.Error(e))
		return
	}
	h.write(ctx, ep, adapted{protocol: "elasticsearch", records: ew.Records, options: es.Options, answer: ew.Answer, refuse: es.Error})
}

// lokiPush is POST /loki/api/v1/push with Loki's JSON body.
func (h *Server) lokiPush(ctx *fasthttp.RequestCtx, _ es.Call) {
	start := time.Now()
	defer func() { h.ack.Observe(time.Since(start).Seconds()) }()
	const ep = "/loki/api/v1/push"
	if e := loki.Check(string(ctx.Method())); e != nil {
		r := loki.Error(e)
		if e.Status == 405 {
			r.Header = append(r.Header, "Allow", "POST")
		}
		h.reply(ctx, ep, r)
		return
	}
	merge := h.cfg.LokiMergeJSONLines
	records := func(dst, body []byte) ([]byte, *adapter.Error) { return loki.Records(dst, body, merge) }
	if loki.IsProtobuf(string(ctx.Request.Header.ContentType())) {
		records = func(dst, body []byte) ([]byte, *adapter.Error) {
			return loki.RecordsProto(dst, body, merge, int(h.cfg.MaxBody))
		}
	}
	h.write(ctx, ep, adapted{protocol: "loki", records: records, options: loki.Options, answer: loki.Answer, refuse: loki.Error})
}

// otlpLogs is POST /v1/logs: OTLP/HTTP logs, protobuf or JSON.
func (h *Server) otlpLogs(ctx *fasthttp.RequestCtx, _ es.Call) {
	start := time.Now()
	defer func() { h.ack.Observe(time.Since(start).Seconds()) }()
	const ep = "/v1/logs"
	enc, e := otlp.ContentType(string(ctx.Request.Header.ContentType()))
	if e == nil && !ctx.IsPost() {
		e = &adapter.Error{Status: 405, Message: "method not allowed; use POST"}
	}
	if e != nil {
		h.reply(ctx, ep, otlp.Error(e, enc))
		return
	}
	h.write(ctx, ep, adapted{
		protocol: "otlp",
		records: func(dst, body []byte) ([]byte, *adapter.Error) {
			return otlp.Records(dst, body, enc, otlp.Mapping{Max: int(h.cfg.MaxBody), FlatResource: h.cfg.OTLPFlatResource})
		},
		options: otlp.Options,
		answer:  func(res *adapter.Result) adapter.Reply { return otlp.Answer(res, enc) },
		refuse:  func(e *adapter.Error) adapter.Reply { return otlp.Error(e, enc) },
	})
}

// hecEvents is Splunk HEC's event endpoint.
func (h *Server) hecEvents(ctx *fasthttp.RequestCtx, _ es.Call) {
	h.hecWrite(ctx, "/services/collector", hec.Events)
}

// hecRaw is Splunk HEC's raw endpoint: lines, metadata from the query.
func (h *Server) hecRaw(ctx *fasthttp.RequestCtx, _ es.Call) {
	q := ctx.QueryArgs()
	m := hec.Meta{Host: string(q.Peek("host")), Source: string(q.Peek("source")), Sourcetype: string(q.Peek("sourcetype")), Index: string(q.Peek("index"))}
	h.hecWrite(ctx, "/services/collector/raw", func(dst, body []byte) ([]byte, *adapter.Error) { return hec.Raw(dst, body, m) })
}

func (h *Server) hecWrite(ctx *fasthttp.RequestCtx, ep string, records func(dst, body []byte) ([]byte, *adapter.Error)) {
	start := time.Now()
	defer func() { h.ack.Observe(time.Since(start).Seconds()) }()
	hasAuth := len(ctx.Request.Header.Peek("Authorization")) > 0
	if !ctx.IsPost() {
		h.reply(ctx, ep, hec.Error(&adapter.Error{Status: 405, Message: "use POST"}, hasAuth))
		return
	}
	channel := string(ctx.Request.Header.Peek("X-Splunk-Request-Channel"))
	if channel == "" {
		channel = string(ctx.QueryArgs().Peek("channel"))
	}
	h.write(ctx, ep, adapted{protocol: "hec", records: records, options: hec.Options,
		answer: func(*adapter.Result) adapter.Reply { return hec.Answer(channel) },
		refuse: func(e *adapter.Error) adapter.Reply { return hec.Error(e, hasAuth) },
	})
}

func (h *Server) hecHealth(ctx *fasthttp.RequestCtx, _ es.Call) {
	if h.isGet(ctx, "/services/collector/health") {
		if state, _ := h.core.Readiness(); state != "ready" {
			h.reply(ctx, "/services/collector/health", adapter.Reply{Status: 503, ContentType: "application/json", Body: []byte(`{"text":"HEC is unhealthy, queues are full","code":18}`)})
			return
		}
		h.reply(ctx, "/services/collector/health", hec.Health())
	}
}

func (h *Server) hecAck(ctx *fasthttp.RequestCtx, _ es.Call) {
	const ep = "/services/collector/ack"
	hasAuth := len(ctx.Request.Header.Peek("Authorization")) > 0
	if !h.core.Authorized(ctx.Request.Header.Peek("Authorization")) {
		h.reply(ctx, ep, hec.Error(&adapter.Error{Status: 401, Code: adapter.CodeUnauthorized, Message: "token"}, hasAuth))
		return
	}
	body, release, e := h.body(ctx)
	defer release()
	if e != nil {
		h.reply(ctx, ep, hec.Error(e, hasAuth))
		return
	}
	h.reply(ctx, ep, hec.Ack(body))
}
