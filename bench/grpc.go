package bench

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// exportMethod is OTLP's LogsService/Export.
const exportMethod = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"

// grpcClients are one gRPC connection per load connection, sending the
// generator's OTLP protobuf bodies as they are (a pass-through codec: no
// pdata on the client either, so the client costs what the HTTP one does).
type grpcClients struct {
	conns []*grpc.ClientConn
	ctx   context.Context
}

func newGRPCClients(url, token string, n int) (*grpcClients, error) {
	addr := strings.TrimPrefix(strings.TrimPrefix(url, "http://"), "grpc://")
	addr = strings.TrimRight(addr, "/")
	g := &grpcClients{ctx: context.Background()}
	if token != "" {
		g.ctx = metadata.AppendToOutgoingContext(g.ctx, "authorization", "Bearer "+token)
	}
	for i := 0; i < n; i++ {
		cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.ForceCodecV2(passCodec{}), grpc.MaxCallRecvMsgSize(1<<20)))
		if err != nil {
			g.close()
			return nil, fmt.Errorf("bench: gRPC client for %s: %w", addr, err)
		}
		g.conns = append(g.conns, cc)
	}
	return g, nil
}

// export sends body on connection c and returns the answer's status (the
// gRPC code's name, "200" for OK, as the HTTP path reports success) and
// the response message.
func (g *grpcClients) export(c int, body []byte, timeout context.Context) (string, []byte, error) {
	var resp []byte
	err := g.conns[c].Invoke(timeout, exportMethod, body, &resp)
	if err != nil {
		// A refusal the daemon sent is definite (nothing stored); a broken
		// or timed-out call may have been stored whole, as an HTTP
		// request without an answer: "error". The daemon's UNAVAILABLE
		// carries a RetryInfo; the transport's does not.
		st, ok := status.FromError(err)
		switch {
		case !ok, st.Code() == codes.DeadlineExceeded, st.Code() == codes.Canceled, st.Code() == codes.Unknown,
			st.Code() == codes.Unavailable && len(st.Details()) == 0:
			return "error", nil, err
		}
		return st.Code().String(), nil, nil
	}
	return "200", resp, nil
}

func (g *grpcClients) close() {
	for _, c := range g.conns {
		c.Close()
	}
}

// passCodec sends []byte as the message and receives into *[]byte.
type passCodec struct{}

func (passCodec) Name() string { return "proto" }

func (passCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("bench: cannot marshal %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

func (passCodec) Unmarshal(data mem.BufferSlice, v any) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("bench: cannot unmarshal into %T", v)
	}
	*p = data.Materialize()
	return nil
}
