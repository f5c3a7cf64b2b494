package store

import (
	"fmt"
	"time"

	"github.com/ingestd/ingestd/internal/utcday"
	"github.com/ingestd/ingestd/segment"
)

// Recovery: repair the day folders after a crash, read each day's
// high-water mark, and replay the WAL entries above it.

// StartupError stops the daemon's start: corruption that is not a torn
// tail, with the command that repairs it.
type StartupError struct {
	Err  error
	Hint string
}

func (e *StartupError) Error() string { return e.Err.Error() + "\n" + e.Hint }

func (e *StartupError) Unwrap() error { return e.Err }

// RecoverReport says what recovery found and did.
type RecoverReport struct {
	Days      int
	OpenParts int
	CutBytes  int64
	MaxSeq    uint64           // highest sequence held by any segment
	HighWater map[int64]uint64 // per day
}

// Recover repairs every day folder after a crash: finishes interrupted
// compactions, truncates torn tails of open parts (keeping them open for
// appending) and computes each day's high-water mark.
func (s *Store) Recover() (RecoverReport, error) {
	rep := RecoverReport{HighWater: map[int64]uint64{}}
	days, err := segment.ListDays(s.cfg.DataDir)
	if err != nil {
		return rep, err
	}
	hint := fmt.Sprintf("run `ingestd verify --data-dir %s` to list every problem and `ingestd repair --data-dir %s` to move damaged data aside (copies kept as *.broken)", s.cfg.DataDir, s.cfg.DataDir)
	for _, dd := range days {
		rep.Days++
		num := utcday.OfSeconds(dd.Start.Unix())
		if _, err := segment.RecoverDay(dd.Dir); err != nil {
			return rep, &StartupError{Err: err, Hint: hint}
		}
		sealed, open, err := segment.DayFiles(dd.Dir)
		if err != nil {
			return rep, err
		}
		var hw uint64
		for _, p := range sealed {
			r, err := segment.OpenFile(p)
			if err != nil {
				return rep, err
			}
			idx, err := r.Index()
			r.Close()
			if err != nil {
				return rep, &StartupError{Err: err, Hint: hint}
			}
			for _, e := range idx {
				hw = max(hw, e.LastSeq)
			}
		}
		d := s.day(num)
		for i, p := range open {
			w, rec, err := segment.OpenAppend(p)
			if err != nil {
				return rep, &StartupError{Err: err, Hint: hint}
			}
			rep.OpenParts++
			rep.CutBytes += rec.Cut
			if rec.Cut > 0 {
				s.log.Warn("cut torn tail of open part", "file", p, "bytes", rec.Cut, "reason", rec.Reason)
			}
			hw = max(hw, rec.HighWater)
			if i < len(open)-1 || rec.Blocks == 0 {
				// keep only the newest open part for appending
				if _, err := w.Seal(); err != nil {
					return rep, err
				}
				continue
			}
			d.w = w
		}
		rep.HighWater[num] = hw
		rep.MaxSeq = max(rep.MaxSeq, hw)
		// A finished day whose parts were sealed (a stop, a crash) but not
		// yet compacted: compaction is queued when the store starts.
		over := time.Now().After(dd.Start.Add(24 * time.Hour).Add(s.cfg.SealGrace))
		if over && d.w == nil && needsCompaction(sealed) {
			s.pendingCompact = append(s.pendingCompact, num)
		}
	}
	s.highWater = rep.HighWater
	return rep, nil
}

// needsCompaction reports whether a day's sealed files are more than one
// compacted file.
func needsCompaction(sealed []string) bool {
	return len(sealed) > 1 || (len(sealed) == 1 && !segment.IsCompacted(sealed[0]))
}

// Replay applies one WAL entry during recovery, after Recover: of its
// records, those of each day whose segments do not already hold the entry
// (its sequence is above the day's high-water mark). Full buffers are
// flushed right here, so that replay memory stays bounded.
func (s *Store) Replay(seq uint64, payload []byte) error {
	added, err := s.apply(seq, payload, func(day int64) bool { return seq > s.highWater[day] })
	if err != nil {
		return err
	}
	s.buffered.Add(added)
	for d := s.dequeue(); d != nil; d = s.dequeue() {
		if err := s.flush(d); err != nil {
			return err
		}
	}
	return nil
}

// Attach ends recovery: the buffers hold everything up to last, the WAL's
// end (the segments or the replay hold each entry); w is the log the store
// releases from now on. It starts the flushers, the sealer and the
// compactor, and drops the WAL files the segments already hold.
func (s *Store) Attach(w Releaser, last uint64) {
	if last > s.lastApplied.Load() {
		s.lastApplied.Store(last)
	}
	s.wal = w
	s.start()
	s.release()
}
