package httpapi

import (
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/ingestd/ingestd/ingest/adapter"
	"github.com/ingestd/ingestd/ingest/adapter/es"
	"github.com/ingestd/ingestd/ingest/adapter/hec"
	"github.com/ingestd/ingestd/ingest/adapter/loki"
	"github.com/ingestd/ingestd/ingest/adapter/native"
	"github.com/ingestd/ingestd/ingest/adapter/otlp"
)

// protocol is one row of the table of HTTP APIs the daemon answers. A new
// HTTP protocol is one row here and one adapter package under
// ingest/adapter; nothing else in the server knows paths (internal/layout
// holds that).
type protocol struct {
	name     string   // the protocol label of the per-protocol metrics; "" for the daemon's own endpoints
	endpoint string   // the path label of ingestd_http_requests_total, from a fixed set
	paths    []string // the exact paths it serves
	prefix   string   // or every path under this one
	// classify, instead of paths, picks the requests of an API whose paths
	// carry names (Elasticsearch's /<index>/_bulk): ok, the endpoint label
	// and whether it writes.
	classify func(method, path string) (call es.Call, endpoint string, write, ok bool)
	write    bool // stores records: an Expect: 100-continue checks the token first
	serve    func(h *Server, ctx *fasthttp.RequestCtx, call es.Call)
	// refuse shapes a refusal made before serve ran (an Expect:
	// 100-continue, fasthttp's own errors) in the protocol's error shape.
	refuse func(ctx *fasthttp.RequestCtx, e *adapter.Error) adapter.Reply
}

// protocols is the table. Order matters only among rows that could claim
// the same path: exact paths first, then prefixes, then classifiers.
var protocols = []protocol{
	{name: "native", endpoint: "/v1/ingest", paths: []string{"/v1/ingest"}, write: true, serve: (*Server).ingest, refuse: refuseNative},
	{name: "otlp", endpoint: "/v1/logs", paths: []string{"/v1/logs"}, write: true, serve: (*Server).otlpLogs, refuse: refuseOTLP},
	{name: "loki", endpoint: "/loki/api/v1/push", paths: []string{"/loki/api/v1/push"}, write: true, serve: (*Server).lokiPush, refuse: refuseLoki},
	{name: "hec", endpoint: "/services/collector", paths: []string{"/services/collector", "/services/collector/event", "/services/collector/event/1.0"},
		write: true, serve: (*Server).hecEvents, refuse: refuseHEC},
	{name: "hec", endpoint: "/services/collector/raw", paths: []string{"/services/collector/raw", "/services/collector/raw/1.0"},
		write: true, serve: (*Server).hecRaw, refuse: refuseHEC},
	{name: "hec", endpoint: "/services/collector/health", paths: []string{"/services/collector/health", "/services/collector/health/1.0"},
		serve: (*Server).hecHealth, refuse: refuseHEC},
	{name: "hec", endpoint: "/services/collector/ack", paths: []string{"/services/collector/ack", "/services/collector/ack/1.0"},
		serve: (*Server).hecAck, refuse: refuseHEC},
	{name: "datadog", endpoint: "/api/v2/logs", paths: []string{"/api/v2/logs"},
		write: true, serve: (*Server).ddLogs, refuse: refuseDatadog},
	{name: "datadog", endpoint: "/api/v1/input", paths: []string{"/api/v1/input", "/v1/input"},
		write: true, serve: (*Server).ddLogs, refuse: refuseDatadog},
	{name: "datadog", endpoint: "/api/v1/input", prefix: "/api/v1/input/", write: true, serve: (*Server).ddLogs, refuse: refuseDatadog},
	{name: "datadog", endpoint: "/api/v1/input", prefix: "/v1/input/", write: true, serve: (*Server).ddLogs, refuse: refuseDatadog},
	{name: "datadog", endpoint: "/api/v1/validate", paths: []string{"/api/v1/validate"},
		serve: (*Server).ddValidate, refuse: refuseDatadog},
	{name: "native", endpoint: "/insert/jsonline", paths: []string{"/insert/jsonline"}, write: true, serve: (*Server).jsonLine, refuse: refuseNative},
	{name: "journald", endpoint: "/upload", paths: []string{"/upload"}, write: true, serve: (*Server).journalUpload, refuse: refuseJournald},
	{name: "elasticsearch", classify: classifyES, serve: (*Server).elasticsearch, refuse: refuseES},

	{endpoint: "/healthz", paths: []string{"/healthz"}, serve: (*Server).healthz, refuse: refuseNative},
	{endpoint: "/readyz", paths: []string{"/readyz"}, serve: (*Server).readyz, refuse: refuseNative},
	{endpoint: "/metrics", paths: []string{"/metrics"}, serve: (*Server).metrics, refuse: refuseNative},
	{endpoint: "/reports", paths: []string{"/reports"}, prefix: "/reports/", serve: (*Server).reports, refuse: refuseNative},
	{endpoint: "/api/v1", prefix: "/api/v1/", serve: (*Server).api, refuse: refuseNative},
	{endpoint: "/ui", paths: []string{"/ui"}, prefix: "/ui/", serve: (*Server).ui, refuse: refuseNative},
}

