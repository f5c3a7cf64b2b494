// Package failpoint names the instants at which a crash test may kill the
// daemon: one Hit before every write, fsync, rename, unlink and truncate on
// a durable path (the WAL, segment writer, compaction, recovery, retention,
// idempotency journal, report partials and output, shipper markers).
//
// In a production build (no build tag) Hit is an empty function that the
// compiler inlines away. Built with -tags failpoints, the process reads
// INGESTD_FAILPOINT at start: "NAME" kills the process with SIGKILL the
// first time Hit(NAME) runs, "NAME@N" the N-th time. With
// INGESTD_FAILPOINT_TRACE=1 it also prints each point's name to stderr
// the first time it is reached, so a test can tell which points its
// workload reaches. INGESTD_FAILPOINT_STOP=NAME sends the process SIGTERM
// the first time Hit(NAME) runs and lets the step go on 3 seconds later, so
// that a graceful stop begins in the middle of it (a child process, such as
// the report's, stops itself alone).
//
// Names are string literals, "package.step" (wal.commit.before-fsync),
// unique in the tree; package scan lists them from the source and checks
// that no durable call lacks one, so a new durable write without a point
// fails a test.
package failpoint
