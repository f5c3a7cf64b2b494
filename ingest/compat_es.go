package ingest

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ingestd/ingestd/record"

	"github.com/valyala/fasthttp"
)

// The Elasticsearch-compatible endpoints let Filebeat, Fluent Bit, Vector,
// Logstash and Elasticsearch clients write without changes: the handshake
// calls they make first, and the bulk API. Documents become records with
// "_index" (and "_id" when the client gave one) added as fields; every
// accepted document is durable before the answer, as with /v1/ingest.

// esVersion is the Elasticsearch version announced to clients.
const esVersion = "8.11.0"

var esIDSeq atomic.Uint64

func init() { esIDSeq.Store(uint64(time.Now().UnixNano())) }

// esRoute answers the Elasticsearch API; false when the path is not one.
func (s *Server) esRoute(ctx *fasthttp.RequestCtx, path string) bool {
	answer := s.esHandler(ctx, path, string(ctx.Method()))
	if answer == nil {
		return false
	}
	// A secured Elasticsearch answers nothing without credentials; nor do we
	// once tokens are configured (health and readiness stay open).
	if s.authorized(ctx) == nil {
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="ingestd"`)
		s.esError(ctx, 401, "security_exception", "missing authentication credentials for REST request ["+path+"]")
		return true
	}
	answer()
	return true
}

// esHandler is the route table of the Elasticsearch API: the answer for
// path and method, or nil when it is not one of its paths.
func (s *Server) esHandler(ctx *fasthttp.RequestCtx, path, method string) func() {
	doc := esDocPath(path)
	switch {
	case path == "/" && (method == "GET" || method == "HEAD"):
		return func() {
			ctx.Response.Header.Set("X-Elastic-Product", "Elasticsearch")
			s.esJSON(ctx, 200, `{"name":"ingestd","cluster_name":"ingestd","cluster_uuid":"aW5nZXN0ZC1pbmdlc3Rk","version":{"number":"`+esVersion+
				`","build_flavor":"default","build_type":"ingestd","build_hash":"ingestd","build_date":"2026-11-01T00:00:00.000Z","build_snapshot":false,`+
				`"lucene_version":"9.8.0","minimum_wire_compatibility_version":"7.17.0","minimum_index_compatibility_version":"7.0.0"},"tagline":"You Know, for Search"}`)
		}
	case path == "/_cluster/health" || strings.HasPrefix(path, "/_cluster/health/"):
		// Clients check it at start-up; one node that takes every write.
		return func() {
			s.esJSON(ctx, 200, `{"cluster_name":"ingestd","status":"green","timed_out":false,"number_of_nodes":1,"number_of_data_nodes":1,`+
				`"active_primary_shards":0,"active_shards":0,"relocating_shards":0,"initializing_shards":0,"unassigned_shards":0,`+
				`"delayed_unassigned_shards":0,"number_of_pending_tasks":0,"number_of_in_flight_fetch":0,"task_max_waiting_in_queue_millis":0,`+
				`"active_shards_percent_as_number":100.0}`)
		}
	case path == "/_nodes" || strings.HasPrefix(path, "/_nodes/"):
		// Sniffing clients read the nodes' addresses: this one.
		return func() {
			addr := appendJSONString(nil, ctx.LocalAddr().String())
			s.esJSON(ctx, 200, `{"_nodes":{"total":1,"successful":1,"failed":0},"cluster_name":"ingestd","nodes":{"aW5nZXN0ZA":{"name":"ingestd",`+
				`"version":"`+esVersion+`","roles":["data","ingest","master"],"http":{"publish_address":`+string(addr)+`,"bound_address":[`+string(addr)+`]}}}}`)
		}
	case path == "/_refresh" || strings.HasSuffix(path, "/_refresh") || path == "/_flush" || strings.HasSuffix(path, "/_flush"):
		// Every acknowledged document is already durable.
		return func() { s.esJSON(ctx, 200, `{"_shards":{"total":1,"successful":1,"failed":0}}`) }
	case doc != nil:
		return func() {
			if doc.id == "" && method != "POST" || method != "POST" && method != "PUT" {
				s.esError(ctx, 405, "method_not_allowed", "use POST /<index>/_doc, or PUT /<index>/_doc/<id>")
				return
			}
			s.esBulk(ctx, doc.index, doc)
		}
	case path == "/_license" && method == "GET":
		return func() {
			s.esJSON(ctx, 200, `{"license":{"status":"active","uid":"ingestd","type":"basic","issue_date":"2026-01-01T00:00:00.000Z","issue_date_in_millis":1767225600000,"max_nodes":1000,"issued_to":"ingestd","issuer":"ingestd","start_date_in_millis":-1}}`)
		}
	case path == "/_bulk" || strings.HasSuffix(path, "/_bulk"):
		return func() {
			if method != "POST" && method != "PUT" {
				s.esError(ctx, 405, "method_not_allowed", "use POST for _bulk")
				return
			}
			index := ""
			if path != "/_bulk" {
				index = strings.TrimSuffix(strings.TrimPrefix(path, "/"), "/_bulk")
			}
			s.esBulk(ctx, index, nil)
		}
	case esNoop(path, method):
		// templates, ILM policies, pipelines, index creation: accepted and
		// ignored, so shippers that set them up first carry on.
		return func() {
			if method == "HEAD" {
				ctx.Response.Header.Set("X-Elastic-Product", "Elasticsearch")
				ctx.SetStatusCode(200)
				s.m.code("/_es", 200)
				return
			}
			s.esJSON(ctx, 200, `{"acknowledged":true}`)
		}
	}
	return nil
}