// aliases are VictoriaLogs' paths for the same APIs, so that switching a
// shipper from VictoriaLogs is a change of host: a path under one of these
// prefixes is served as the rest of it (after the part kept), by the row
// that serves that.
var aliases = []struct{ prefix, keep string }{
	{"/insert/elasticsearch/", "/"},
	{"/insert/loki/", "/loki/"},
	{"/insert/opentelemetry/", "/"},
	{"/insert/datadog/", "/"},
	{"/insert/splunk/", "/"},
	{"/insert/journald/", "/"},
}

// unalias returns path with a VictoriaLogs prefix replaced, or path.
func unalias(path string) string {
	if !strings.HasPrefix(path, "/insert/") {
		return path
	}
	for _, a := range aliases {
		if rest, ok := strings.CutPrefix(path, a.prefix); ok {
			return a.keep + rest
		}
	}
	if path == "/insert/elasticsearch" {
		return "/"
	}
	return path
}

// byPath indexes the table's exact paths.
var byPath = func() map[string]*protocol {
	m := map[string]*protocol{}
	for i := range protocols {
		for _, p := range protocols[i].paths {
			if m[p] != nil {
				panic("BUG: httpapi: two protocol rows serve " + p)
			}
			m[p] = &protocols[i]
		}
	}
	return m
}()

// route is what the table decided for one request.
type route struct {
	*protocol
	endpoint string // the row's, or the classifier's
	write    bool
	call     es.Call // Elasticsearch's classification, or es.None
}

// unknown is the route of a path no row serves (404 in the native shape).
var unknown = protocol{endpoint: "other", refuse: refuseNative}

// lookup finds the request's row; ok is false for an unknown path.
func lookup(ctx *fasthttp.RequestCtx) (r route, ok bool) {
	path := unalias(string(ctx.Path()))
	if p := byPath[path]; p != nil {
		return route{protocol: p, endpoint: p.endpoint, write: p.write}, true
	}
	for i := range protocols {
		if p := &protocols[i]; p.prefix != "" && strings.HasPrefix(path, p.prefix) {
			return route{protocol: p, endpoint: p.endpoint, write: p.write}, true
		}
	}
	for i := range protocols {
		if p := &protocols[i]; p.classify != nil {
			if call, ep, write, ok := p.classify(string(ctx.Method()), path); ok {
				return route{protocol: p, endpoint: ep, write: write, call: call}, true
			}
		}
	}
	return route{protocol: &unknown, endpoint: unknown.endpoint}, false
}

// classifyES picks Elasticsearch's requests: bulk and document writes, and
// the handshake and setup calls shippers make first.
func classifyES(method, path string) (es.Call, string, bool, bool) {
	call := es.Route(method, path)
	switch call.Kind {
	case es.None:
		return call, "", false, false
	case es.Bulk, es.Doc:
		return call, "/_bulk", true, true
	}
	return call, "/_es", false, true
}

func refuseNative(_ *fasthttp.RequestCtx, e *adapter.Error) adapter.Reply { return native.Error(e) }
func refuseLoki(_ *fasthttp.RequestCtx, e *adapter.Error) adapter.Reply   { return loki.Error(e) }
func refuseES(_ *fasthttp.RequestCtx, e *adapter.Error) adapter.Reply     { return es.Error(e) }

func refuseOTLP(ctx *fasthttp.RequestCtx, e *adapter.Error) adapter.Reply {
	enc, _ := otlp.ContentType(string(ctx.Request.Header.ContentType()))
	return otlp.Error(e, enc)
}

func refuseHEC(ctx *fasthttp.RequestCtx, e *adapter.Error) adapter.Reply {
	return hec.Error(e, len(ctx.Request.Header.Peek("Authorization")) > 0)
}
