package ingest

import (
	"encoding/binary"
	"errors"
)

// A WAL entry's payload is one request's accepted records:
//
//	uvarint count | count × (varint ts, uvarint len) | the records, each + '\n'
//
// The records part is Batch.Buf as it is, so encoding copies it once.

// appendEntry appends the WAL payload for b to dst.
func appendEntry(dst []byte, b *Batch) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b.Recs)))
	for _, r := range b.Recs {
		dst = binary.AppendVarint(dst, r.TS)
		dst = binary.AppendUvarint(dst, uint64(r.Len))
	}
	return append(dst, b.Buf...)
}

var errEntry = errors.New("ingest: malformed WAL entry payload")

// entryReader iterates the records of a WAL payload without allocating.
type entryReader struct {
	hdr  []byte // remaining (ts, len) pairs
	recs []byte // remaining records
	n    int    // records left
}

func newEntryReader(p []byte) (entryReader, error) {
	n, k := binary.Uvarint(p)
	if k <= 0 || n > uint64(len(p)) {
		return entryReader{}, errEntry
	}
	p = p[k:]
	// find the end of the header by walking it
	h := p
	total := 0
	for i := uint64(0); i < n; i++ {
		_, k1 := binary.Varint(h)
		if k1 <= 0 {
			return entryReader{}, errEntry
		}
		l, k2 := binary.Uvarint(h[k1:])
		if k2 <= 0 {
			return entryReader{}, errEntry
		}
		h = h[k1+k2:]
		total += int(l) + 1
	}
	hdrLen := len(p) - len(h)
	if len(h) != total {
		return entryReader{}, errEntry
	}
	return entryReader{hdr: p[:hdrLen], recs: h, n: int(n)}, nil
}

// next returns the next record (with its trailing newline) and timestamp.
func (e *entryReader) next() (rec []byte, ts int64, ok bool) {
	if e.n == 0 {
		return nil, 0, false
	}
	ts, k1 := binary.Varint(e.hdr)
	l, k2 := binary.Uvarint(e.hdr[k1:])
	e.hdr = e.hdr[k1+k2:]
	rec, e.recs = e.recs[:l+1], e.recs[l+1:]
	e.n--
	return rec, ts, true
}
