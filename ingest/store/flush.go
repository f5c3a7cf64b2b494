package store

import (
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/ingestd/ingestd/internal/failpoint"
	"github.com/ingestd/ingestd/internal/fsutil"
	"github.com/ingestd/ingestd/segment"
)

// Flushing: a day's buffer becomes segment blocks, appended to its open
// part and fsynced, on a bounded pool of workers.

func (s *Store) enqueue(d *dayState) {
	s.qmu.Lock()
	s.queue = append(s.queue, d)
	s.qmu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// kickIfPending wakes a worker when days are still queued.
func (s *Store) kickIfPending() {
	s.qmu.Lock()
	n := len(s.queue)
	s.qmu.Unlock()
	if n > 0 {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

func (s *Store) dequeue() *dayState {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if len(s.queue) == 0 {
		return nil
	}
	d := s.queue[0]
	s.queue = s.queue[1:]
	return d
}

func (s *Store) worker() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case <-s.kick:
		}
		for d := s.dequeue(); d != nil; d = s.dequeue() {
			s.kickIfPending() // another worker can take the next day meanwhile
			if err := s.flush(d); err != nil {
				s.fail(err)
			}
		}
	}
}

// flush writes d's buffer as blocks to its open part and syncs.
func (s *Store) flush(d *dayState) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	d.mu.Lock()
	d.queued = false
	if len(d.buf) == 0 {
		d.mu.Unlock()
		return nil
	}
	raw, marks := d.buf, d.marks
	d.buf, d.spare = d.spare[:0], nil
	d.marks, d.spareMarks = d.spareMarks[:0], nil
	d.rawLen = 0
	d.inflight = d.firstSeq
	d.mu.Unlock()

	err := s.writeBlocks(d, raw, marks)

	d.mu.Lock()
	if err == nil {
		d.inflight = 0 // on error it stays set: the WAL must keep these entries
		// Recycle the buffer only at a normal size: after a burst an
		// oversized one would pin its peak memory for good.
		if cap(raw) <= 2*s.cfg.BlockSize+s.cfg.BlockSize/2 {
			d.spare, d.spareMarks = raw[:0], marks[:0]
		}
	}
	d.mu.Unlock()
	if err != nil {
		return err
	}
	s.buffered.Add(-int64(len(raw)))
	s.release()
	return nil
}

// writeBlocks encodes raw into blocks cut only between marks (each block at
// most BlockSize unless one entry alone is larger), appends them and syncs.
// Called with d.wmu held.
func (s *Store) writeBlocks(d *dayState, raw []byte, marks []mark) error {
	if err := s.Failed(); err != nil {
		return err
	}
	if d.w == nil {
		failpoint.Hit("ingest.writeBlocks.mkdirdurable")
		if err := fsutil.MkdirDurable(d.dir); err != nil {
			return err
		}
		w, err := segment.Create(filepath.Join(d.dir, segment.PartName(s.cfg.Node, marks[0].seq)))
		if err != nil {
			return err
		}
		d.w = w
	}
	// Cut blocks between marks: each at most BlockSize raw bytes unless one
	// entry alone is larger.
	chunks := d.chunks[:0]
	start := 0
	for i := 0; i < len(marks); {
		m := segment.BlockMeta{FirstSeq: marks[i].seq, MinTS: marks[i].minTS, MaxTS: marks[i].maxTS}
		j := i
		for ; j < len(marks); j++ {
			if j > i && int(m.RawLen)+int(marks[j].raw) > s.cfg.BlockSize {
				break
			}
			m.Records += marks[j].recs
			m.RawLen += marks[j].raw
			m.MinTS, m.MaxTS = min(m.MinTS, marks[j].minTS), max(m.MaxTS, marks[j].maxTS)
			m.LastSeq = marks[j].seq
		}
		chunks = append(chunks, chunk{first: i, last: j, start: start, end: marks[j-1].end, meta: m})
		start, i = marks[j-1].end, j
	}
	if start != len(raw) {
		panic("BUG: marks do not cover the day buffer")
	}
	// A day that fell behind has several blocks: encode them in parallel
	// (the shared encoder is safe for concurrent use), then append in order.
	workers := min(len(chunks), max(1, s.cfg.FlushWorkers))
	var wg sync.WaitGroup
	var next atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := int(next.Add(1) - 1); k < len(chunks); k = int(next.Add(1) - 1) {
				c := &chunks[k]
				buf, _ := s.outPool.Get().(*[]byte)
				if buf == nil {
					buf = new([]byte)
				}
				*buf, c.err = s.encodeBlock((*buf)[:0], raw, marks, c)
				c.out = buf
			}
		}()
	}
	wg.Wait()
	var err error
	for k := range chunks {
		c := &chunks[k]
		if err == nil && c.err != nil {
			err = fmt.Errorf("ingest: encode block for %s: %w", d.dir, c.err)
		}
		if err == nil {
			if err = d.w.Append(*c.out); err == nil {
				s.m.FramesWritten.Add(1)
				s.m.RawBytesWritten.Add(int64(c.meta.RawLen))
				s.m.CompBytesWritten.Add(int64(len(*c.out)))
			}
		}
		if cap(*c.out) <= 2*s.cfg.BlockSize {
			s.outPool.Put(c.out)
		}
		c.out = nil
	}
	d.chunks = chunks[:0]
	if err != nil {
		return err
	}
	return d.w.Sync()
}

// encodeBlock appends chunk c of a day buffer as one block to dst. Frames
// the requests made are copied as they are; each run of raw entries between
// them becomes one frame here.
func (s *Store) encodeBlock(dst, buf []byte, marks []mark, c *chunk) ([]byte, error) {
	dst, start := segment.StartBlock(dst)
	frames, off, runStart := 0, c.start, -1 // frames: made here, or 2 for any of a request's
	endRun := func(at int) {
		if runStart >= 0 {
			dst = s.enc.AppendFrame(dst, buf[runStart:at])
			frames++
			runStart = -1
		}
	}
	for _, m := range marks[c.first:c.last] {
		if m.packed {
			endRun(off)
			dst = append(dst, buf[off:m.end]...)
			frames += 2 // one or more: counted as several
		} else if runStart < 0 {
			runStart = off
		}
		off = m.end
	}
	endRun(off)
	return segment.EndBlock(dst, start, c.meta, frames == 1)
}
