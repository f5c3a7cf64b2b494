// Package es is the Elasticsearch adapter: it lets Filebeat, Fluent Bit,
// Vector, Logstash and Elasticsearch clients write without changes. It
// answers the handshake calls clients make first, and translates the bulk
// and single-document APIs into records with "_index" (and "_id" when the
// client gave one) added as fields, and the core's answers into
// Elasticsearch's. It knows nothing of HTTP servers, the WAL or the store.
package es

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ingestd/ingestd/ingest/adapter"
	"github.com/ingestd/ingestd/internal/jsonx"
)

// Version is the Elasticsearch version announced to clients.
const Version = "8.11.0"

var idSeq atomic.Uint64

func init() { idSeq.Store(uint64(time.Now().UnixNano())) }

// Kind is what an Elasticsearch request asks for.
type Kind int

// Kinds of requests.
const (
	None    Kind = iota // not an Elasticsearch path
	Info                // GET|HEAD /
	Health              // /_cluster/health
	Nodes               // /_nodes (sniffing)
	Refresh             // /_refresh, /_flush
	License             // GET /_license
	Noop                // templates, policies, pipelines, index creation
	Bulk                // /_bulk, /<index>/_bulk
	Doc                 // /<index>/_doc[/<id>], /<index>/_create/<id>
)

// Call is one classified request.
type Call struct {
	Kind   Kind
	Method string
	Path   string
	Index  string // the path's index (Bulk, Doc)
	ID     string // Doc: the path's id, "" to generate one
	Action string // Doc: "index" or "create"
}

// Writes reports whether the call stores documents.
func (c Call) Writes() bool { return c.Kind == Bulk || c.Kind == Doc }

// Route classifies a request; Kind is None when path is not Elasticsearch's.
func Route(method, path string) Call {
	c := Call{Method: method, Path: path}
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	switch {
	case path == "/" && (method == "GET" || method == "HEAD"):
		c.Kind = Info
	case path == "/_cluster/health" || strings.HasPrefix(path, "/_cluster/health/"):
		c.Kind = Health
	case path == "/_nodes" || strings.HasPrefix(path, "/_nodes/"):
		c.Kind = Nodes
	case path == "/_refresh" || strings.HasSuffix(path, "/_refresh") || path == "/_flush" || strings.HasSuffix(path, "/_flush"):
		c.Kind = Refresh
	case len(parts) == 2 && parts[1] == "_doc" && parts[0] != "" && parts[0][0] != '_':
		c.Kind, c.Index, c.Action = Doc, parts[0], "index"
	case len(parts) == 3 && (parts[1] == "_doc" || parts[1] == "_create") && parts[0] != "" && parts[0][0] != '_' && parts[2] != "":
		c.Kind, c.Index, c.ID, c.Action = Doc, parts[0], parts[2], "index"
		if parts[1] == "_create" {
			c.Action = "create"
		}
	case path == "/_license" && method == "GET":
		c.Kind = License
	case path == "/_bulk" || strings.HasSuffix(path, "/_bulk"):
		c.Kind = Bulk
		if path != "/_bulk" {
			c.Index = strings.TrimSuffix(strings.TrimPrefix(path, "/"), "/_bulk")
		}
	case noop(path, method):
		c.Kind = Noop
	}
	return c
}

