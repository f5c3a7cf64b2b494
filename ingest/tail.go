package ingest

import (
	"context"
	"time"

	"github.com/ingestd/ingestd/ingest/wal"
)

// Tail is what the core needs of continuous shipping (ship.Tail): it is
// told of every durable run of the WAL and puts it in the bucket; the WAL
// keeps a file until Shipped passes it, and under storage.ack: bucket a
// write is answered only once Wait says its entry is there.
type Tail interface {
	// Resume queues the runs a previous process may not have shipped
	// (before the WAL starts); keysEnd is the key journal's size.
	Resume(rs []wal.Range, keysEnd int64)
	// Durable queues a run that just became durable; it must not block.
	Durable(r wal.Range, keysEnd int64)
	// Shipped is the sequence up to which every entry is in the bucket.
	Shipped() uint64
	// Wait returns once entry seq is in the bucket, or an error after timeout.
	Wait(seq uint64, timeout time.Duration) error
	// Stalled says why the bucket is not keeping up, or nil.
	Stalled() error
	// Drain returns once everything durable so far is in the bucket.
	Drain(ctx context.Context) error
}

// ShipTail makes t follow the WAL into the bucket; with ack, a success
// answer also waits (up to timeout, then 503) for the bucket. Call it
// before Recover.
func (s *Core) ShipTail(t Tail, ack bool, timeout time.Duration) {
	s.tail, s.ackBucket, s.ackTimeout = t, ack && t != nil, timeout
}

// Flushed returns the sequence up to which every entry's records are in
// fsynced segment blocks (the rest is in memory and the WAL).
func (s *Core) Flushed() uint64 { return s.store.Durable() }

// onDurable is the WAL's OnDurable: the run and, with it, the key records
// journaled for it (the journal is written on the same goroutine, before).
func (s *Core) onDurable(r wal.Range) {
	if s.tail != nil {
		s.tail.Durable(r, s.keys.size)
	}
}

// shippedReleaser is the WAL as the store releases it while a Tail ships
// it: no file goes before its entries are in the bucket.
type shippedReleaser struct {
	w    *wal.WAL[*reqState]
	tail Tail
}

func (r shippedReleaser) Release(seq uint64) error {
	return r.w.Release(min(seq, r.tail.Shipped()))
}
