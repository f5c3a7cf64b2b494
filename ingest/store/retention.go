package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ingestd/ingestd/internal/failpoint"
	"github.com/ingestd/ingestd/internal/fsutil"
	"github.com/ingestd/ingestd/internal/utcday"

	"github.com/ingestd/ingestd/segment"
)

// trashPrefix names a day folder being deleted: renamed first, so a day is
// never half there, then removed. Leftovers are removed at the next pass.
const trashPrefix = ".deleting-"

// applyRetention deletes whole days older than RetainDays and then the
// oldest days while the segments take more than RetainBytes. It never
// touches today, yesterday, or a day with buffered records or an open part.
// It runs on the compactor goroutine, so it never races a compaction.
func (s *Store) applyRetention(now time.Time) {
	if s.cfg.RetainDays <= 0 && s.cfg.RetainBytes <= 0 {
		return
	}
	root := segment.SegmentsDir(s.cfg.DataDir)
	if ents, err := os.ReadDir(root); err == nil {
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), trashPrefix) {
				failpoint.Hit("ingest.applyRetention.removeall")
				os.RemoveAll(filepath.Join(root, e.Name()))
			}
		}
	}
	days, err := segment.ListDays(s.cfg.DataDir)
	if err != nil {
		s.log.Error("retention: cannot list days", "err", err)
		return
	}
	sizes := make([]int64, len(days))
	var total int64
	for i, d := range days {
		sizes[i] = dirSize(d.Dir)
		total += sizes[i]
	}
	today := utcday.Of(now.UnixNano())
	for i, d := range days { // oldest first
		num := utcday.OfSeconds(d.Start.Unix())
		if num >= today-1 || s.active(num) {
			continue
		}
		var reason string
		switch {
		case s.cfg.RetainDays > 0 && now.Sub(d.Start.Add(24*time.Hour)) >= time.Duration(s.cfg.RetainDays)*24*time.Hour:
			reason = fmt.Sprintf("older than %d days", s.cfg.RetainDays)
		case s.cfg.RetainBytes > 0 && total > s.cfg.RetainBytes:
			reason = fmt.Sprintf("segments over %d bytes", s.cfg.RetainBytes)
		default:
			continue
		}
		trash := filepath.Join(root, trashPrefix+filepath.Base(d.Dir))
		failpoint.Hit("ingest.applyRetention.rename")
		if err := os.Rename(d.Dir, trash); err != nil {
			s.log.Error("retention: cannot delete day", "dir", d.Dir, "err", err)
			continue
		}
		failpoint.Hit("ingest.applyRetention.syncdir")
		fsutil.SyncDir(root)
		failpoint.Hit("ingest.applyRetention.removeall.2")
		os.RemoveAll(trash)
		s.forget(num)
		total -= sizes[i]
		s.m.RetentionDays.Add(1)
		s.m.RetentionBytes.Add(sizes[i])
		s.log.Info("retention: deleted day", "day", d.Start.Format(time.DateOnly), "bytes", sizes[i], "reason", reason)
	}
}

// active reports whether day num has buffered records or an open part.
func (s *Store) active(num int64) bool {
	s.mu.Lock()
	d := s.days[num]
	s.mu.Unlock()
	if d == nil {
		return false
	}
	d.mu.Lock()
	busy := len(d.buf) > 0 || d.inflight != 0
	d.mu.Unlock()
	d.wmu.Lock()
	open := d.w != nil
	d.wmu.Unlock()
	return busy || open
}

// forget drops an idle day's state after its folder was deleted.
func (s *Store) forget(num int64) {
	s.mu.Lock()
	delete(s.days, num)
	s.mu.Unlock()
}

func dirSize(dir string) int64 {
	var n int64
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if info, err := e.Info(); err == nil && !e.IsDir() {
			n += info.Size()
		}
	}
	return n
}
