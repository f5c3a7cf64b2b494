// Package otlpgrpc serves OTLP logs over gRPC (otlp.listen_grpc, OTLP's
// port 4317): the standard opentelemetry.proto.collector.logs.v1
// LogsService/Export, which the OpenTelemetry Collector's otlp exporter and
// the SDKs' gRPC exporters call.
//
// The request message is not unmarshalled by gRPC: a pass-through codec
// hands its protobuf bytes to the same wire decoder OTLP/HTTP uses
// (ingest/adapter/otlp), so both transports store the same records and
// neither builds pdata. The answer is an ExportLogsServiceResponse with
// partial_success for records the rules refused. A refusal is a gRPC
// status as the OTLP specification maps them: INVALID_ARGUMENT (not
// retried), UNAUTHENTICATED, PERMISSION_DENIED, and for throttling, full
// buffers, an unavailable store or a full disk RESOURCE_EXHAUSTED or
// UNAVAILABLE with a RetryInfo, which clients retry after its delay.
// Success means what it means on every protocol: every accepted record is
// durable.
package otlpgrpc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	_ "google.golang.org/grpc/encoding/gzip" // clients' gzip compression
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"golang.org/x/net/netutil"

	"github.com/ingestd/ingestd/ingest"
	"github.com/ingestd/ingestd/ingest/adapter"
	"github.com/ingestd/ingestd/ingest/adapter/otlp"
)

// Config is the listener's own configuration; cmd maps otlp.listen_grpc
// and the http limits onto it.
type Config struct {
	MaxMessage     int           // one request message, after decompression (http.max_body)
	MaxConnections int           // open connections at once (http.max_connections)
	MaxStreams     uint32        // concurrent calls per connection (100)
	MaxBytes       int64         // messages held at once, all calls together (buffers.max_request_bytes)
	IdleTimeout    time.Duration // a connection without calls this long is closed (http.idle_timeout)
	FlatResource   bool          // otlp.resource: flat
	// TLS, when set, serves gRPC over TLS (the main listener's
	// certificate, reloaded as it is).
	TLS *tls.Config
}

// Server is the gRPC listener.
type Server struct {
	core *ingest.Core
	cfg  Config
	log  *slog.Logger
	srv  *grpc.Server
	msgs sync.Pool    // *message
	used atomic.Int64 // bytes of the messages being handled
}

// New returns a server writing through core.
func New(core *ingest.Core, cfg Config, log *slog.Logger) *Server {
	if cfg.MaxStreams == 0 {
		cfg.MaxStreams = 100
	}
	s := &Server{core: core, cfg: cfg, log: log}
	s.msgs.New = func() any { return &message{} }
	opts := []grpc.ServerOption{
		grpc.ForceServerCodecV2(rawCodec{s}),
		grpc.MaxRecvMsgSize(cfg.MaxMessage),
		grpc.MaxConcurrentStreams(cfg.MaxStreams),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: cfg.IdleTimeout}),
	}
	if cfg.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg.TLS)))
	}
	s.srv = grpc.NewServer(opts...)
	s.srv.RegisterService(&serviceDesc, s)
	return s
}

