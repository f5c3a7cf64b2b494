package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// Decoder limits for untrusted files: a frame may not declare a window or
// need memory beyond these.
const (
	maxDecoderWindow = 64 << 20
	maxDecoderMemory = MaxBlockRaw + 1<<20
)

// Decoder decompresses data frames. One Decoder may be used by one goroutine
// at a time.
type Decoder struct {
	d *zstd.Decoder
}

// NewDecoder returns a Decoder with limits set for untrusted input. It
// checks each frame's content checksum (xxhash64 of the decoded bytes).
func NewDecoder() (*Decoder, error) { return newDecoder(true) }

// newDecoder returns a Decoder that checks frames' content checksums when
// content is true. Decode always checks the CRC-32C of the compressed bytes
// and the decoded length against the block header; the content checksum
// adds a check of the decoder itself, at ≈ 2 % of a report scan's CPU.
func newDecoder(content bool) (*Decoder, error) {
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.IgnoreChecksum(!content),
		zstd.WithDecoderMaxWindow(maxDecoderWindow), zstd.WithDecoderMaxMemory(maxDecoderMemory))
	if err != nil {
		return nil, fmt.Errorf("segment: new decoder: %w", err)
	}
	return &Decoder{d: d}, nil
}

// Decode decompresses one data frame whose header said m, appending the raw
// NDJSON to dst[:0]. It checks the raw length against the header.
func (d *Decoder) Decode(dst []byte, frame []byte, m BlockMeta) ([]byte, error) {
	if CRC(frame) != m.DataCRC {
		return dst[:0], ErrDataCRC
	}
	if cap(dst) < int(m.RawLen) {
		dst = make([]byte, 0, m.RawLen)
	}
	out, err := d.d.DecodeAll(frame, dst[:0])
	if err != nil {
		return out[:0], fmt.Errorf("segment: decode frame: %w", err)
	}
	if len(out) != int(m.RawLen) {
		return out[:0], fmt.Errorf("%w: decoded %d bytes, header says %d", ErrBadHeader, len(out), m.RawLen)
	}
	return out, nil
}

// Close releases the decoder.
func (d *Decoder) Close() { d.d.Close() }

// FileReader reads the blocks of one segment file, sealed or open, from a
// local file or any io.ReaderAt (an object in a store, read by ranges).
type FileReader struct {
	f      io.ReaderAt
	c      io.Closer
	path   string
	size   int64
	sealed bool
}

// NewReader reads a segment file of size bytes through ra; path names it in
// errors and, by its suffix, says whether it is sealed. Close closes c when
// it is not nil. ra must allow concurrent ReadAt calls for prefetching scans.
func NewReader(path string, ra io.ReaderAt, size int64, c io.Closer) *FileReader {
	return &FileReader{f: ra, c: c, path: path, size: size, sealed: strings.HasSuffix(path, SuffixSealed)}
}

// OpenFile opens a segment file for reading.
func OpenFile(path string) (*FileReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("segment: open %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("segment: stat %s: %w", path, err)
	}
	return NewReader(path, f, st.Size(), f), nil
}

// Path returns the file name.
func (r *FileReader) Path() string { return r.path }

// Size returns the file's length in bytes.
func (r *FileReader) Size() int64 { return r.size }

// Close closes the file.
func (r *FileReader) Close() error {
	if r.c == nil {
		return nil
	}
	return r.c.Close()
}

