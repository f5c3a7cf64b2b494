package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// CorruptionError reports damage in a segment file that is not a torn tail:
// bytes that were once written whole and are now wrong. It is never repaired
// silently; `ingestd verify` lists it and the operator decides.
type CorruptionError struct {
	Path   string // file
	Offset int64  // byte offset of the damaged frame
	Err    error  // what is wrong
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("segment: corruption in %s at offset %d: %v", e.Path, e.Offset, e.Err)
}

func (e *CorruptionError) Unwrap() error { return e.Err }

// TornTail describes an incomplete tail: the bytes from Offset to the end of
// the file are what a crash left of a write in progress.
type TornTail struct {
	Offset int64  // where the last whole frame ends; the file is cut here
	Size   int64  // the file's size before the cut
	Reason string // what the tail looked like
}

// Frame is one frame met by the walker.
type Frame struct {
	Kind   int   // kindBlock, kindIndex or kindManifest
	Offset int64 // offset of the frame (for a block: of its header frame)
	End    int64 // offset just past the frame (for a block: past its data frame)
	Meta   BlockMeta
	Data   []byte // block: the compressed zstd frame; index/manifest: payload. Valid until the callback returns.
}

// errStop ends a walk early without error.
var errStop = errors.New("stop")

// walker reads the frames of one file sequentially.
type walker struct {
	r        io.ReaderAt
	size     int64
	path     string
	buf      []byte
	zeroFrom int64 // start of the trailing run of zero bytes; -1 until computed
	skipData bool  // read headers only (no data CRC check)
}

func newWalker(r io.ReaderAt, size int64, path string) *walker {
	return &walker{r: r, size: size, path: path, zeroFrom: -1}
}

// trailingZeros returns the offset where the file's trailing run of zero bytes begins.
func (w *walker) trailingZeros() int64 {
	if w.zeroFrom >= 0 {
		return w.zeroFrom
	}
	buf := make([]byte, 64<<10)
	end := w.size
	for end > 0 {
		n := int64(len(buf))
		if n > end {
			n = end
		}
		chunk := buf[:n]
		if _, err := w.r.ReadAt(chunk, end-n); err != nil && err != io.EOF {
			break
		}
		for i := len(chunk) - 1; i >= 0; i-- {
			if chunk[i] != 0 {
				w.zeroFrom = end - n + int64(i) + 1
				return w.zeroFrom
			}
		}
		end -= n
	}
	w.zeroFrom = end
	return w.zeroFrom
}

func (w *walker) read(off int64, n int) ([]byte, error) {
	if cap(w.buf) < n {
		w.buf = make([]byte, n)
	}
	b := w.buf[:n]
	_, err := w.r.ReadAt(b, off)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return b, err
}

// damage decides whether damage in the frame [off, end) is a torn tail
// (nothing whole follows it) or corruption.
func (w *walker) damage(off, end int64, reason string, err error) (*TornTail, error) {
	if end >= w.size || w.trailingZeros() <= end || w.trailingZeros() <= off {
		return &TornTail{Offset: off, Size: w.size, Reason: reason}, nil
	}
	return nil, &CorruptionError{Path: w.path, Offset: off, Err: err}
}

// walk calls fn for every whole frame in order. It returns a non-nil TornTail
// when the file ends in an incomplete frame, or a *CorruptionError for damage
// that is not at the tail. fn returning errStop ends the walk.
func (w *walker) walk(fn func(*Frame) error) (*TornTail, error) {
	var off int64
	var fr Frame
	for off < w.size {
		rem := w.size - off
		if rem < skipHdrLen {
			return w.damage(off, w.size, "partial frame header", ErrShortFrame)
		}
		h, err := w.read(off, skipHdrLen)
		if err != nil {
			return nil, fmt.Errorf("segment: read %s at %d: %w", w.path, off, err)
		}
		magic := binary.LittleEndian.Uint32(h)
		plen := int64(binary.LittleEndian.Uint32(h[4:]))
		fr = Frame{Offset: off}
		switch magic {
		case magicBlock:
			if rem < BlockHeaderLen {
				return w.damage(off, w.size, "cut in block header", ErrShortFrame)
			}
			hb, err := w.read(off, BlockHeaderLen)
			if err != nil {
				return nil, fmt.Errorf("segment: read %s at %d: %w", w.path, off, err)
			}
			m, perr := ParseBlockHeader(hb)
			if perr != nil {
				return w.damage(off, off+BlockHeaderLen, "bad block header", perr)
			}
			end := off + BlockHeaderLen + int64(m.CompLen)
			if end > w.size {
				return w.damage(off, end, "cut in data frame", ErrShortFrame)
			}
			fr.Kind, fr.Meta, fr.End = kindBlock, m, end
			if !w.skipData {
				data, err := w.read(off+BlockHeaderLen, int(m.CompLen))
				if err != nil {
					return nil, fmt.Errorf("segment: read %s at %d: %w", w.path, off, err)
				}
				if CRC(data) != m.DataCRC || len(data) < 4 || binary.LittleEndian.Uint32(data) != magicZstd {
					return w.damage(off, end, "bad data frame", ErrDataCRC)
				}
				fr.Data = data
			}
		case magicIndex, magicManifest:
			end := off + skipHdrLen + plen
			if end > w.size {
				return w.damage(off, end, "cut in metadata frame", ErrShortFrame)
			}
			if plen > int64(maxManifest)+int64(MaxBlockRaw) {
				return w.damage(off, end, "oversized metadata frame", ErrBadHeader)
			}
			p, err := w.read(off+skipHdrLen, int(plen))
			if err != nil {
				return nil, fmt.Errorf("segment: read %s at %d: %w", w.path, off, err)
			}
			fr.End, fr.Data = end, p
			if magic == magicIndex {
				fr.Kind = kindIndex
				if _, perr := parseIndex(p); perr != nil {
					return w.damage(off, end, "bad index frame", perr)
				}
				if end != w.size {
					return nil, &CorruptionError{Path: w.path, Offset: off, Err: fmt.Errorf("%w: index frame is not last", ErrBadHeader)}
				}
			} else {
				fr.Kind = kindManifest
				if _, perr := parseManifest(p); perr != nil {
					return w.damage(off, end, "bad manifest frame", perr)
				}
				if off != 0 {
					return nil, &CorruptionError{Path: w.path, Offset: off, Err: fmt.Errorf("%w: manifest frame is not first", ErrBadHeader)}
				}
			}
		default:
			if w.trailingZeros() <= off {
				return &TornTail{Offset: off, Size: w.size, Reason: "zero-filled tail"}, nil
			}
			return nil, &CorruptionError{Path: w.path, Offset: off, Err: fmt.Errorf("%w 0x%08x", ErrBadMagic, magic)}
		}
		if err := fn(&fr); err != nil {
			if err == errStop {
				return nil, nil
			}
			return nil, err
		}
		off = fr.End
	}
	return nil, nil
}
