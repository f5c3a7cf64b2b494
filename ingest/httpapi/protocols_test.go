package httpapi

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/ingestd/ingestd/ingest"
)

// rowTests names, for each row of the protocol table (by its endpoint
// label), the end-to-end tests under e2e/ that send it requests: the
// first runs a real client where one exists; request-shape tests follow.
var rowTests = map[string][]string{
	"/v1/ingest":                 {"TestBodyFormsAndEncodings", "TestIdempotencyKey", "TestREADMEExamples", "TestBenchHarnessAgainstDaemon"},
	"/v1/logs":                   {"TestOTelCollectorKillRestart", "TestOTLPGoSDKExporter", "TestOTLPJSONAndErrors"},
	"/loki/api/v1/push":          {"TestLokiProtobufFromWinstonLoki", "TestLokiProtobufPush", "TestLokiMergeJSONLines"},
	"/services/collector":        {"TestHECFromSplunkLogging", "TestHECShapesAndErrors"},
	"/services/collector/raw":    {"TestHECShapesAndErrors"},
	"/services/collector/health": {"TestHECShapesAndErrors"},
	"/services/collector/ack":    {"TestHECShapesAndErrors"},
	"elasticsearch":              {"TestElasticsearchGoClientBulkIndexer", "TestElasticsearchGoClientSingleDocsAndSetup", "TestShipperRequestShapes"},
	"/healthz":                   {"TestMetricsAndHealth"},
	"/readyz":                    {"TestMetricsAndHealth"},
	"/metrics":                   {"TestMetricsAndHealth"},
	"/reports":                   {"TestRolesAndServedReports", "TestServedReportsInChromium"},
	"/api/v2/logs":               {"TestDatadogGoClient", "TestDatadogShapesAndErrors", "TestVictoriaLogsPaths"},
	"/api/v1/input":              {"TestDatadogShapesAndErrors"},
	"/api/v1/validate":           {"TestDatadogShapesAndErrors"},
	"/upload":                    {"TestJournalUpload", "TestJournalExportShapes"},
	"/insert/jsonline":           {"TestVictoriaLogsJSONLine"},
	"/api/v1":                    {"TestExplorerInChromium", "TestQueryAPIMatchesCLIAndDuckDB", "TestExploreLimitsAndDisconnect", "TestExploreRoles", "TestTail"},
	"/ui":                        {"TestExplorerInChromium", "TestExploreRoles"},
}

// Every HTTP protocol the metrics know is a row of the table; every row has
// end-to-end tests, and the tests it names exist; each path is served by
// the row that claims it.
func TestProtocolTable(t *testing.T) {
	src := ""
	files, _ := filepath.Glob(filepath.Join("..", "..", "e2e", "*", "*_test.go"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src += string(b)
	}
	if len(files) == 0 {
		t.Fatal("no end-to-end test files found under e2e/")
	}
	names := map[string]bool{}
	for _, p := range protocols {
		key := p.endpoint
		if p.classify != nil {
			key = p.name
		}
		names[p.name] = true
		tests, ok := rowTests[key]
		if !ok || len(tests) == 0 {
			t.Errorf("row %q has no end-to-end test in rowTests", key)
		}
		for _, name := range tests {
			if !regexp.MustCompile(`(?m)^func ` + name + `\(t \*testing\.T\)`).MatchString(src) {
				t.Errorf("row %q names %s, which no test under e2e/ has", key, name)
			}
		}
		if p.serve == nil || p.refuse == nil {
			t.Errorf("row %q lacks a handler or a refusal shape", key)
		}
		for _, path := range p.paths {
			if byPath[path] != &protocols[slices.IndexFunc(protocols, func(q protocol) bool { return slices.Contains(q.paths, path) })] {
				t.Errorf("%s is not served by its row", path)
			}
		}
	}
	for _, proto := range ingest.Protocols {
		if proto != "syslog" && proto != "otlp_grpc" && proto != "fluent" && !names[proto] { // syslog, OTLP/gRPC and forward are not HTTP
			t.Errorf("protocol %s (ingest.Protocols) has no row in the HTTP protocol table", proto)
		}
	}
	for key := range rowTests {
		found := false
		for _, p := range protocols {
			if p.endpoint == key || p.classify != nil && p.name == key {
				found = true
			}
		}
		if !found {
			t.Errorf("rowTests names %q, which is no row", key)
		}
	}
}

// Each VictoriaLogs path is served by the row of the path it stands for.
func TestVictoriaLogsAliases(t *testing.T) {
	for alias, want := range map[string]string{
		"/insert/elasticsearch/_bulk":             "/_bulk",
		"/insert/elasticsearch":                   "/",
		"/insert/elasticsearch/logs-x/_bulk":      "/logs-x/_bulk",
		"/insert/loki/api/v1/push":                "/loki/api/v1/push",
		"/insert/opentelemetry/v1/logs":           "/v1/logs",
		"/insert/datadog/api/v2/logs":             "/api/v2/logs",
		"/insert/datadog/api/v1/validate":         "/api/v1/validate",
		"/insert/splunk/services/collector/event": "/services/collector/event",
		"/insert/splunk/services/collector/raw":   "/services/collector/raw",
		"/insert/unknown/x":                       "/insert/unknown/x",
		"/v1/logs":                                "/v1/logs",
	} {
		if got := unalias(alias); got != want {
			t.Errorf("unalias(%s) = %s, want %s", alias, got, want)
		}
	}
}