// Index returns the blocks of the file without reading their data: from the
// index frame of a sealed file, or by walking the headers of an open one (a
// torn tail there is what a writer is still writing, or a crash left, and
// ends the list).
func (r *FileReader) Index() ([]IndexEntry, error) {
	if r.sealed {
		if idx, err := r.readIndex(); err == nil {
			return idx, nil
		} else if !errors.Is(err, errNoIndex) {
			return nil, err
		}
	}
	var out []IndexEntry
	wk := newWalker(r.f, r.size, r.path)
	wk.skipData = true
	torn, err := wk.walk(func(fr *Frame) error {
		if fr.Kind == kindBlock {
			out = append(out, IndexEntry{Offset: fr.Offset, BlockMeta: fr.Meta})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if torn != nil && r.sealed {
		return nil, &CorruptionError{Path: r.path, Offset: torn.Offset, Err: fmt.Errorf("%w: sealed file has a torn tail (%s)", ErrShortFrame, torn.Reason)}
	}
	return out, nil
}

var errNoIndex = errors.New("segment: no index")

func (r *FileReader) readIndex() ([]IndexEntry, error) {
	if r.size < skipHdrLen+8+indexTrailer {
		return nil, errNoIndex
	}
	var t [indexTrailer]byte
	if _, err := r.f.ReadAt(t[:], r.size-indexTrailer); err != nil {
		return nil, fmt.Errorf("segment: read index of %s: %w", r.path, err)
	}
	if string(t[12:]) != indexMark {
		return nil, errNoIndex
	}
	plen := int64(binary.LittleEndian.Uint32(t[4:]))
	start := r.size - plen - skipHdrLen
	if plen > r.size || start < 0 {
		return nil, &CorruptionError{Path: r.path, Offset: r.size - indexTrailer, Err: fmt.Errorf("%w: index length %d", ErrBadHeader, plen)}
	}
	buf := make([]byte, plen+skipHdrLen)
	if _, err := r.f.ReadAt(buf, start); err != nil {
		return nil, fmt.Errorf("segment: read index of %s: %w", r.path, err)
	}
	if binary.LittleEndian.Uint32(buf) != magicIndex {
		return nil, &CorruptionError{Path: r.path, Offset: start, Err: ErrBadMagic}
	}
	idx, err := parseIndex(buf[skipHdrLen:])
	if err != nil {
		return nil, &CorruptionError{Path: r.path, Offset: start, Err: err}
	}
	return idx, nil
}

// ReadFrame reads the compressed data frame of block e into dst (reused when
// large enough) and checks its CRC.
func (r *FileReader) ReadFrame(dst []byte, e IndexEntry) ([]byte, error) {
	if e.Offset < 0 || e.Offset+BlockHeaderLen+int64(e.CompLen) > r.size {
		return dst, &CorruptionError{Path: r.path, Offset: e.Offset, Err: ErrShortFrame}
	}
	if cap(dst) < int(e.CompLen) {
		dst = make([]byte, e.CompLen)
	}
	dst = dst[:e.CompLen]
	if _, err := r.f.ReadAt(dst, e.Offset+BlockHeaderLen); err != nil {
		return dst, fmt.Errorf("segment: read %s at %d: %w", r.path, e.Offset, err)
	}
	if CRC(dst) != e.DataCRC {
		return dst, &CorruptionError{Path: r.path, Offset: e.Offset, Err: ErrDataCRC}
	}
	return dst, nil
}

// Manifest returns the names of the parts a compacted file replaces, or nil.
func (r *FileReader) Manifest() ([]string, error) {
	var h [skipHdrLen]byte
	if _, err := r.f.ReadAt(h[:], 0); err != nil {
		if err == io.EOF {
			return nil, nil
		}
		return nil, fmt.Errorf("segment: read %s: %w", r.path, err)
	}
	if binary.LittleEndian.Uint32(h[:]) != magicManifest {
		return nil, nil
	}
	plen := int64(binary.LittleEndian.Uint32(h[4:]))
	if plen > maxManifest || plen+skipHdrLen > r.size {
		return nil, &CorruptionError{Path: r.path, Offset: 0, Err: fmt.Errorf("%w: manifest length %d", ErrBadHeader, plen)}
	}
	p := make([]byte, plen)
	if _, err := r.f.ReadAt(p, skipHdrLen); err != nil {
		return nil, fmt.Errorf("segment: read manifest of %s: %w", r.path, err)
	}
	names, err := parseManifest(p)
	if err != nil {
		return nil, &CorruptionError{Path: r.path, Offset: 0, Err: err}
	}
	return names, nil
}

// lines counts the '\n'-terminated lines of raw.
func lines(raw []byte) int { return bytes.Count(raw, []byte{'\n'}) }
