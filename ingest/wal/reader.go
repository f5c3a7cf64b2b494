package wal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/klauspost/compress/s2"
)

// Replay calls fn for every entry in the log, oldest first, with its
// decompressed payload (valid until fn returns). Call before Start.
func (w *WAL[M]) Replay(fn func(seq uint64, payload []byte) error) error {
	w.mu.Lock()
	files := append([]file(nil), w.files...)
	w.mu.Unlock()
	var dec []byte
	expect := uint64(0)
	for i, f := range files {
		if expect != 0 && f.first < expect {
			return &CorruptionError{Path: f.path, Offset: 0, Err: fmt.Errorf("file starts at sequence %d, want %d (overlapping files)", f.first, expect)}
		}
		// A forward jump at a file boundary is legitimate: SetNext moved the
		// sequence past what the segments already hold.
		end, torn, err := scanFile(f.path, f.first, func(seq uint64, flags byte, p []byte) error {
			if flags&flagS2 != 0 {
				var err error
				dec, err = s2.Decode(dec[:cap(dec)], p)
				if err != nil {
					return fmt.Errorf("wal: decode entry %d: %w", seq, err)
				}
				p = dec
			}
			expect = seq + 1
			return fn(seq, p)
		})
		if err != nil {
			return err
		}
		if torn != "" && i != len(files)-1 {
			return &CorruptionError{Path: f.path, Offset: end, Err: fmt.Errorf("torn tail in a file that is not the newest (%s)", torn)}
		}
		if expect == 0 || expect < f.first {
			expect = f.first
		}
	}
	return nil
}

// scanFile walks the entries of one file whose first entry must have
// sequence first. It returns the offset after the last whole entry, a
// description of a torn tail ("" if none), or a *CorruptionError.
func scanFile(path string, first uint64, fn func(seq uint64, flags byte, payload []byte) error) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", fmt.Errorf("wal: open %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, "", fmt.Errorf("wal: stat %s: %w", path, err)
	}
	size := st.Size()
	r := bufio.NewReaderSize(f, 1<<20)
	var off int64
	var hdr [entryHdr]byte
	var body []byte
	want := first
	// tail decides torn vs corrupt for damage at off: torn when the rest of
	// the file (from the damaged entry on) holds nothing but this entry's
	// remains or zeros.
	tail := func(reason string, entryEnd int64, cause error) (int64, string, error) {
		if entryEnd >= size || restIsZero(f, max(entryEnd, off), size) {
			return off, reason, nil
		}
		return off, "", &CorruptionError{Path: path, Offset: off, Err: cause}
	}
	for off < size {
		if size-off < entryHdr {
			return tail("partial entry header", size, io.ErrUnexpectedEOF)
		}
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return off, "", fmt.Errorf("wal: read %s: %w", path, err)
		}
		n := int64(binary.LittleEndian.Uint32(hdr[:]))
		if n == 0 && binary.LittleEndian.Uint32(hdr[4:]) == 0 {
			if restIsZero(f, off, size) {
				return off, "zero-filled tail", nil
			}
			return off, "", &CorruptionError{Path: path, Offset: off, Err: errors.New("zero entry header")}
		}
		end := off + entryHdr + n
		if n < bodyHdr || n > maxEntry {
			return tail("bad entry length", end, fmt.Errorf("entry length %d", n))
		}
		if end > size {
			return tail("partial entry", end, io.ErrUnexpectedEOF)
		}
		if cap(body) < int(n) {
			body = make([]byte, n)
		}
		body = body[:n]
		if _, err := io.ReadFull(r, body); err != nil {
			return off, "", fmt.Errorf("wal: read %s: %w", path, err)
		}
		if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(hdr[4:]) {
			return tail("bad checksum in last entry", end, errors.New("entry checksum mismatch"))
		}
		seq := binary.LittleEndian.Uint64(body)
		if seq != want {
			return off, "", &CorruptionError{Path: path, Offset: off, Err: fmt.Errorf("sequence %d, want %d", seq, want)}
		}
		if err := fn(seq, body[8], body[bodyHdr:]); err != nil {
			return off, "", err
		}
		want++
		off = end
	}
	return off, "", nil
}

