package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ingestd/ingestd/internal/utcday"
)

// Entry format 2 holds a request's records already grouped by UTC day, each
// day's share either as zstd frames (each of whole lines, up to
// Framing.Span), compressed once in the request's own goroutine, or (when
// small) as raw NDJSON:
//
//	0x00 | u8 version = 2 | uvarint part count | parts
//	part: varint day (Unix days) | uvarint records | varint min ts | varint max ts
//	      | uvarint raw length | u8 kind (0 raw NDJSON, 1 zstd frames of it)
//	      | uvarint data length | data
//
// Format 1 (AppendEntry) never starts with a zero byte (its first field is a
// record count, never 0), so the first byte tells the formats apart.

// entryV2 is format 2's version byte, after the 0x00 marker.
const entryV2 = 2

// Part kinds in format 2.
const (
	partRaw  = 0
	partZstd = 1
)

// maxPartRaw bounds one part's raw length (a segment block's limit).
const maxPartRaw = 64 << 20

// Compressor makes zstd frames: one of raw[:ends[0]], one of
// raw[ends[0]:ends[1]], and so on, appended to dst in order (the last end is
// len(raw)). segment.Encoder is one.
type Compressor interface {
	AppendFrames(dst, raw []byte, ends []int) []byte
}

// Framing says how a day's share of a request becomes frames.
type Framing struct {
	Min  int // a share under this many bytes stays raw
	Span int // a frame holds whole lines up to this many bytes (or one longer line)
}

// Part is one UTC day's share of a format 2 entry.
type Part struct {
	Day          int64 // Unix day number (floor of the timestamp over 24 h)
	Records      uint32
	MinTS, MaxTS int64  // Unix ns
	RawLen       uint32 // NDJSON bytes of the records, newlines included
	Packed       bool   // Data is zstd frames of the records; otherwise the NDJSON itself
	Data         []byte // aliases the payload
}

// EntryScratch is memory AppendFramedEntry reuses; one per goroutine.
type EntryScratch struct {
	days   []int64 // distinct days, in order of first appearance
	which  []int32 // per record: index into days
	start  []int32 // per day: first index into order
	order  []int32 // record indexes grouped by day, stable
	fill   []int32 // per day: next free index into order
	gather []byte  // one day's records of a multi-day request
	ends   []int   // frame ends of a part
}

// AppendFramedEntry appends b's records as a format 2 payload to dst. A
// day's share of at least f.Min raw bytes is compressed by c into frames of
// whole lines, each up to f.Span bytes; a smaller one stays raw (it is
// compressed later with its neighbours, so that small requests do not make
// small frames). It returns the payload, the bytes of its parts' data (what
// the day buffers will hold) and whether any part is compressed. b must hold
// at least one record.
func AppendFramedEntry(dst []byte, b *Batch, c Compressor, f Framing, sc *EntryScratch) (out []byte, stored int, packed bool) {
	sc.days, sc.which = sc.days[:0], sc.which[:0]
	last := -1
	for _, r := range b.Recs {
		num := utcday.Of(r.TS)
		if last < 0 || sc.days[last] != num {
			last = -1
			for i, d := range sc.days {
				if d == num {
					last = i
					break
				}
			}
			if last < 0 {
				sc.days = append(sc.days, num)
				last = len(sc.days) - 1
			}
		}
		sc.which = append(sc.which, int32(last))
	}
	dst = append(dst, 0, entryV2)
	dst = binary.AppendUvarint(dst, uint64(len(sc.days)))
	if len(sc.days) == 1 { // the usual case: b.Buf is the part, as it is
		p := partOf(sc.days[0], b.Recs, nil)
		dst, stored, packed = appendPart(dst, p, b.Buf, c, f, sc)
		return dst, stored, packed
	}
	// A stable counting sort of the record indexes by day.
	sc.start = append(sc.start[:0], make([]int32, len(sc.days)+1)...)
	for _, w := range sc.which {
		sc.start[w+1]++
	}
	for i := 1; i < len(sc.start); i++ {
		sc.start[i] += sc.start[i-1]
	}
	sc.order = append(sc.order[:0], make([]int32, len(b.Recs))...)
	sc.fill = append(sc.fill[:0], sc.start[:len(sc.days)]...)
	for i, w := range sc.which {
		sc.order[sc.fill[w]] = int32(i)
		sc.fill[w]++
	}
	for di, num := range sc.days {
		idx := sc.order[sc.start[di]:sc.start[di+1]]
		sc.gather = sc.gather[:0]
		for _, i := range idx {
			r := b.Recs[i]
			sc.gather = append(sc.gather, b.Buf[r.Off:r.Off+r.Len+1]...)
		}
		p := partOf(num, b.Recs, idx)
		var n int
		var z bool
		dst, n, z = appendPart(dst, p, sc.gather, c, f, sc)
		stored += n
		packed = packed || z
	}
	return dst, stored, packed
}

// partOf summarises the records recs[idx] (all of recs when idx is nil).
func partOf(day int64, recs []Rec, idx []int32) Part {
	p := Part{Day: day}
	n := len(recs)
	if idx != nil {
		n = len(idx)
	}
	for k := 0; k < n; k++ {
		r := recs[k]
		if idx != nil {
			r = recs[idx[k]]
		}
		if p.Records == 0 || r.TS < p.MinTS {
			p.MinTS = r.TS
		}
		if p.Records == 0 || r.TS > p.MaxTS {
			p.MaxTS = r.TS
		}
		p.Records++
		p.RawLen += r.Len + 1
	}
	return p
}

