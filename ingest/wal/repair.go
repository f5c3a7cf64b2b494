package wal

import (
	"errors"
	"fmt"
	"os"

	"github.com/ingestd/ingestd/internal/failpoint"
	"github.com/ingestd/ingestd/internal/fsutil"
)

// RepairAction is one cut Repair made.
type RepairAction struct {
	Path   string
	Offset int64
	Backup string
	Err    error
}

// Repair cuts every WAL file at its first damaged entry, after copying it to
// <file>.broken, until the whole log reads cleanly. Entries after a cut are
// lost unless the segments already hold them.
func Repair(dir string) ([]RepairAction, error) {
	var out []RepairAction
	for i := 0; i < 10000; i++ {
		w, _, err := Open(Options[struct{}]{Dir: dir})
		if err == nil {
			err = w.Replay(func(uint64, []byte) error { return nil })
		}
		var ce *CorruptionError
		if err == nil {
			return out, nil
		}
		if !errors.As(err, &ce) {
			return out, err
		}
		off := max(ce.Offset, 0)
		a := RepairAction{Path: ce.Path, Offset: off, Backup: ce.Path + ".broken", Err: ce.Err}
		failpoint.Hit("wal.Repair.copydurable")
		if err := fsutil.CopyDurable(ce.Path, a.Backup); err != nil {
			return out, fmt.Errorf("wal: repair: %w", err)
		}
		failpoint.Hit("wal.Repair.truncate")
		if err := os.Truncate(ce.Path, off); err != nil {
			return out, fmt.Errorf("wal: repair truncate %s: %w", ce.Path, err)
		}
		out = append(out, a)
	}
	return out, errors.New("wal: repair did not converge")
}
