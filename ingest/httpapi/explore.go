package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/ingestd/ingestd/explore"
	"github.com/ingestd/ingestd/explore/ui"
	"github.com/ingestd/ingestd/ingest/adapter"
	"github.com/ingestd/ingestd/ingest/adapter/es"
	"github.com/ingestd/ingestd/ingest/adapter/native"
	"github.com/ingestd/ingestd/internal/jsonx"
)

// Explorer answers the read API (package explore implements it).
type Explorer interface {
	Prepare(call string, arg func(name string) string) (*explore.Answer, error)
}

// ExploreLimits bound the read API.
type ExploreLimits struct {
	MaxConcurrent int           // questions answered at once; more get 429 (default 4)
	MaxTails      int           // open tails at once; more get 429 (default 16)
	Timeout       time.Duration // a question's time, then 503 (default 60s)
}

// exploreState is the server's read API.
type exploreState struct {
	x       Explorer
	lim     ExploreLimits
	running atomic.Int64
	tails   atomic.Int64
	base    context.Context // ends at shutdown
	stop    context.CancelFunc
}

// ServeExplorer serves x's read API under /api/v1/ (query, hits, fields,
// tail) and the explorer page under /ui/, to tokens with the role read.
func (h *Server) ServeExplorer(x Explorer, lim ExploreLimits) {
	if lim.MaxConcurrent <= 0 {
		lim.MaxConcurrent = 4
	}
	if lim.MaxTails <= 0 {
		lim.MaxTails = 16
	}
	if lim.Timeout <= 0 {
		lim.Timeout = 60 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.explore = &exploreState{x: x, lim: lim, base: ctx, stop: cancel}
}

// maxQueryBody bounds a POSTed question.
const maxQueryBody = 64 << 10

// readAccess answers 401 (with realm's Basic challenge) or 403 unless the
// request's token may read; what names the resource in the message. The
// reports and the read API share it.
func (h *Server) readAccess(ctx *fasthttp.RequestCtx, ep, what, realm string) bool {
	switch known, _, read := h.core.Access(ctx.Request.Header.Peek("Authorization")); {
	case !known:
		r := native.Error(&adapter.Error{Status: 401, Code: adapter.CodeUnauthorized, Message: what + " need a token with the role read (as a bearer token, or as the password of basic auth)"})
		r.Header = []string{"WWW-Authenticate", `Basic realm="` + realm + `", charset="UTF-8"`} // a browser asks; the token is the password
		h.reply(ctx, ep, r)
		return false
	case !read:
		h.reply(ctx, ep, native.Error(&adapter.Error{Status: 403, Code: adapter.CodeForbidden,
			Message: "this token has the role write: it may send records, not read " + what + "; use a token with the role read or both"}))
		return false
	}
	return true
}

// apiError writes the read API's error: {"error":…} with the parameter at
// fault and, for a filter's mistake, its position (0-based byte offset).
func (h *Server) apiError(ctx *fasthttp.RequestCtx, status int, msg, param string, pos int) {
	b := append([]byte(`{"error":`), jsonx.AppendString(nil, msg)...)
	if param != "" {
		b = append(append(b, `,"parameter":`...), jsonx.AppendString(nil, param)...)
	}
	if pos >= 0 {
		b = append(append(b, `,"position":`...), strconv.Itoa(pos)...)
	}
	r := adapter.Reply{Status: status, ContentType: "application/json", Body: append(b, "}\n"...)}
	if status == 429 || status == 503 {
		r.Header = []string{"Retry-After", "1"}
	}
	h.reply(ctx, "/api/v1", r)
}

// api is GET|POST /api/v1/<call>.
func (h *Server) api(ctx *fasthttp.RequestCtx, _ es.Call) {
	const ep = "/api/v1"
	if !ctx.IsGet() && !ctx.IsHead() && !ctx.IsPost() {
		r := native.Error(&adapter.Error{Status: 405, Message: "method not allowed; use GET or POST"})
		r.Header = append(r.Header, "Allow", "GET, POST")
		h.reply(ctx, ep, r)
		return
	}
	if !h.readAccess(ctx, ep, "the read API and the explorer", "ingestd") {
		return
	}
	x := h.explore
	if x == nil {
		h.apiError(ctx, 404, "the read API is not served by this daemon", "", -1)
		return
	}
	call := strings.TrimPrefix(string(ctx.Path()), "/api/v1/")
	args, err := apiArgs(ctx, h)
	if err != nil {
		h.apiError(ctx, 400, err.Error(), "", -1)
		return
	}
	ans, err := x.x.Prepare(call, func(name string) string { return args[name] })
	if err != nil {
		h.answerErr(ctx, err)
		return
	}
	counter, max := &x.running, x.lim.MaxConcurrent
	if call == "tail" {
		counter, max = &x.tails, x.lim.MaxTails
	}
	if counter.Add(1) > int64(max) {
		counter.Add(-1)
		what := "query.max_concurrent"
		if call == "tail" {
			what = "query.max_tails"
		}
		h.apiError(ctx, 429, "too many questions at once ("+what+" is "+strconv.Itoa(max)+"); retry later", "", -1)
		return
	}
	release := sync.OnceFunc(func() { counter.Add(-1) })
	qctx, cancel := context.WithCancel(x.base)
	if call != "tail" {
		qctx, cancel = context.WithTimeout(x.base, x.lim.Timeout)
	}
	// The connection is closed after the answer, so that reading it to
	// notice a client that went away cannot take a next request's bytes.
	ctx.SetConnectionClose()
	conn := ctx.Conn()
	unwatch := watchClose(conn, cancel)
	done := func() { unwatch(); cancel(); release() }
	if ans.Run != nil {
		if err := ans.Run(qctx); err != nil {
			gone := qctx.Err() != nil && x.base.Err() == nil && !errors.Is(qctx.Err(), context.DeadlineExceeded)
			timedOut := errors.Is(qctx.Err(), context.DeadlineExceeded)
			done()
			switch {
			case timedOut:
				h.apiError(ctx, 503, "the question took longer than query.timeout ("+x.lim.Timeout.String()+"); narrow the range or the filter", "", -1)
			case gone:
				h.log.Info("read API: the client went away; the scan stopped", "call", call)
				h.requests.WithLabelValues(ep, "499").Inc()
			default:
				h.answerErr(ctx, err)
			}
			return
		}
	}
	for k, v := range ans.Header {
		ctx.Response.Header.Set(k, v)
	}
	ctx.SetContentType(ans.ContentType)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	h.requests.WithLabelValues(ep, "200").Inc()
	if ctx.IsHead() {
		done()
		return
	}
	ctx.Response.ImmediateHeaderFlush = true // a tail's client learns at once that it is tailing
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		defer done()
		bw := bufio.NewWriterSize(deadlineWriter{w: w, conn: conn, timeout: h.cfg.WriteTimeout}, 32<<10)
		if err := ans.Write(qctx, bw); err != nil && qctx.Err() == nil {
			h.log.Warn("read API: answer cut short", "call", call, "err", err)
		}
		bw.Flush()
	})
}

