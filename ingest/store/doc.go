// Package store holds the per-day memory buffers and the segment parts
// behind them: it takes WAL entries in sequence order (ApplyEntry), rolls
// full or old buffers into segment blocks on a bounded worker pool, seals
// and compacts days that are over, applies retention, and tells the WAL
// which entries it may drop.
//
// It owns the invariant that makes recovery exact: a WAL entry's records
// for one day go into one buffer at once and into one block, and blocks
// are cut only between entries, so a day's segments hold exactly the
// entries up to its high-water mark (the largest sequence in its block
// headers). Recover reads those marks; Replay applies only the entries
// above them; Attach hands the store the WAL and starts it; Durable is the
// sequence below which the WAL may be dropped, raised only after the
// blocks holding it are fsynced.
//
// It knows nothing of HTTP or of the WAL's format: the WAL is a Releaser.
package store
