package record

import (
	"encoding/binary"
	"errors"
)

// Entry format 1: a WAL entry's payload is one request's accepted records:
//
//	uvarint count | count × (varint ts, uvarint len) | the records, each + '\n'
//
// The daemon writes format 2 (entry2.go) since it compresses each request
// once; format 1 is still read, for a WAL written before.

// AppendPlainEntry appends the format 1 (EntryPlain) WAL payload for b to dst (tests of the
// reader of old logs, and benchmarks).
func AppendPlainEntry(dst []byte, b *Batch) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b.Recs)))
	for _, r := range b.Recs {
		dst = binary.AppendVarint(dst, r.TS)
		dst = binary.AppendUvarint(dst, uint64(r.Len))
	}
	return append(dst, b.Buf...)
}

var errEntry = errors.New("record: malformed WAL entry payload")

// EntryReader iterates the records of a WAL payload without allocating.
type EntryReader struct {
	hdr  []byte // remaining (ts, len) pairs
	recs []byte // remaining records
	n    int    // records left
}

// NewEntryReader checks payload p's framing and returns a reader over it.
func NewEntryReader(p []byte) (EntryReader, error) {
	n, k := binary.Uvarint(p)
	if k <= 0 || n > uint64(len(p)) {
		return EntryReader{}, errEntry
	}
	p = p[k:]
	// find the end of the header by walking it
	h := p
	total := 0
	for i := uint64(0); i < n; i++ {
		_, k1 := binary.Varint(h)
		if k1 <= 0 {
			return EntryReader{}, errEntry
		}
		l, k2 := binary.Uvarint(h[k1:])
		if k2 <= 0 {
			return EntryReader{}, errEntry
		}
		h = h[k1+k2:]
		total += int(l) + 1
	}
	hdrLen := len(p) - len(h)
	if len(h) != total {
		return EntryReader{}, errEntry
	}
	return EntryReader{hdr: p[:hdrLen], recs: h, n: int(n)}, nil
}

// Next returns the next record (with its trailing newline) and timestamp.
func (e *EntryReader) Next() (rec []byte, ts int64, ok bool) {
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

// DecodeEntry decodes payload p into the records area (each record followed
// by '\n', as in Batch.Buf) and the records' places in it, appended to recs.
// buf aliases p.
func DecodeEntry(p []byte, recs []Rec) (buf []byte, _ []Rec, err error) {
	er, err := NewEntryReader(p)
	if err != nil {
		return nil, recs, err
	}
	buf = er.recs
	for {
		rec, ts, ok := er.Next()
		if !ok {
			break
		}
		off := len(buf) - len(er.recs) - len(rec)
		recs = append(recs, Rec{Off: uint32(off), Len: uint32(len(rec) - 1), TS: ts})
	}
	return buf, recs, nil
}
