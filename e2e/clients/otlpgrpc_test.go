package clients

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/ingestd/ingestd/internal/e2e"
)

// The OpenTelemetry Go SDK's gRPC exporter (otlploggrpc), unmodified,
// sends to otlp.listen_grpc in plain text with gzip, and over TLS checking
// the daemon's certificate; every record is stored once, mapped as
// OTLP/HTTP maps it.
func TestOTLPGRPCGoSDKExporter(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"plain", "tls"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cfg := "auth:\n  tokens: [{name: otel-grpc, token: grpc-token-0123456789}]\notlp:\n  listen_grpc: 127.0.0.1:0\nreport:\n  schedule: \"off\"\n"
			opts := []otlploggrpc.Option{otlploggrpc.WithHeaders(map[string]string{"authorization": "Bearer grpc-token-0123456789"}),
				otlploggrpc.WithRetry(otlploggrpc.RetryConfig{Enabled: false})}
			if mode == "tls" {
				_, pool, cert, key := testCA(t, t.TempDir())
				cfg += fmt.Sprintf("tls:\n  cert_file: %s\n  key_file: %s\n", cert, key)
				opts = append(opts, otlploggrpc.WithTLSCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: "localhost"})))
			} else {
				opts = append(opts, otlploggrpc.WithInsecure(), otlploggrpc.WithCompressor("gzip"))
			}
			d := e2e.Start(t, dir, cfg)
			addr := listenerAddr(t, d, `msg="listening for OTLP/gRPC" addr=(\S+)`)
			exp, err := otlploggrpc.New(context.Background(), append(opts, otlploggrpc.WithEndpoint(addr))...)
			if err != nil {
				t.Fatal(err)
			}
			res := resource.NewSchemaless(attribute.String("service.name", "checkout"))
			lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)), sdklog.WithResource(res))
			logger := lp.Logger("shop/grpc", otellog.WithInstrumentationVersion("2.0.1"))
			base := time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC)
			const n = 250
			for i := 0; i < n; i++ {
				var r otellog.Record
				r.SetTimestamp(base.Add(time.Duration(i) * 7654321 * time.Nanosecond))
				r.SetSeverity(otellog.SeverityError)
				r.SetSeverityText("ERROR")
				r.SetBody(attribute.StringValue(fmt.Sprintf("grpc %d failed: \"%x\"", i, i*104729)))
				r.AddAttributes(attribute.Int("i", i), attribute.Bool("retry", i%4 == 0))
				logger.Emit(context.Background(), r)
			}
			if err := lp.Shutdown(context.Background()); err != nil {
				t.Fatalf("exporter: %v", err)
			}
			d.Stop()
			got := map[int]bool{}
			for _, line := range e2e.AllStored(t, dir) {
				var s otlpStored
				if err := json.Unmarshal([]byte(line), &s); err != nil {
					t.Fatalf("stored %s: %v", line, err)
				}
				i := int(s.Attributes["i"].(float64))
				if got[i] || s.Timestamp != base.Add(time.Duration(i)*7654321*time.Nanosecond).Format(time.RFC3339Nano) ||
					s.Body != fmt.Sprintf("grpc %d failed: \"%x\"", i, i*104729) || s.SeverityText != "ERROR" ||
					s.Resource["service.name"] != "checkout" || s.Scope.Name != "shop/grpc" || s.Scope.Version != "2.0.1" ||
					s.Attributes["retry"] != (i%4 == 0) {
					t.Fatalf("record %d stored wrong or twice: %s", i, line)
				}
				got[i] = true
			}
			if len(got) != n {
				t.Fatalf("stored %d records, want %d", len(got), n)
			}
		})
	}
}

// OTLP/gRPC's answers, through pdata's own gRPC client: an empty partial
// success for a stored request, and the status codes the OTLP
// specification gives each refusal (UNAUTHENTICATED, PERMISSION_DENIED,
// INVALID_ARGUMENT; RESOURCE_EXHAUSTED with a RetryInfo when throttled).
func TestOTLPGRPCAnswers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := e2e.Start(t, dir, "auth:\n  tokens: [{name: w, token: grpc-write-0123456789, rate_limit: 5}, {name: r, token: grpc-read-0123456789, role: read}]\n"+
		"otlp:\n  listen_grpc: 127.0.0.1:0\nhttp:\n  max_body: 64KiB\nreport:\n  schedule: \"off\"\n")
	addr := listenerAddr(t, d, `msg="listening for OTLP/gRPC" addr=(\S+)`)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := plogotlp.NewGRPCClient(conn)
	req := func(bodies ...string) plogotlp.ExportRequest {
		ld := plog.NewLogs()
		sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
		for _, b := range bodies {
			lr := sl.LogRecords().AppendEmpty()
			lr.SetTimestamp(1793700000 * 1e9)
			lr.Body().SetStr(b)
		}
		return plogotlp.NewExportRequestFromLogs(ld)
	}
	call := func(tok string, r plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
		ctx := context.Background()
		if tok != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
		}
		return client.Export(ctx, r)
	}
	resp, err := call("grpc-write-0123456789", req("one", "two"))
	if err != nil || resp.PartialSuccess().RejectedLogRecords() != 0 {
		t.Fatalf("a good request: %v %v", err, resp)
	}
	for _, c := range []struct {
		tok  string
		r    plogotlp.ExportRequest
		code codes.Code
		want string
	}{
		{"", req("x"), codes.Unauthenticated, "token"},
		{"wrong-0123456789", req("x"), codes.Unauthenticated, "token"},
		{"grpc-read-0123456789", req("x"), codes.PermissionDenied, "read"},
		{"grpc-write-0123456789", req(strings.Repeat("y", 70<<10)), codes.ResourceExhausted, "larger than max"},
	} {
		_, err := call(c.tok, c.r)
		if st := status.Convert(err); st.Code() != c.code || !strings.Contains(st.Message(), c.want) {
			t.Errorf("token %q: %v, want %s containing %q", c.tok, err, c.code, c.want)
		}
	}
	// Throttled: the rate limit of 5 records/s runs out; the status says
	// when to retry.
	var throttled *status.Status
	for i := 0; i < 20 && throttled == nil; i++ {
		if _, err := call("grpc-write-0123456789", req("a", "b", "c", "d", "e", "f")); err != nil {
			throttled = status.Convert(err)
		}
	}
	if throttled == nil || throttled.Code() != codes.ResourceExhausted {
		t.Fatalf("no RESOURCE_EXHAUSTED under the rate limit: %v", throttled)
	}
	var retry *errdetails.RetryInfo
	for _, det := range throttled.Details() {
		if ri, ok := det.(*errdetails.RetryInfo); ok {
			retry = ri
		}
	}
	if retry == nil || retry.RetryDelay.AsDuration() < time.Second {
		t.Fatalf("throttled without a RetryInfo: %v", throttled.Details())
	}
	d.Stop()
	n := 0
	for _, l := range e2e.AllStored(t, dir) {
		if strings.Contains(l, `"body":"one"`) || strings.Contains(l, `"body":"two"`) {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("stored %d of the good request's 2 records", n)
	}
}
