package store

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/ingestd/ingestd/internal/utcday"
	"github.com/ingestd/ingestd/segment"
)

// Sealing and compaction: a day that is over (plus its grace) and idle
// is sealed; a finished day is compacted into one file, once.

// ticker flushes old buffers and seals days that are over.
func (s *Store) ticker() {
	defer s.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.tick(now)
		}
	}
}

func (s *Store) tick(now time.Time) {
	days := s.snapshot()
	for _, d := range days {
		d.mu.Lock()
		old := len(d.buf) > 0 && now.Sub(d.since) >= s.cfg.BlockAge && !d.queued
		if old {
			d.queued = true
		}
		over := now.After(utcday.Start(d.num+1).Add(s.cfg.SealGrace)) && now.Sub(d.lastAdd) >= s.cfg.SealIdle
		d.mu.Unlock()
		if old {
			s.enqueue(d)
		}
		if over {
			d.wmu.Lock()
			open := d.w != nil
			d.wmu.Unlock()
			if open {
				if err := s.seal(d); err != nil {
					s.fail(err)
				} else {
					select {
					case s.compact <- d.num:
					default:
					}
				}
			}
		}
	}
}

// seal flushes d and seals its open part.
func (s *Store) seal(d *dayState) error {
	if err := s.flush(d); err != nil {
		return err
	}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if d.w == nil {
		return nil
	}
	d.mu.Lock()
	pending := len(d.buf) > 0
	d.mu.Unlock()
	if pending { // records arrived meanwhile; seal next time
		return nil
	}
	p, err := d.w.Seal()
	if err != nil {
		return err
	}
	d.w = nil
	if p != "" {
		s.log.Info("sealed part", "file", p)
	}
	return nil
}

func (s *Store) compactor() {
	defer s.wg.Done()
	ret := time.NewTicker(time.Minute)
	defer ret.Stop()
	s.applyRetention(time.Now())
	for {
		select {
		case <-s.stop:
			return
		case now := <-ret.C:
			s.applyRetention(now)
		case num := <-s.compact:
			d := s.day(num)
			if _, err := os.Stat(d.dir); os.IsNotExist(err) {
				s.log.Debug("compaction skipped: retention deleted the day after it was queued", "dir", d.dir)
				continue
			}
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				select {
				case <-s.stop:
					cancel()
				case <-ctx.Done():
				}
			}()
			p, err := segment.Compact(ctx, d.dir, segment.CompactOptions{Encoder: s.cenc, BlockSize: s.cfg.CompactBlockSize, Node: s.cfg.Node})
			cancel()
			switch {
			case err != nil && !errors.Is(err, context.Canceled):
				s.log.Error("compaction failed; the parts stay as they are", "dir", d.dir, "err", err)
			case p != "":
				s.log.Info("compacted day", "file", p)
			}
			if err == nil && s.dayDone != nil {
				s.dayDone(d.dir)
			}
		}
	}
}
