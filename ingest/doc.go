// Package ingest is the intake core: it turns a request's body into
// durable records. It authorizes the token (producers, roles, rate
// limits), parses and checks the records (package record), appends one WAL
// entry per request with group commit (package ingest/wal), keeps the
// Idempotency-Key journal and the rejected-lines store, and hands the
// entries to the day store (package ingest/store), which rolls them into
// segment files. It knows no protocol: an adapter (ingest/adapter/…) turns
// an envelope into records and the typed result into its answer, and a
// listener (ingest/httpapi, ingest/syslogd) calls Begin, then Write.Commit.
//
// # Start-up order
//
// Recovery is exact only if its steps run in this order, which Recover
// keeps (a crash between any two of them is covered by the crash tests):
//
//  1. New validates the Config and builds the store in memory; nothing is
//     read from disk. OnDayDone hooks must be set before Recover.
//  2. The data dir is created durably; the rejected-lines store opens.
//  3. store.Recover repairs every day folder: it cuts torn tails of open
//     parts, finishes interrupted compactions and reads each day's
//     high-water mark, the largest WAL sequence its blocks hold.
//  4. wal.Open cuts a torn WAL tail; corruption elsewhere stops the start
//     with a StartupError that names the repair command.
//  5. The WAL is replayed through store.Replay: per day, only the entries
//     above that day's high-water mark go back into the buffers.
//  6. The next sequence starts after both the WAL's and the segments' last.
//  7. The idempotency journal opens, dropping keys of entries beyond the
//     WAL's end (those requests never committed).
//  8. The WAL writer starts; store.Attach counts everything up to the WAL's
//     end as applied, takes the WAL to release, starts the flushers, the
//     sealer and the compactor, and drops the WAL files the segments
//     already hold. Then intake opens (/readyz answers 200).
//
// Shutdown runs the other way: intake closes, the WAL writer stops, the
// store flushes and seals every buffer, and the WAL, whose every entry is
// then in a segment, is emptied.
//
// # The promise
//
// A success is answered only after the request's WAL entry is durable as
// wal.fsync says. An entry is dropped from the WAL only after every record
// of it is in an fsynced segment block (store.Durable).
package ingest
