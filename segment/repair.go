package segment

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ingestd/ingestd/internal/failpoint"
	"github.com/ingestd/ingestd/internal/fsutil"
)

// RepairAction is one change Repair made.
type RepairAction struct {
	Path   string
	Offset int64 // where the file was cut
	Backup string
	Kept   int // whole blocks kept
	Err    error
}

// RepairDir finds segment files with corruption that is not a torn tail and
// cuts each at its first damaged frame, after copying it to <file>.broken.
// A sealed file gets a new index for the blocks it keeps. Records after the
// cut are lost unless the WAL still holds them (the daemon then replays
// them). Torn tails of open parts are left for the daemon's normal recovery.
func RepairDir(dataDir string) ([]RepairAction, error) {
	days, err := ListDays(dataDir)
	if err != nil {
		return nil, err
	}
	var out []RepairAction
	for _, d := range days {
		if _, err := RecoverDay(d.Dir); err != nil {
			return out, err
		}
		sealed, open, err := DayFiles(d.Dir)
		if err != nil {
			return out, err
		}
		for _, p := range append(sealed, open...) {
			a, err := repairFile(p)
			if err != nil {
				return out, err
			}
			if a != nil {
				out = append(out, *a)
			}
		}
	}
	return out, nil
}

func repairFile(path string) (*RepairAction, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("segment: repair open %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	sealed := strings.HasSuffix(path, SuffixSealed)
	var index []IndexEntry
	wk := newWalker(f, st.Size(), path)
	torn, werr := wk.walk(func(fr *Frame) error {
		if fr.Kind == kindBlock {
			index = append(index, IndexEntry{Offset: fr.Offset, BlockMeta: fr.Meta})
		}
		return nil
	})
	var ce *CorruptionError
	cut := int64(-1)
	switch {
	case errors.As(werr, &ce):
		cut = ce.Offset
	case werr != nil:
		return nil, werr
	case torn != nil && sealed:
		cut = torn.Offset
	}
	if cut < 0 {
		return nil, nil
	}
	a := &RepairAction{Path: path, Offset: cut, Backup: path + ".broken", Kept: len(index)}
	if ce != nil {
		a.Err = ce.Err
	} else {
		a.Err = fmt.Errorf("torn tail in a sealed file (%s)", torn.Reason)
	}
	failpoint.Hit("segment.repairFile.copydurable")
	if err := fsutil.CopyDurable(path, a.Backup); err != nil {
		return nil, fmt.Errorf("segment: repair: %w", err)
	}
	failpoint.Hit("segment.repairFile.truncate")
	if err := f.Truncate(cut); err != nil {
		return nil, fmt.Errorf("segment: repair truncate %s: %w", path, err)
	}
	if sealed && len(index) > 0 {
		failpoint.Hit("segment.repairFile.writeat")
		if _, err := f.WriteAt(appendIndex(nil, index), cut); err != nil {
			return nil, fmt.Errorf("segment: repair index %s: %w", path, err)
		}
	}
	failpoint.Hit("segment.repairFile.sync")
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("segment: repair sync %s: %w", path, err)
	}
	if sealed && len(index) == 0 {
		f.Close()
		failpoint.Hit("segment.repairFile.remove")
		if err := os.Remove(path); err != nil {
			return nil, err
		}
	}
	return a, nil
}
