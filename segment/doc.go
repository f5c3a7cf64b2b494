// Package segment is the storage engine of ingestd: it turns blocks of NDJSON
// records into daily segment files and reads them back.
//
// A segment file is a plain sequence of standard zstd frames. Every data frame
// holds a block of whole NDJSON lines and is preceded by a zstd skippable frame
// carrying the block's metadata (lengths, record count, time range, WAL
// sequence range, CRC-32C). Sealed files end with a skippable index frame;
// compacted files start with a skippable manifest frame naming the parts they
// replace. Every zstd decoder ignores skippable frames, so `zstdcat FILE`
// prints exactly the records. docs/FORMAT.md draws the byte layout.
//
// Layout on disk:
//
//	<data-dir>/segments/dt=YYYY-MM-DD/<node>-part-<seq>.ndjson.zst.open   being written
//	<data-dir>/segments/dt=YYYY-MM-DD/<node>-part-<seq>.ndjson.zst        sealed, never changes
//	<data-dir>/segments/dt=YYYY-MM-DD/<node>-compact-<seq>.ndjson.zst     a compacted day
//
// The package knows nothing of HTTP or of the write-ahead log; it only stores
// the WAL sequence numbers it is given, so a caller can tell after a crash
// exactly what a day already holds (its high-water mark).
package segment