// esDoc is a single-document request: /<index>/_doc[/<id>] or
// /<index>/_create/<id>.
type esDoc struct {
	index, id, action string
}

func esDocPath(path string) *esDoc {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	switch {
	case len(parts) == 2 && parts[1] == "_doc" && parts[0] != "" && parts[0][0] != '_':
		return &esDoc{index: parts[0], action: "index"}
	case len(parts) == 3 && (parts[1] == "_doc" || parts[1] == "_create") && parts[0] != "" && parts[0][0] != '_' && parts[2] != "":
		d := &esDoc{index: parts[0], id: parts[2], action: "index"}
		if parts[1] == "_create" {
			d.action = "create"
		}
		return d
	}
	return nil
}

// esNoop matches the setup calls ingestd accepts as no-ops.
func esNoop(path, method string) bool {
	for _, p := range []string{"/_index_template/", "/_template/", "/_component_template/", "/_ilm/policy/", "/_ingest/pipeline/", "/_data_stream/"} {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	// HEAD/PUT /<index>: an index name alone
	return (method == "HEAD" || method == "PUT") && len(path) > 1 && !strings.Contains(path[1:], "/") && path[1] != '_'
}

func (s *Server) esJSON(ctx *fasthttp.RequestCtx, code int, body string) {
	ctx.Response.Header.Set("X-Elastic-Product", "Elasticsearch")
	ctx.SetStatusCode(code)
	ctx.SetContentType("application/json")
	ctx.SetBodyString(body)
	s.m.code("/_es", code)
}

func (s *Server) esError(ctx *fasthttp.RequestCtx, code int, typ, reason string) {
	r := appendJSONString(nil, reason)
	s.esJSON(ctx, code, `{"error":{"root_cause":[{"type":"`+typ+`","reason":`+string(r)+`}],"type":"`+typ+`","reason":`+string(r)+`},"status":`+strconv.Itoa(code)+`}`)
}

// bulkItem is one action of a bulk request.
type bulkItem struct {
	action string // index, create, delete, update
	index  string
	id     string
	line   int    // its record's line in the rewritten body, 0 when none
	status int    // 201, or 400 with err
	err    string // reason of a refusal
}

// esBulk takes NDJSON action/source pairs. index and create store the
// source; delete and update are answered per item as unsupported. With
// doc, the body is that one document (the index API), stored as a bulk
// item and answered as Elasticsearch answers the index API.
func (s *Server) esBulk(ctx *fasthttp.RequestCtx, defIndex string, doc *esDoc) {
	start := time.Now()
	defer func() { s.m.ack.observe(time.Since(start)) }()
	ctx.Response.Header.Set("X-Elastic-Product", "Elasticsearch")
	prod, body, st, done, ok := s.open(ctx)
	defer done()
	if !ok {
		return
	}
	if doc != nil {
		// One document, maybe pretty-printed: one bulk item of its compact form.
		var line bytes.Buffer
		line.WriteString(`{"` + doc.action + `":{`)
		if doc.id != "" {
			line.WriteString(`"_id":`)
			line.Write(appendJSONString(nil, doc.id))
		}
		line.WriteString("}}\n")
		if err := json.Compact(&line, body); err != nil {
			s.esError(ctx, 400, "document_parsing_exception", "failed to parse the document: "+err.Error())
			return
		}
		line.WriteByte('\n')
		body = line.Bytes()
	}
	var warnings []string
	// Rewrite the documents into NDJSON records with _index (and _id) first.
	recs := st.payload[:0]
	var items []bulkItem
	lines := 0
	for len(body) > 0 {
		action := nextLine(&body)
		if len(strings.TrimSpace(string(action))) == 0 {
			continue
		}
		it := bulkItem{index: defIndex, status: 201}
		l := lexer{b: action}
		l.object(func(k []byte) {
			if it.action != "" {
				// Elasticsearch 8 ignores other keys with a deprecation warning.
				l.value()
				warnings = append(warnings, "unknown key ["+string(k[1:len(k)-1])+"] in a bulk action line is ignored")
				return
			}
			it.action = string(k[1 : len(k)-1])
			l.object(func(k []byte) {
				v := l.value()
				switch string(k) {
				case `"_index"`:
					if x, ok := unquote(v); ok {
						it.index = x
					}
				case `"_id"`:
					if x, ok := unquote(v); ok {
						it.id = x
					}
				}
			})
		})
		if l.err != nil || it.action == "" {
			s.esError(ctx, 400, "illegal_argument_exception", "malformed action/metadata line "+strconv.Itoa(len(items)+1)+", expected {\"index\":{...}} or similar")
			st.payload = recs
			return
		}
		switch it.action {
		case "index", "create":
			src := nextLine(&body)
			lines++
			it.line = lines
			recs = appendBulkRecord(recs, src, it.index, it.id)
		case "update":
			nextLine(&body) // its partial document
			it.status, it.err = 400, "ingestd stores records append-only: [update] is not supported"
		case "delete":
			it.status, it.err = 400, "ingestd stores records append-only: [delete] is not supported"
		default:
			s.esError(ctx, 400, "illegal_argument_exception", "unknown bulk action ["+it.action+"]")
			st.payload = recs
			return
		}
		if it.id == "" && it.status == 201 {
			it.id = "i" + strconv.FormatUint(esIDSeq.Add(1), 36)
		}
		items = append(items, it)
	}
	b := &st.batch
	re := s.parse(st, recs, start, true)
	st.payload = recs // keep the grown buffer for the pool; persist reuses it after parsing
	if re != nil {
		s.esError(ctx, 400, "parse_exception", re.Error())
		return
	}
	bad := map[int]string{}
	for _, bl := range b.Bad {
		bad[bl.Line] = bl.Err
	}
	for i := range items {
		if reason, ok := bad[items[i].line]; ok && items[i].line > 0 {
			items[i].status, items[i].err = 400, reason
		}
	}
	for i, n := range b.ByReason {
		if n > 0 {
			s.m.reject(record.Reasons[i], n)
		}
	}
	b.Bad = b.Bad[:0] // refused documents are answered per item, not kept as rejected lines
	if !s.persist(ctx, prod, st) {
		return
	}
	r := append(st.resp[:0], `{"took":`...)
	r = strconv.AppendInt(r, time.Since(start).Milliseconds(), 10)
	errs := false
	for _, it := range items {
		errs = errs || it.status != 201
	}
	r = append(r, `,"errors":`...)
	r = strconv.AppendBool(r, errs)
	r = append(r, `,"items":[`...)
	for i, it := range items {
		if i > 0 {
			r = append(r, ',')
		}
		r = append(r, `{"`...)
		r = append(r, it.action...)
		r = append(r, `":{"_index":`...)
		r = appendJSONString(r, it.index)
		r = append(r, `,"_id":`...)
		r = appendJSONString(r, it.id)
		r = append(r, `,"status":`...)
		r = strconv.AppendInt(r, int64(it.status), 10)
		if it.status == 201 {
			r = append(r, `,"result":"created","_version":1,"_shards":{"total":1,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1}}`...)
			continue
		}
		typ := "document_parsing_exception"
		if it.action == "update" || it.action == "delete" {
			typ = "action_request_validation_exception"
		}
		r = append(r, `,"error":{"type":"`...)
		r = append(r, typ...)
		r = append(r, `","reason":`...)
		r = appendJSONString(r, it.err)
		r = append(r, `}}}`...)
	}
	r = append(r, "]}"...)
	st.resp = r
	for i, w := range warnings {
		if i == 3 {
			break
		}
		ctx.Response.Header.Add("Warning", `299 Elasticsearch-`+esVersion+` "`+w+`"`)
	}
	if doc != nil && len(items) == 1 {
		s.esDocAnswer(ctx, items[0])
		return
	}
	ctx.SetStatusCode(200)
	ctx.SetContentType("application/json")
	ctx.SetBody(r)
	s.m.code("/_bulk", 200)
}

// esDocAnswer answers the index API for its one item.
func (s *Server) esDocAnswer(ctx *fasthttp.RequestCtx, it bulkItem) {
	if it.status != 201 {
		s.esError(ctx, 400, "document_parsing_exception", it.err)
		return
	}
	s.esJSON(ctx, 201, `{"_index":`+string(appendJSONString(nil, it.index))+`,"_id":`+string(appendJSONString(nil, it.id))+
		`,"_version":1,"result":"created","_shards":{"total":1,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1}`)
}

// nextLine cuts the next line off *b (without its newline).
func nextLine(b *[]byte) []byte {
	for i, c := range *b {
		if c == '\n' {
			l := (*b)[:i]
			*b = (*b)[i+1:]
			return l
		}
	}
	l := *b
	*b = nil
	return l
}

// appendBulkRecord appends src as one NDJSON record with _index (and _id)
// as its first fields. A source that is not an object is appended as it is,
// so the parser refuses it with the usual reason.
func appendBulkRecord(dst, src []byte, index, id string) []byte {
	i := 0
	for i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\r') {
		i++
	}
	if i >= len(src) || src[i] != '{' || index == "" {
		return append(append(dst, src...), '\n')
	}
	dst = append(dst, `{"_index":`...)
	dst = appendJSONString(dst, index)
	if id != "" {
		dst = append(dst, `,"_id":`...)
		dst = appendJSONString(dst, id)
	}
	rest := src[i+1:]
	j := 0
	for j < len(rest) && (rest[j] == ' ' || rest[j] == '\t' || rest[j] == '\r' || rest[j] == '\n') {
		j++
	}
	if j < len(rest) && rest[j] != '}' {
		dst = append(dst, ',')
	}
	dst = append(dst, rest...)
	return append(dst, '\n')
}
