package segment

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ingestd/ingestd/internal/failpoint"
)

// Recovery reports what OpenAppend found in an open part.
type Recovery struct {
	Path      string // the file
	Size      int64  // size before recovery
	Cut       int64  // bytes truncated from the tail (0 when the file was whole)
	Reason    string // what the cut tail looked like
	Blocks    int    // whole blocks kept
	Records   int64  // records in them
	HighWater uint64 // largest WAL sequence held; durable (the file was synced)
}

// OpenAppend opens an existing open part after a restart or crash: it walks
// every frame, checks the CRCs, truncates a torn tail (partial header or
// frame, zero-filled tail, an unfinished seal's index) to the last whole
// block, syncs, and returns a Writer positioned to append. Damage that is not
// a torn tail returns a *CorruptionError and leaves the file untouched.
func OpenAppend(path string) (*Writer, Recovery, error) {
	rec := Recovery{Path: path}
	if !strings.HasSuffix(path, SuffixOpen) {
		return nil, rec, fmt.Errorf("segment: open %s: name must end in %s", path, SuffixOpen)
	}
	f, err := OpenOS(path, os.O_RDWR)
	if err != nil {
		return nil, rec, fmt.Errorf("segment: open %s: %w", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		f.Close()
		return nil, rec, fmt.Errorf("segment: stat %s: %w", path, err)
	}
	rec.Size = st.Size()
	w := &Writer{f: f, path: path}
	wk := newWalker(f, rec.Size, path)
	var end int64
	torn, err := wk.walk(func(fr *Frame) error {
		switch fr.Kind {
		case kindBlock:
			w.index = append(w.index, IndexEntry{Offset: fr.Offset, BlockMeta: fr.Meta})
			w.note(fr.Meta)
			end = fr.End
		case kindIndex:
			// A crash during Seal: the index was written but the rename did
			// not happen. Drop the index; the part stays open.
			torn := &TornTail{Offset: fr.Offset, Size: rec.Size, Reason: "unfinished seal (index frame)"}
			return &tornStop{torn}
		case kindManifest:
			return &CorruptionError{Path: path, Offset: fr.Offset, Err: errors.New("segment: manifest frame in an open part")}
		}
		return nil
	})
	var ts *tornStop
	if errors.As(err, &ts) {
		torn, err = ts.t, nil
	}
	if err != nil {
		f.Close()
		return nil, rec, err
	}
	if torn != nil {
		rec.Cut = rec.Size - torn.Offset
		rec.Reason = torn.Reason
		end = torn.Offset
		failpoint.Hit("segment.OpenAppend.truncate")
		if err := f.Truncate(end); err != nil {
			f.Close()
			return nil, rec, fmt.Errorf("segment: truncate %s to %d: %w", path, end, err)
		}
	}
	failpoint.Hit("segment.OpenAppend.sync")
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, rec, fmt.Errorf("segment: sync %s: %w", path, err)
	}
	// Appends go to the end: position the file there.
	if of, ok := f.(*os.File); ok {
		if _, err := of.Seek(end, 0); err != nil {
			f.Close()
			return nil, rec, fmt.Errorf("segment: seek %s: %w", path, err)
		}
	}
	w.off = end
	w.synced = w.written
	rec.Blocks = len(w.index)
	rec.Records = w.records
	rec.HighWater = w.synced
	return w, rec, nil
}

type tornStop struct{ t *TornTail }

func (t *tornStop) Error() string { return "torn" }
