// Package record is the record contract shared by intake and every reader:
// how a request body splits into records (NDJSON, a JSON array, one
// object), the strict one-pass scanner that validates and compacts each
// record (grammar, UTF-8, I-JSON's unique names and surrogates, depth) and
// finds its timestamp, the timestamp rules (RFC 3339 or epoch by
// magnitude, a null field counts as none), and the WAL entry payloads that
// carry a request's records (format 1, plain; format 2, a day's records as
// the zstd frames its segment block will hold).
//
// It is read by verify, cat, the report engine and the bench harness as
// well as the daemon, so it depends on no part of the daemon.
package record
