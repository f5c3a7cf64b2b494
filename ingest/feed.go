package ingest

import (
	"sync"
	"sync/atomic"

	"github.com/ingestd/ingestd/record"
)

// Feed hands the records of every committed write to its subscribers (the
// read API's tail) once they are durable: the records as stored, NDJSON,
// one batch per write. A subscriber that falls behind loses batches
// (Subscribe's dropped counts them) rather than slowing intake; with no subscriber a
// write pays one atomic load.
type Feed struct {
	n    atomic.Int64
	mu   sync.Mutex
	subs map[*subscription]struct{}
}

type subscription struct {
	ch      chan []byte
	dropped atomic.Int64
}

// Subscribe returns a channel of record batches (at most buf waiting), a
// count of the batches dropped meanwhile, and cancel, which ends it.
func (f *Feed) Subscribe(buf int) (<-chan []byte, func() int64, func()) {
	s := &subscription{ch: make(chan []byte, max(buf, 1))}
	f.mu.Lock()
	if f.subs == nil {
		f.subs = map[*subscription]struct{}{}
	}
	f.subs[s] = struct{}{}
	f.n.Add(1)
	f.mu.Unlock()
	cancel := sync.OnceFunc(func() {
		f.mu.Lock()
		delete(f.subs, s)
		f.n.Add(-1)
		f.mu.Unlock()
	})
	return s.ch, s.dropped.Load, cancel
}

// publish hands a copy of the batch's records, NDJSON, to every
// subscriber without waiting.
func (f *Feed) publish(b *record.Batch) {
	if f == nil || f.n.Load() == 0 || len(b.Recs) == 0 {
		return
	}
	var cp []byte
	for _, r := range b.Recs {
		cp = append(append(cp, b.Buf[r.Off:r.Off+r.Len]...), '\n')
	}
	f.mu.Lock()
	for s := range f.subs {
		select {
		case s.ch <- cp:
		default:
			s.dropped.Add(1)
		}
	}
	f.mu.Unlock()
}

// Feed is the core's feed of durable records.
func (s *Core) Feed() *Feed { return &s.feed }
