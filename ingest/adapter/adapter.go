// Package adapter holds the protocol-free types between the intake core
// (package ingest) and the protocol adapters: what a write asks for, what the
// core answers, and the reply an adapter renders. It imports nothing of HTTP,
// the WAL or the store, so adapters built on it stay thin translations.
package adapter

import (
	"fmt"

	"github.com/ingestd/ingestd/record"
)

// Codes say why the core refused a write; adapters map them to their
// protocol's error types. Stable: tests and clients match them.
const (
	CodeUnauthorized = "unauthorized"         // 401: no or an unknown token
	CodeForbidden    = "forbidden"            // 403: the token's role does not allow it (a read-only token writing)
	CodeInvalid      = "invalid"              // 400: a bad record, envelope or header
	CodeTooLarge     = "too_large"            // 413: over a size limit
	CodeUnsupported  = "unsupported_encoding" // 415: an unknown Content-Encoding or content type
	CodeKeyReused    = "key_reused"           // 422: an Idempotency-Key sent with another request
	CodeRateLimited  = "rate_limited"         // 429: the producer's records/s limit
	CodeBusy         = "busy"                 // 503: buffers or request memory full; retry
	CodeUnavailable  = "unavailable"          // 503: recovering, stopping, or a storage failure
	CodeDiskFull     = "disk_full"            // 507: under disk.min_free, or ENOSPC
	CodeFailed       = "storage_failed"       // 507: a write or fsync failed; intake stays stopped until an operator restarts
)

// Error is a write the core (or the HTTP layer) refused: nothing of it was
// stored.
type Error struct {
	Status     int    // HTTP status
	Code       string // one of the Code constants
	Message    string // for people
	Line       int    // the refused record's line, 0 when none
	Reason     string // with CodeInvalid: the record.Reason* counted in metrics
	Type       string // set by an adapter for its own refusals: the protocol's error type
	RetryAfter int    // seconds, for 429 and 503; 0 when none
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Message)
	}
	return e.Message
}

// Options say how the core treats one write's records.
type Options struct {
	// Skip keeps the valid records and reports the bad ones; without it the
	// first bad record refuses the write.
	Skip bool
	// KeepBad files the bad lines in the rejected-lines store (with Skip).
	KeepBad bool
	// Answer, when the write has an Idempotency-Key, renders the success
	// answer, which is journaled with the key in the same commit.
	Answer func(*Result) []byte
	// TimeField, when set, is the one field the records' time is read
	// from, instead of records.timestamp_fields (VictoriaLogs'
	// _time_field).
	TimeField string
}

// Result is a stored write: every accepted record is durable.
type Result struct {
	Accepted int
	Rejected int                // bad records left out (Options.Skip)
	Errors   []record.LineError // the first records.max_errors of them
	Bad      []record.BadLine   // every one, by line
}

// BadByLine returns the reason each rejected line was refused, by line.
func (r *Result) BadByLine() map[int]string {
	m := make(map[int]string, len(r.Bad))
	for _, b := range r.Bad {
		m[b.Line] = b.Err
	}
	return m
}

// Reply is an adapter's answer, written by the HTTP layer as it is.
type Reply struct {
	Status      int
	ContentType string   // "" for none
	Header      []string // name, value pairs, added in order
	Body        []byte
}
