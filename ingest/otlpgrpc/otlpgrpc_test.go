package otlpgrpc

import (
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ingestd/ingestd/ingest/adapter"
)

// Every refusal maps to the code the OTLP specification gives it, and what
// a client may retry says when.
func TestStatus(t *testing.T) {
	for _, c := range []struct {
		e     adapter.Error
		code  codes.Code
		retry time.Duration
	}{
		{adapter.Error{Status: 400, Code: adapter.CodeInvalid, Message: "bad"}, codes.InvalidArgument, 0},
		{adapter.Error{Status: 401, Code: adapter.CodeUnauthorized}, codes.Unauthenticated, 0},
		{adapter.Error{Status: 403, Code: adapter.CodeForbidden}, codes.PermissionDenied, 0},
		{adapter.Error{Status: 413, Code: adapter.CodeTooLarge}, codes.InvalidArgument, 0},
		{adapter.Error{Status: 429, Code: adapter.CodeRateLimited, RetryAfter: 3}, codes.ResourceExhausted, 3 * time.Second},
		{adapter.Error{Status: 503, Code: adapter.CodeBusy}, codes.Unavailable, time.Second},
		{adapter.Error{Status: 507, Code: adapter.CodeDiskFull, RetryAfter: 30}, codes.Unavailable, 30 * time.Second},
		{adapter.Error{Status: 500, Message: "oops"}, codes.Internal, 0},
	} {
		st := status.Convert(Status(&c.e))
		var retry time.Duration
		for _, d := range st.Details() {
			if ri, ok := d.(*errdetails.RetryInfo); ok {
				retry = ri.RetryDelay.AsDuration()
			}
		}
		if st.Code() != c.code || retry != c.retry {
			t.Errorf("%d %s: %s retry %v, want %s retry %v", c.e.Status, c.e.Code, st.Code(), retry, c.code, c.retry)
		}
	}
}