func restIsZero(f *os.File, from, size int64) bool {
	buf := make([]byte, 64<<10)
	for from < size {
		n := min(int64(len(buf)), size-from)
		if _, err := f.ReadAt(buf[:n], from); err != nil {
			return false
		}
		for _, c := range buf[:n] {
			if c != 0 {
				return false
			}
		}
		from += n
	}
	return true
}

// Check reads the whole log without changing it and calls entry for every
// whole entry. A torn tail in the newest file is normal after a crash (the
// next start cuts it) and not reported; other damage is.
func Check(dir string, entry func()) error {
	files, err := listFiles(dir)
	if err != nil {
		return err
	}
	for i, f := range files {
		_, torn, err := scanFile(f.path, f.first, func(uint64, byte, []byte) error { entry(); return nil })
		if err != nil {
			return err
		}
		if torn != "" && i != len(files)-1 {
			return &CorruptionError{Path: f.path, Offset: -1, Err: fmt.Errorf("torn tail in a file that is not the newest (%s)", torn)}
		}
	}
	return nil
}

// Ranges returns the runs of entries above after in the log in dir, one per
// file, oldest first (for shipping what a previous run had not shipped).
// Call before Start; a torn tail ends the last run.
func Ranges(dir string, after uint64) ([]Range, error) {
	files, err := listFiles(dir)
	if err != nil {
		return nil, err
	}
	var out []Range
	for _, f := range files {
		r := Range{Path: f.path}
		var off int64
		_, _, err := scanFile(f.path, f.first, func(seq uint64, _ byte, p []byte) error {
			end := off + entryHdr + bodyHdr + int64(len(p))
			if seq > after {
				if r.First == 0 {
					r.First, r.Off = seq, off
				}
				r.Last, r.End = seq, end
			}
			off = end
			return nil
		})
		if err != nil {
			return nil, err
		}
		if r.Last != 0 {
			out = append(out, r)
		}
	}
	return out, nil
}

// Entries walks the whole entries in b (bytes of a log file, from an entry's
// start), checking each one's checksum, and calls fn with its sequence and
// its bytes as stored (header included: append them to a log file as they
// are). It returns an error at the first damaged or partial entry.
func Entries(b []byte, fn func(seq uint64, entry []byte) error) error {
	for off := 0; off < len(b); {
		if len(b)-off < entryHdr+bodyHdr {
			return fmt.Errorf("wal: partial entry at offset %d", off)
		}
		n := int(binary.LittleEndian.Uint32(b[off:]))
		if n < bodyHdr || n > len(b)-off-entryHdr {
			return fmt.Errorf("wal: bad entry length %d at offset %d", n, off)
		}
		body := b[off+entryHdr : off+entryHdr+n]
		if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[off+4:]) {
			return fmt.Errorf("wal: entry checksum mismatch at offset %d", off)
		}
		if err := fn(binary.LittleEndian.Uint64(body), b[off:off+entryHdr+n]); err != nil {
			return err
		}
		off += entryHdr + n
	}
	return nil
}

// EntryPayload returns the payload of an entry as Entries gives it (its
// stored bytes), decompressing an s2 payload into dst.
func EntryPayload(entry, dst []byte) ([]byte, error) {
	if len(entry) < entryHdr+bodyHdr {
		return nil, errors.New("wal: short entry")
	}
	p := entry[entryHdr+bodyHdr:]
	if entry[entryHdr+8]&flagS2 == 0 {
		return p, nil
	}
	out, err := s2.Decode(dst[:cap(dst)], p)
	if err != nil {
		return nil, fmt.Errorf("wal: decode entry %d: %w", binary.LittleEndian.Uint64(entry[entryHdr:]), err)
	}
	return out, nil
}