// appendPart appends part p whose NDJSON is raw, compressed when it is at
// least f.Min bytes. It returns the bytes of the part's data too.
func appendPart(dst []byte, p Part, raw []byte, c Compressor, f Framing, sc *EntryScratch) ([]byte, int, bool) {
	dst = binary.AppendVarint(dst, p.Day)
	dst = binary.AppendUvarint(dst, uint64(p.Records))
	dst = binary.AppendVarint(dst, p.MinTS)
	dst = binary.AppendVarint(dst, p.MaxTS)
	dst = binary.AppendUvarint(dst, uint64(len(raw)))
	if len(raw) < f.Min || c == nil {
		dst = append(dst, partRaw)
		dst = binary.AppendUvarint(dst, uint64(len(raw)))
		return append(dst, raw...), len(raw), false
	}
	dst = append(dst, partZstd)
	// The data length is not known before compressing: reserve the most a
	// uvarint of a frame's length takes, then move the frame left over the
	// unused bytes (a few bytes of a frame ≈ 5× smaller than the records).
	at := len(dst)
	dst = append(dst, make([]byte, binary.MaxVarintLen32)...)
	span := max(f.Span, 1)
	sc.ends = sc.ends[:0]
	for off := 0; off < len(raw); {
		n := len(raw) - off
		if n > span { // cut after the last newline within the span, or the first after it
			if i := bytes.LastIndexByte(raw[off:off+span], '\n'); i >= 0 {
				n = i + 1
			} else {
				n = span + bytes.IndexByte(raw[off+span:], '\n') + 1
			}
		}
		off += n
		sc.ends = append(sc.ends, off)
	}
	dst = c.AppendFrames(dst, raw, sc.ends)
	n := len(dst) - at - binary.MaxVarintLen32
	k := binary.PutUvarint(dst[at:], uint64(n))
	copy(dst[at+k:], dst[at+binary.MaxVarintLen32:])
	return dst[:at+k+n], n, true
}

// EntryFormat is the format of a WAL entry's payload.
type EntryFormat uint8

// The entry formats. The daemon writes EntryFramed; EntryPlain is still
// read, from a WAL written before.
const (
	EntryPlain  EntryFormat = 1 // a count, (ts, len) pairs and the records (AppendPlainEntry, DecodeEntry)
	EntryFramed EntryFormat = 2 // the records by day, as their segment block's frames (AppendFramedEntry, DecodeParts)
)

// FormatOf tells payload p's format by its first byte: EntryPlain begins
// with a record count, which is never 0; EntryFramed with a 0x00 marker.
func FormatOf(p []byte) EntryFormat {
	if len(p) > 0 && p[0] == 0 {
		return EntryFramed
	}
	return EntryPlain
}

var errParts = errors.New("record: malformed WAL entry payload (format 2)")

// DecodeParts decodes a format 2 payload's parts, appended to parts; each
// Data aliases p. It checks the framing and the plausibility of every field
// without reading the data (the WAL's CRC covers it, and the live path
// decodes what it just made, on the WAL writer's goroutine); a block's lines
// and frames are checked where the block is verified.
func DecodeParts(p []byte, parts []Part) ([]Part, error) {
	if len(p) < 2 || p[0] != 0 {
		return parts, errParts
	}
	if p[1] != entryV2 {
		return parts, fmt.Errorf("record: WAL entry payload of unknown format %d", p[1])
	}
	p = p[2:]
	n, k := binary.Uvarint(p)
	if k <= 0 || n == 0 || n > uint64(len(p)) {
		return parts, errParts
	}
	p = p[k:]
	base := len(parts)
	for i := uint64(0); i < n; i++ {
		var pt Part
		var recs, raw, dlen uint64
		var ok bool
		if pt.Day, p, ok = varint(p); !ok {
			return parts, errParts
		}
		if recs, p, ok = uvarint(p); !ok {
			return parts, errParts
		}
		if pt.MinTS, p, ok = varint(p); !ok {
			return parts, errParts
		}
		if pt.MaxTS, p, ok = varint(p); !ok {
			return parts, errParts
		}
		if raw, p, ok = uvarint(p); !ok || len(p) == 0 {
			return parts, errParts
		}
		kind := p[0]
		if dlen, p, ok = uvarint(p[1:]); !ok || dlen > uint64(len(p)) {
			return parts, errParts
		}
		pt.Data, p = p[:dlen], p[dlen:]
		pt.Records, pt.RawLen, pt.Packed = uint32(recs), uint32(raw), kind == partZstd
		switch {
		case kind != partRaw && kind != partZstd,
			recs == 0, raw < recs, raw > maxPartRaw, dlen == 0,
			pt.MinTS > pt.MaxTS, utcday.Of(pt.MinTS) != pt.Day, utcday.Of(pt.MaxTS) != pt.Day:
			return parts, errParts
		case !pt.Packed && (dlen != raw || pt.Data[dlen-1] != '\n'):
			return parts, errParts
		}
		for _, q := range parts[base:] {
			if q.Day == pt.Day {
				return parts, fmt.Errorf("%w: day %d twice", errParts, q.Day)
			}
		}
		parts = append(parts, pt)
	}
	if len(p) != 0 {
		return parts, errParts
	}
	return parts, nil
}

func varint(p []byte) (int64, []byte, bool) {
	v, k := binary.Varint(p)
	if k <= 0 {
		return 0, p, false
	}
	return v, p[k:], true
}

func uvarint(p []byte) (uint64, []byte, bool) {
	v, k := binary.Uvarint(p)
	if k <= 0 {
		return 0, p, false
	}
	return v, p[k:], true
}