// noop matches the setup calls ingestd accepts and ignores.
func noop(path, method string) bool {
	for _, p := range []string{"/_index_template/", "/_template/", "/_component_template/", "/_ilm/policy/", "/_ingest/pipeline/", "/_data_stream/"} {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	// HEAD/PUT /<index>: an index name alone
	return (method == "HEAD" || method == "PUT") && len(path) > 1 && !strings.Contains(path[1:], "/") && path[1] != '_'
}

// Static answers the calls that store nothing; local is the address the
// request reached (for sniffing clients).
func Static(c Call, local string) adapter.Reply {
	switch c.Kind {
	case Info:
		return reply(200, `{"name":"ingestd","cluster_name":"ingestd","cluster_uuid":"aW5nZXN0ZC1pbmdlc3Rk","version":{"number":"`+Version+
			`","build_flavor":"default","build_type":"ingestd","build_hash":"ingestd","build_date":"2026-11-01T00:00:00.000Z","build_snapshot":false,`+
			`"lucene_version":"9.8.0","minimum_wire_compatibility_version":"7.17.0","minimum_index_compatibility_version":"7.0.0"},"tagline":"You Know, for Search"}`)
	case Health: // one node that takes every write
		return reply(200, `{"cluster_name":"ingestd","status":"green","timed_out":false,"number_of_nodes":1,"number_of_data_nodes":1,`+
			`"active_primary_shards":0,"active_shards":0,"relocating_shards":0,"initializing_shards":0,"unassigned_shards":0,`+
			`"delayed_unassigned_shards":0,"number_of_pending_tasks":0,"number_of_in_flight_fetch":0,"task_max_waiting_in_queue_millis":0,`+
			`"active_shards_percent_as_number":100.0}`)
	case Nodes:
		addr := string(jsonx.AppendString(nil, local))
		return reply(200, `{"_nodes":{"total":1,"successful":1,"failed":0},"cluster_name":"ingestd","nodes":{"aW5nZXN0ZA":{"name":"ingestd",`+
			`"version":"`+Version+`","roles":["data","ingest","master"],"http":{"publish_address":`+addr+`,"bound_address":[`+addr+`]}}}}`)
	case Refresh: // every acknowledged document is already durable
		return reply(200, `{"_shards":{"total":1,"successful":1,"failed":0}}`)
	case License:
		return reply(200, `{"license":{"status":"active","uid":"ingestd","type":"basic","issue_date":"2026-01-01T00:00:00.000Z","issue_date_in_millis":1767225600000,"max_nodes":1000,"issued_to":"ingestd","issuer":"ingestd","start_date_in_millis":-1}}`)
	case Noop:
		if c.Method == "HEAD" {
			return adapter.Reply{Status: 200, Header: []string{"X-Elastic-Product", "Elasticsearch"}}
		}
		return reply(200, `{"acknowledged":true}`)
	}
	return Error(&adapter.Error{Status: 404, Type: "illegal_argument_exception", Message: "unknown Elasticsearch call " + c.Method + " " + c.Path})
}

func reply(status int, body string) adapter.Reply {
	return adapter.Reply{Status: status, ContentType: "application/json", Header: []string{"X-Elastic-Product", "Elasticsearch"}, Body: []byte(body)}
}

// Unauthorized is a secured Elasticsearch's answer to a call without
// credentials.
func Unauthorized(path string) adapter.Reply {
	r := Error(&adapter.Error{Status: 401, Code: adapter.CodeUnauthorized, Message: "missing authentication credentials for REST request [" + path + "]"})
	r.Header = append(r.Header, "WWW-Authenticate", `Bearer realm="ingestd"`)
	return r
}

// errorType names the Elasticsearch exception for a refusal.
func errorType(e *adapter.Error) string {
	switch {
	case e.Type != "":
		return e.Type
	case e.Code == adapter.CodeUnauthorized || e.Code == adapter.CodeForbidden:
		return "security_exception"
	case e.Code == adapter.CodeTooLarge:
		return "content_too_long_exception"
	case e.Code == adapter.CodeRateLimited || e.Code == adapter.CodeBusy:
		return "es_rejected_execution_exception"
	case e.Code == adapter.CodeUnavailable || e.Code == adapter.CodeDiskFull || e.Code == adapter.CodeFailed:
		return "cluster_block_exception"
	case e.Code == adapter.CodeUnsupported:
		return "media_type_header_exception"
	case e.Status == 405:
		return "method_not_allowed"
	}
	return "parse_exception"
}

// Error renders a refusal as Elasticsearch does:
// {"error":{"root_cause":[…],"type":…,"reason":…},"status":N}.
func Error(e *adapter.Error) adapter.Reply {
	typ := errorType(e)
	reason := string(jsonx.AppendString(nil, e.Error()))
	r := reply(e.Status, `{"error":{"root_cause":[{"type":"`+typ+`","reason":`+reason+`}],"type":"`+typ+`","reason":`+reason+`},"status":`+strconv.Itoa(e.Status)+`}`)
	if e.RetryAfter > 0 {
		r.Header = append(r.Header, "Retry-After", strconv.Itoa(e.RetryAfter))
	}
	return r
}

// Options are the core's options for a bulk write: a refused document is
// answered in its item, not kept as a rejected line.
var Options = adapter.Options{Skip: true}

// item is one action of a bulk request.
type item struct {
	action string // index, create, delete, update
	index  string
	id     string
	line   int    // its record's line in the rewritten body, 0 when none
	status int    // 201, or 400 with err
	err    string // reason of a refusal
}

// Write is one bulk or single-document request being translated.
type Write struct {
	call     Call
	items    []item
	warnings []string
	start    time.Time
}

// NewWrite starts translating a Bulk or Doc call.
func NewWrite(c Call) *Write { return &Write{call: c, start: time.Now()} }

// Check refuses a write call made with the wrong method.
func (w *Write) Check() *adapter.Error {
	m := w.call.Method
	switch {
	case w.call.Kind == Bulk && m != "POST" && m != "PUT":
		return &adapter.Error{Status: 405, Message: "use POST for _bulk"}
	case w.call.Kind == Doc && (w.call.ID == "" && m != "POST" || m != "POST" && m != "PUT"):
		return &adapter.Error{Status: 405, Message: "use POST /<index>/_doc, or PUT /<index>/_doc/<id>"}
	}
	return nil
}

// Records rewrites the NDJSON action/source pairs (or the one document of
// the index API) into records with _index (and _id) first, appended to dst.
// index and create store the source; delete and update are answered per
// item as unsupported.
func (w *Write) Records(dst, body []byte) ([]byte, *adapter.Error) {
	if w.call.Kind == Doc {
		// One document, maybe pretty-printed: one bulk item of its compact form.
		var line bytes.Buffer
		line.WriteString(`{"` + w.call.Action + `":{`)
		if w.call.ID != "" {
			line.WriteString(`"_id":`)
			line.Write(jsonx.AppendString(nil, w.call.ID))
		}
		line.WriteString("}}\n")
		if err := json.Compact(&line, body); err != nil {
			return dst, &adapter.Error{Status: 400, Code: adapter.CodeInvalid, Type: "document_parsing_exception", Message: "failed to parse the document: " + err.Error()}
		}
		line.WriteByte('\n')
		body = line.Bytes()
	}
	lines := 0
	for len(body) > 0 {
		action := nextLine(&body)
		if len(bytes.TrimSpace(action)) == 0 {
			continue
		}
		it := item{index: w.call.Index, status: 201}
		l := jsonx.Lexer{B: action}
		l.Object(func(k []byte) {
			if it.action != "" {
				// Elasticsearch 8 ignores other keys with a deprecation warning.
				l.Value()
				w.warnings = append(w.warnings, "unknown key ["+string(k[1:len(k)-1])+"] in a bulk action line is ignored")
				return
			}
			it.action = string(k[1 : len(k)-1])
			l.Object(func(k []byte) {
				v := l.Value()
				switch string(k) {
				case `"_index"`:
					if x, ok := jsonx.Unquote(v); ok {
						it.index = x
					}
				case `"_id"`:
					if x, ok := jsonx.Unquote(v); ok {
						it.id = x
					}
				}
			})
		})
		if l.Err != nil || it.action == "" {
			return dst, &adapter.Error{Status: 400, Code: adapter.CodeInvalid, Type: "illegal_argument_exception",
				Message: "malformed action/metadata line " + strconv.Itoa(len(w.items)+1) + ", expected {\"index\":{...}} or similar"}
		}
		switch it.action {
		case "index", "create":
			src := nextLine(&body)
			lines++
			it.line = lines
			dst = appendRecord(dst, src, it.index, it.id)
		case "update":
			nextLine(&body) // its partial document
			it.status, it.err = 400, "ingestd stores records append-only: [update] is not supported"
		case "delete":
			it.status, it.err = 400, "ingestd stores records append-only: [delete] is not supported"
		default:
			return dst, &adapter.Error{Status: 400, Code: adapter.CodeInvalid, Type: "illegal_argument_exception", Message: "unknown bulk action [" + it.action + "]"}
		}
		if it.id == "" && it.status == 201 {
			it.id = "i" + strconv.FormatUint(idSeq.Add(1), 36)
		}
		w.items = append(w.items, it)
	}
	return dst, nil
}

// Answer renders the stored write: the bulk answer with one item per
// action, or the index API's 201 for a single document.
func (w *Write) Answer(res *adapter.Result) adapter.Reply {
	if res.Rejected > 0 {
		bad := res.BadByLine()
		for i := range w.items {
			if reason, ok := bad[w.items[i].line]; ok && w.items[i].line > 0 {
				w.items[i].status, w.items[i].err = 400, reason
			}
		}
	}
	var r adapter.Reply
	if w.call.Kind == Doc && len(w.items) == 1 {
		it := w.items[0]
		if it.status != 201 {
			r = Error(&adapter.Error{Status: 400, Code: adapter.CodeInvalid, Type: "document_parsing_exception", Message: it.err})
		} else {
			r = reply(201, `{"_index":`+string(jsonx.AppendString(nil, it.index))+`,"_id":`+string(jsonx.AppendString(nil, it.id))+
				`,"_version":1,"result":"created","_shards":{"total":1,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1}`)
		}
	} else {
		r = reply(200, "")
		r.Body = w.bulkBody(r.Body[:0])
	}
	for i, warn := range w.warnings {
		if i == 3 {
			break
		}
		r.Header = append(r.Header, "Warning", `299 Elasticsearch-`+Version+` "`+warn+`"`)
	}
	return r
}

func (w *Write) bulkBody(r []byte) []byte {
	r = append(r, `{"took":`...)
	r = strconv.AppendInt(r, time.Since(w.start).Milliseconds(), 10)
	errs := false
	for _, it := range w.items {
		errs = errs || it.status != 201
	}
	r = append(r, `,"errors":`...)
	r = strconv.AppendBool(r, errs)
	r = append(r, `,"items":[`...)
	for i, it := range w.items {
		if i > 0 {
			r = append(r, ',')
		}
		r = append(r, `{"`...)
		r = append(r, it.action...)
		r = append(r, `":{"_index":`...)
		r = jsonx.AppendString(r, it.index)
		r = append(r, `,"_id":`...)
		r = jsonx.AppendString(r, it.id)
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
		r = jsonx.AppendString(r, it.err)
		r = append(r, `}}}`...)
	}
	return append(r, "]}"...)
}

// nextLine cuts the next line off *b (without its newline).
func nextLine(b *[]byte) []byte {
	if i := bytes.IndexByte(*b, '\n'); i >= 0 {
		l := (*b)[:i]
		*b = (*b)[i+1:]
		return l
	}
	l := *b
	*b = nil
	return l
}

// appendRecord appends src as one NDJSON record with _index (and _id) as
// its first fields. A source that is not an object is appended as it is, so
// the parser refuses it with the usual reason.
func appendRecord(dst, src []byte, index, id string) []byte {
	i := 0
	for i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\r') {
		i++
	}
	if i >= len(src) || src[i] != '{' || index == "" {
		return append(append(dst, src...), '\n')
	}
	dst = append(dst, `{"_index":`...)
	dst = jsonx.AppendString(dst, index)
	if id != "" {
		dst = append(dst, `,"_id":`...)
		dst = jsonx.AppendString(dst, id)
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