// deadlineWriter hands each write to fasthttp's stream at once, moving the
// connection's write deadline first: a tail writes for as long as it is
// open, past http.write_timeout, and a stalled client still times out.
type deadlineWriter struct {
	w       *bufio.Writer
	conn    net.Conn
	timeout time.Duration
}

func (d deadlineWriter) Write(p []byte) (int, error) {
	if d.timeout > 0 && d.conn != nil {
		d.conn.SetWriteDeadline(time.Now().Add(d.timeout))
	}
	n, err := d.w.Write(p)
	if err == nil {
		err = d.w.Flush()
	}
	return n, err
}

// answerErr writes an explore error with its status, or a 500.
func (h *Server) answerErr(ctx *fasthttp.RequestCtx, err error) {
	var xe *explore.Error
	if errors.As(err, &xe) {
		h.apiError(ctx, xe.Status, xe.Msg, xe.Param, xe.Pos)
		return
	}
	h.log.Error("read API", "err", err)
	h.apiError(ctx, 500, err.Error(), "", -1)
}

// apiArgs collects a call's parameters: the query string, then a POSTed
// form or JSON object (its values strings, numbers or booleans).
func apiArgs(ctx *fasthttp.RequestCtx, h *Server) (map[string]string, error) {
	args := map[string]string{}
	ctx.QueryArgs().VisitAll(func(k, v []byte) { args[string(k)] = string(v) })
	if !ctx.IsPost() {
		return args, nil
	}
	r := ctx.RequestBodyStream()
	var body []byte
	if r == nil {
		body = ctx.Request.Body()
	} else {
		b, bp, err := h.dec.readAll(r, maxQueryBody, "body")
		if err != nil {
			return nil, errors.New("the body: " + err.Error())
		}
		body = append([]byte(nil), b...)
		h.dec.put(bp)
	}
	if len(body) > maxQueryBody {
		return nil, errors.New("the body is over 64 KiB")
	}
	ct := string(ctx.Request.Header.ContentType())
	if strings.HasPrefix(ct, "application/json") {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, errors.New("the body is not a JSON object: " + err.Error())
		}
		for k, v := range m {
			switch v := v.(type) {
			case string:
				args[k] = v
			case float64:
				args[k] = strconv.FormatFloat(v, 'f', -1, 64)
			case bool:
				args[k] = strconv.FormatBool(v)
			case []any: // by as a list
				var parts []string
				for _, p := range v {
					if s, ok := p.(string); ok {
						parts = append(parts, s)
					}
				}
				args[k] = strings.Join(parts, ",")
			}
		}
		return args, nil
	}
	var form fasthttp.Args
	form.ParseBytes(body)
	form.VisitAll(func(k, v []byte) { args[string(k)] = string(v) })
	return args, nil
}

