package segment

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ingestd/ingestd/internal/failpoint"
	"github.com/ingestd/ingestd/internal/fsutil"
)

// Suffixes of segment file names.
const (
	SuffixSealed = ".ndjson.zst"
	SuffixOpen   = ".ndjson.zst.open"
	suffixTmp    = ".ndjson.zst.tmp"
)

// File is the narrow file seam the writer uses, so tests can inject short
// writes and failed syncs.
type File interface {
	io.WriterAt
	io.ReaderAt
	Write([]byte) (int, error)
	Sync() error
	Truncate(int64) error
	Close() error
	Name() string
}

// Writer appends blocks to one open part file (*.ndjson.zst.open). It is not
// safe for concurrent use; the caller serialises appends per file.
//
// A failed write or sync is sticky: the writer refuses everything after it,
// because after a failed fsync the kernel may have dropped the pages and the
// file's state is unknown until recovery reads it again.
type Writer struct {
	f       File
	path    string
	off     int64        // bytes written
	synced  uint64       // LastSeq durable on disk (after the last successful Sync)
	written uint64       // LastSeq of the last block written
	minTS   int64        // over all blocks
	maxTS   int64        // over all blocks
	records int64        // over all blocks
	index   []IndexEntry // one per block, for the seal
	err     error        // sticky
}

// Opener opens a segment file; tests pass one that wraps files to inject
// faults (per writer, so such tests can run in parallel).
type Opener func(path string, flag int) (File, error)

// OpenOS is the Opener of real files (mode 0600).
func OpenOS(path string, flag int) (File, error) {
	return os.OpenFile(path, flag, 0o600)
}

// Create creates a new open part at path, which must end in SuffixOpen and
// must not exist, and fsyncs its folder: the WAL is released on the part's
// blocks once they are synced, so its name must be durable before that.
func Create(path string) (*Writer, error) { return CreateWith(path, OpenOS) }

// CreateWith is Create with the file opened by open.
func CreateWith(path string, open Opener) (*Writer, error) {
	if !strings.HasSuffix(path, SuffixOpen) {
		return nil, fmt.Errorf("segment: create %s: name must end in %s", path, SuffixOpen)
	}
	f, err := open(path, os.O_RDWR|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return nil, fmt.Errorf("segment: create %s: %w", path, err)
	}
	failpoint.Hit("segment.Create.syncdir")
	if err := fsutil.SyncDir(filepath.Dir(path)); err != nil {
		f.Close()
		failpoint.Hit("segment.Create.remove")
		os.Remove(path)
		return nil, fmt.Errorf("segment: create %s: %w", path, err)
	}
	return &Writer{f: f, path: path}, nil
}

// Path returns the file's current name.
func (w *Writer) Path() string { return w.path }

// Size returns the bytes written so far.
func (w *Writer) Size() int64 { return w.off }

// HighWater returns the largest WAL sequence held by a block that is durable
// (written and synced).
func (w *Writer) HighWater() uint64 { return w.synced }

// Append writes one encoded block (Encoder.AppendBlock's output) with a
// single write call.
func (w *Writer) Append(block []byte) error {
	if w.err != nil {
		return fmt.Errorf("%w: %v", ErrWriterError, w.err)
	}
	m, err := blockMetaOf(block)
	if err != nil {
		return fmt.Errorf("segment: append to %s: %w", w.path, err)
	}
	failpoint.Hit("segment.Append.write")
	n, err := w.f.Write(block)
	if err != nil || n != len(block) {
		if err == nil {
			err = io.ErrShortWrite
		}
		w.err = err
		// Cut what was partly written so the file stays a sequence of whole
		// frames; if even that fails, recovery will do it.
		failpoint.Hit("segment.Append.truncate")
		_ = w.f.Truncate(w.off)
		return fmt.Errorf("segment: write %s: %w", w.path, err)
	}
	w.index = append(w.index, IndexEntry{Offset: w.off, BlockMeta: m})
	w.off += int64(n)
	w.note(m)
	return nil
}

func (w *Writer) note(m BlockMeta) {
	if len(w.index) == 1 || m.MinTS < w.minTS {
		w.minTS = m.MinTS
	}
	if len(w.index) == 1 || m.MaxTS > w.maxTS {
		w.maxTS = m.MaxTS
	}
	if m.LastSeq > w.written {
		w.written = m.LastSeq
	}
	w.records += int64(m.Records)
}

// Sync makes everything appended so far durable and advances HighWater.
func (w *Writer) Sync() error {
	if w.err != nil {
		return fmt.Errorf("%w: %v", ErrWriterError, w.err)
	}
	failpoint.Hit("segment.Sync.sync")
	if err := w.f.Sync(); err != nil {
		w.err = err
		return fmt.Errorf("segment: sync %s: %w", w.path, err)
	}
	w.synced = w.written
	return nil
}

// Seal appends the index, syncs, closes, renames the file to its sealed name
// (without ".open") and syncs the directory. It returns the sealed path.
// An empty part is removed instead and Seal returns "".
func (w *Writer) Seal() (string, error) {
	if w.err != nil {
		return "", fmt.Errorf("%w: %v", ErrWriterError, w.err)
	}
	if len(w.index) == 0 {
		w.f.Close()
		failpoint.Hit("segment.Seal.remove")
		if err := os.Remove(w.path); err != nil {
			return "", fmt.Errorf("segment: remove empty %s: %w", w.path, err)
		}
		w.err = ErrSealed
		return "", nil
	}
	idx := appendIndex(nil, w.index)
	failpoint.Hit("segment.Seal.write")
	if n, err := w.f.Write(idx); err != nil || n != len(idx) {
		if err == nil {
			err = io.ErrShortWrite
		}
		w.err = err
		return "", fmt.Errorf("segment: seal %s: %w", w.path, err)
	}
	w.off += int64(len(idx))
	failpoint.Hit("segment.Seal.sync")
	if err := w.f.Sync(); err != nil {
		w.err = err
		return "", fmt.Errorf("segment: seal sync %s: %w", w.path, err)
	}
	w.synced = w.written
	if err := w.f.Close(); err != nil {
		w.err = err
		return "", fmt.Errorf("segment: seal close %s: %w", w.path, err)
	}
	sealed := strings.TrimSuffix(w.path, ".open")
	failpoint.Hit("segment.Seal.renamedurable")
	if err := fsutil.RenameDurable(w.path, sealed); err != nil {
		w.err = err
		return "", err
	}
	w.err = ErrSealed
	w.path = sealed
	return sealed, nil
}

// Close closes the file without sealing it; it stays an open part that the
// next start recovers and continues.
func (w *Writer) Close() error {
	if errors.Is(w.err, ErrSealed) {
		return nil
	}
	w.err = ErrSealed
	return w.f.Close()
}
