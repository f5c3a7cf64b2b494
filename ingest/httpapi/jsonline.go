package httpapi

import (
	"time"

	"github.com/valyala/fasthttp"

	"github.com/ingestd/ingestd/ingest/adapter"
	"github.com/ingestd/ingestd/ingest/adapter/es"
	"github.com/ingestd/ingestd/ingest/adapter/jsonline"
	"github.com/ingestd/ingestd/ingest/adapter/native"
)

// jsonLine is VictoriaLogs' POST /insert/jsonline: NDJSON with the special
// fields named in the query (_time_field, _msg_field, _stream_fields) or
// in VL-* headers.
func (h *Server) jsonLine(ctx *fasthttp.RequestCtx, _ es.Call) {
	start := time.Now()
	defer func() { h.ack.Observe(time.Since(start).Seconds()) }()
	const ep = "/insert/jsonline"
	if !ctx.IsPost() {
		r := native.Error(&adapter.Error{Status: 405, Message: "method not allowed; use POST"})
		r.Header = append(r.Header, "Allow", "POST")
		h.reply(ctx, ep, r)
		return
	}
	param := func(q, hdr string) []byte {
		if v := ctx.QueryArgs().Peek(q); len(v) > 0 {
			return v
		}
		return ctx.Request.Header.Peek(hdr)
	}
	w := &jsonline.Writer{TimeField: param("_time_field", "VL-Time-Field"), MsgFields: param("_msg_field", "VL-Msg-Field"),
		StreamFields: param("_stream_fields", "VL-Stream-Fields")}
	var answer []byte
	h.write(ctx, ep, adapted{protocol: "native", records: w.Records,
		options: w.Options(func(res *adapter.Result) []byte {
			answer = native.AppendAnswer(answer[:0], res, true)
			return answer
		}),
		answer: func(res *adapter.Result) adapter.Reply {
			if answer == nil {
				answer = native.AppendAnswer(nil, res, true)
			}
			return native.Answer(answer)
		},
		refuse: native.Error,
	})
}