// watchClose reads conn until the client closes it (then cancel) or stop
// is called. A question's request has been read whole, and the connection
// closes after the answer, so nothing it reads belongs to anyone.
func watchClose(conn net.Conn, cancel context.CancelFunc) (stop func()) {
	if conn == nil {
		return func() {}
	}
	var stopped atomic.Bool
	exited := make(chan struct{})
	// No deadline while watching (fasthttp's read_timeout may be set); set
	// here, before the goroutine, so that stop's deadline always wins.
	conn.SetReadDeadline(time.Time{})
	go func() {
		defer close(exited)
		buf := make([]byte, 512)
		for {
			_, err := conn.Read(buf)
			if err != nil {
				if !stopped.Load() {
					cancel()
				}
				return
			}
		}
	}()
	return sync.OnceFunc(func() {
		stopped.Store(true)
		conn.SetReadDeadline(time.Now())
		<-exited
	})
}

// ui is GET /ui/[<asset>]: the explorer page, to tokens with the role read.
func (h *Server) ui(ctx *fasthttp.RequestCtx, _ es.Call) {
	const ep = "/ui"
	if !h.isGet(ctx, ep) || !h.readAccess(ctx, ep, "the read API and the explorer", "ingestd") {
		return
	}
	if h.explore == nil {
		h.reply(ctx, ep, native.Error(&adapter.Error{Status: 404, Message: "the explorer is not served by this daemon"}))
		return
	}
	name := strings.TrimPrefix(string(ctx.Path()), "/ui")
	if name == "" { // the page's relative links need the slash
		loc := "/ui/"
		if q := ctx.QueryArgs().QueryString(); len(q) > 0 {
			loc += "?" + string(q)
		}
		h.reply(ctx, ep, adapter.Reply{Status: 302, Header: []string{"Location", loc}})
		return
	}
	name = strings.TrimPrefix(name, "/")
	if name == "" {
		name = "index.html"
	}
	b, err := ui.Files.ReadFile(name)
	if err != nil || strings.Contains(name, "/") {
		h.reply(ctx, ep, native.Error(&adapter.Error{Status: 404, Message: "no such file"}))
		return
	}
	ct := "text/html; charset=utf-8"
	switch {
	case strings.HasSuffix(name, ".js"):
		ct = "text/javascript; charset=utf-8"
	case strings.HasSuffix(name, ".css"):
		ct = "text/css; charset=utf-8"
	}
	ctx.Response.Header.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'")
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	h.reply(ctx, ep, adapter.Reply{Status: 200, ContentType: ct, Body: b})
}
