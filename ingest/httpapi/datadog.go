package httpapi

import (
	"bytes"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/ingestd/ingestd/ingest/adapter"
	"github.com/ingestd/ingestd/ingest/adapter/datadog"
	"github.com/ingestd/ingestd/ingest/adapter/es"
)

// ddLogs is Datadog's POST /api/v2/logs (and /api/v1/input): JSON logs, or
// text/plain lines on the v1 path.
func (h *Server) ddLogs(ctx *fasthttp.RequestCtx, _ es.Call) {
	start := time.Now()
	defer func() { h.ack.Observe(time.Since(start).Seconds()) }()
	ep := "/api/v2/logs"
	v1 := bytes.Contains(ctx.Path(), []byte("/v1/input"))
	if v1 {
		ep = "/api/v1/input"
	}
	if !ctx.IsPost() {
		r := datadog.Error(&adapter.Error{Status: 405, Message: "method not allowed; use POST"})
		r.Header = append(r.Header, "Allow", "POST")
		h.reply(ctx, ep, r)
		return
	}
	q := ctx.QueryArgs()
	w := &datadog.Writer{QueryTags: q.Peek("ddtags"), Source: q.Peek("ddsource"), Service: q.Peek("service"), Hostname: q.Peek("hostname")}
	records := w.Logs
	if v1 && !bytes.Contains(ctx.Request.Header.ContentType(), []byte("json")) {
		records = w.Lines
	}
	h.write(ctx, ep, adapted{protocol: "datadog", records: records, options: datadog.Options,
		answer: func(*adapter.Result) adapter.Reply { return datadog.Answer() },
		refuse: datadog.Error,
	})
}

// ddValidate is Datadog's GET|POST /api/v1/validate: is the API key known?
func (h *Server) ddValidate(ctx *fasthttp.RequestCtx, _ es.Call) {
	const ep = "/api/v1/validate"
	if !h.core.Authorized(credentials(ctx)) {
		h.reply(ctx, ep, datadog.Error(&adapter.Error{Status: 403, Code: adapter.CodeUnauthorized, Message: "unknown API key"}))
		return
	}
	h.reply(ctx, ep, datadog.Valid())
}

func refuseDatadog(_ *fasthttp.RequestCtx, e *adapter.Error) adapter.Reply { return datadog.Error(e) }

// credentials returns the request's credentials as an Authorization header
// value: the header itself, or a key carried where a protocol puts it
// (Datadog's DD-API-KEY header, its /v1/input/<key> path or ?dd-api-key=)
// as a bearer token.
func credentials(ctx *fasthttp.RequestCtx) []byte {
	if a := ctx.Request.Header.Peek("Authorization"); len(a) > 0 {
		return a
	}
	key := ctx.Request.Header.Peek("DD-API-KEY")
	if len(key) == 0 {
		if _, k, ok := bytes.Cut(ctx.Path(), []byte("/v1/input/")); ok && len(k) > 0 {
			key = k
		}
	}
	if len(key) == 0 {
		key = ctx.QueryArgs().Peek("dd-api-key")
	}
	if len(key) == 0 {
		return nil
	}
	return append([]byte("Bearer "), key...)
}
