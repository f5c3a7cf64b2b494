package httpapi

import (
	"time"

	"github.com/valyala/fasthttp"

	"github.com/ingestd/ingestd/ingest/adapter"
	"github.com/ingestd/ingestd/ingest/adapter/es"
	"github.com/ingestd/ingestd/ingest/adapter/journald"
)

// journalUpload is systemd-journal-upload's POST /upload: the journal
// export format.
func (h *Server) journalUpload(ctx *fasthttp.RequestCtx, _ es.Call) {
	start := time.Now()
	defer func() { h.ack.Observe(time.Since(start).Seconds()) }()
	const ep = "/upload"
	if !ctx.IsPost() {
		r := journald.Error(&adapter.Error{Status: 405, Message: "method not allowed; use POST"})
		r.Header = append(r.Header, "Allow", "POST")
		h.reply(ctx, ep, r)
		return
	}
	dec := &journald.Decoder{}
	h.write(ctx, ep, adapted{protocol: "journald", records: dec.Records, options: journald.Options,
		answer: func(*adapter.Result) adapter.Reply { return journald.Answer() },
		refuse: journald.Error,
	})
}

func refuseJournald(_ *fasthttp.RequestCtx, e *adapter.Error) adapter.Reply { return journald.Error(e) }
