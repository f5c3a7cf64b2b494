package ingest

import (
	"strconv"
	"time"

	"github.com/ingestd/ingestd/record"

	"github.com/valyala/fasthttp"
)

// lokiPush takes Loki's JSON push format:
//
//	{"streams":[{"stream":{"label":"value",...},"values":[["<unix ns>","<line>"(,{metadata})],...]}]}
//
// Each value becomes one record:
//
//	{"timestamp":"<RFC 3339, ns>","labels":{...},"line":"<line>"(,"metadata":{...})}
//
// With loki.merge_json_lines, a line that is itself a JSON object has its
// fields merged into the record instead of "line". The answer is 204, as
// Loki's; every record is durable before it.
func (s *Server) lokiPush(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	defer func() { s.m.ack.observe(time.Since(start)) }()
	if !ctx.IsPost() {
		ctx.Response.Header.Set("Allow", "POST")
		s.answerErr(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed; use POST", 0)
		return
	}
	if ct := string(ctx.Request.Header.ContentType()); len(ct) >= 22 && ct[:22] == "application/x-protobuf" {
		s.answerErr(ctx, fasthttp.StatusUnsupportedMediaType, "ingestd takes Loki's JSON push format; configure the client for JSON (application/json)", 0)
		return
	}
	prod, body, st, done, ok := s.open(ctx)
	defer done()
	if !ok {
		return
	}
	recs := st.payload[:0]
	merge := s.cfg.Loki.MergeJSONLines
	l := lexer{b: body}
	l.object(func(k []byte) {
		if string(k) != `"streams"` {
			l.value()
			return
		}
		l.array(func(int) {
			var labels []byte
			l.object(func(k []byte) {
				switch string(k) {
				case `"stream"`:
					labels = l.value()
				case `"values"`:
					l.array(func(int) {
						var ts, line, meta []byte
						l.array(func(i int) {
							v := l.value()
							switch i {
							case 0:
								ts = v
							case 1:
								line = v
							case 2:
								meta = v
							}
						})
						if l.err == nil {
							recs = appendLokiRecord(recs, ts, line, labels, meta, merge)
						}
					})
				default:
					l.value()
				}
			})
		})
	})
	st.payload = recs
	if l.err == nil && l.peek() != 0 {
		l.err = errEnvelope
	}
	if l.err != nil {
		s.m.rejectRequest(record.ReasonInvalidJSON)
		s.answerErr(ctx, fasthttp.StatusBadRequest, "loki push: malformed JSON body at byte "+strconv.Itoa(l.i), 0)
		return
	}
	if re := s.parse(st, recs, start, false); re != nil {
		s.m.rejectRequest(re.Reason)
		s.answerErr(ctx, fasthttp.StatusBadRequest, "loki push: entry "+strconv.Itoa(re.Line)+": "+re.Msg, 0)
		return
	}
	if !s.persist(ctx, prod, st) {
		return
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	s.m.code("/loki/api/v1/push", fasthttp.StatusNoContent)
}

// appendLokiRecord appends one record for a Loki entry. A timestamp that is
// not a string of digits is kept as it is, so the parser refuses the entry.
func appendLokiRecord(dst, ts, line, labels, meta []byte, merge bool) []byte {
	dst = append(dst, `{"timestamp":`...)
	if ns, ok := unquote(ts); ok {
		if n, err := strconv.ParseInt(ns, 10, 64); err == nil {
			dst = append(dst, '"')
			dst = time.Unix(0, n).UTC().AppendFormat(dst, time.RFC3339Nano)
			dst = append(dst, '"')
		} else {
			dst = append(dst, ts...)
		}
	} else {
		dst = append(dst, "null"...)
	}
	if len(labels) > 0 {
		dst = append(dst, `,"labels":`...)
		dst = append(dst, labels...)
	}
	if len(meta) > 0 {
		dst = append(dst, `,"metadata":`...)
		dst = append(dst, meta...)
	}
	text, ok := unquote(line)
	if merge && ok && len(text) > 2 && text[0] == '{' && text[len(text)-1] == '}' {
		dst = append(dst, ',')
		dst = append(dst, text[1:]...) // the line's own fields; the parser validates them
	} else {
		dst = append(dst, `,"line":`...)
		if line == nil {
			line = []byte("null")
		}
		dst = append(dst, line...)
		dst = append(dst, '}')
	}
	return append(dst, '\n')
}