// Serve serves ln until Stop; at most Config.MaxConnections connections
// are open at once (more wait in the kernel's backlog).
func (s *Server) Serve(ln net.Listener) error {
	if s.cfg.MaxConnections > 0 {
		ln = netutil.LimitListener(ln, s.cfg.MaxConnections)
	}
	err := s.srv.Serve(ln)
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// StopWithin closes the listener and lets calls in flight finish (their
// records are committed and answered) until ctx is done, then cuts them
// off: a client whose call was cut retries it.
func (s *Server) StopWithin(ctx context.Context) {
	done := make(chan struct{})
	go func() { s.srv.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.srv.Stop()
		<-done
	}
}

// serviceDesc is OTLP's LogsService with its one method.
var serviceDesc = grpc.ServiceDesc{
	ServiceName: "opentelemetry.proto.collector.logs.v1.LogsService",
	HandlerType: (*any)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Export", Handler: exportHandler}},
	Metadata:    "opentelemetry/proto/collector/logs/v1/logs_service.proto",
}

// message holds one request's protobuf bytes, pooled; busy when it could
// not be taken within Config.MaxBytes.
type message struct {
	b    []byte
	busy bool
}

func exportHandler(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
	s := srv.(*Server)
	m := s.msgs.Get().(*message)
	defer s.msgs.Put(m)
	if err := dec(m); err != nil {
		return nil, err
	}
	if m.busy {
		return nil, Status(&adapter.Error{Status: 503, Code: adapter.CodeBusy, RetryAfter: 1,
			Message: "messages being handled are over buffers.max_request_bytes; retry"})
	}
	defer s.used.Add(-int64(len(m.b)))
	return s.export(ctx, m.b)
}

// export stores one ExportLogsServiceRequest and returns the response's
// protobuf bytes.
func (s *Server) export(ctx context.Context, body []byte) (any, error) {
	var auth []byte
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("authorization"); len(v) > 0 {
			auth = []byte(v[0])
		}
	}
	w, e := s.core.Begin(auth, "otlp_grpc")
	if e != nil {
		return nil, Status(e)
	}
	ok := false
	defer func() { w.Done(ok) }()
	recs, e := otlp.Records(w.Scratch(), body, otlp.Protobuf, otlp.Mapping{Max: s.cfg.MaxMessage, FlatResource: s.cfg.FlatResource})
	w.KeepScratch(recs)
	if e != nil {
		w.Refuse(e)
		if e.Reason != "" {
			s.core.RejectRequest(e.Reason)
		}
		return nil, Status(e)
	}
	res, e := w.Commit(recs, otlp.Options)
	if e != nil {
		return nil, Status(e)
	}
	ok = true
	r := otlp.Answer(res, otlp.Protobuf)
	if r.Status != 200 {
		return nil, status.Error(codes.Internal, string(r.Body))
	}
	return r.Body, nil
}

// Status maps a refusal to the gRPC status the OTLP specification gives it:
// what a client may retry carries a RetryInfo with the delay.
func Status(e *adapter.Error) error {
	var c codes.Code
	switch {
	case e.Code == adapter.CodeUnauthorized:
		c = codes.Unauthenticated
	case e.Code == adapter.CodeForbidden:
		c = codes.PermissionDenied
	case e.Status == 429:
		c = codes.ResourceExhausted
	case e.Status == 413:
		c = codes.InvalidArgument // a message over the limit is never accepted: not retried
	case e.Status == 503 || e.Status == 507:
		c = codes.Unavailable
	case e.Status >= 500:
		c = codes.Internal
	default:
		c = codes.InvalidArgument
	}
	st := status.New(c, e.Error())
	if c == codes.ResourceExhausted || c == codes.Unavailable {
		delay := time.Duration(max(e.RetryAfter, 1)) * time.Second
		if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(delay)}); err == nil {
			st = d
		}
	}
	return st.Err()
}

// rawCodec passes messages through as protobuf bytes: a request into a
// pooled *message, a response from []byte.
type rawCodec struct{ s *Server }

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("otlpgrpc: cannot marshal %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

func (c rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*message)
	if !ok {
		return fmt.Errorf("otlpgrpc: cannot unmarshal into %T", v)
	}
	m.b, m.busy = m.b[:0], false
	n := int64(data.Len())
	if lim := c.s.cfg.MaxBytes; lim > 0 && c.s.used.Add(n) > lim {
		c.s.used.Add(-n)
		m.busy = true
		return nil
	} else if lim <= 0 {
		c.s.used.Add(n)
	}
	for _, buf := range data {
		m.b = append(m.b, buf.ReadOnlyData()...)
	}
	return nil
}
