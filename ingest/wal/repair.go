package wal

import (
	"errors"
	"fmt"
	"github.com/ingestd/ingestd/internal/failpoint"
	"io"
	"os"
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
		w, _, err := Open(Options{Dir: dir})
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
		if _, err := os.Stat(a.Backup); os.IsNotExist(err) {
			if err := copyFile(ce.Path, a.Backup); err != nil {
				return out, err
			}
		}
		failpoint.Hit("wal.Repair.truncate")
		if err := os.Truncate(ce.Path, off); err != nil {
			return out, fmt.Errorf("wal: repair truncate %s: %w", ce.Path, err)
		}
		out = append(out, a)
	}
	return out, errors.New("wal: repair did not converge")
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("wal: copy %s: %w", src, err)
	}
	defer in.Close()
	failpoint.Hit("wal.copyFile.openfile")
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("wal: copy to %s: %w", dst, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("wal: copy to %s: %w", dst, err)
	}
	failpoint.Hit("wal.copyFile.sync")
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
