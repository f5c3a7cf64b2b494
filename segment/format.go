package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Skippable frame magics (zstd reserves 0x184D2A50..0x184D2A5F).
const (
	magicBlock    uint32 = 0x184D2A51 // per-block metadata header
	magicIndex    uint32 = 0x184D2A52 // index of a sealed file, last frame
	magicManifest uint32 = 0x184D2A53 // names of the parts a compacted file replaces
	magicZstd     uint32 = 0xFD2FB528 // a standard zstd data frame
)

// FormatVersion is the version byte of index and manifest frames and of
// block headers whose data is one zstd frame.
const FormatVersion = 1

// BlockVersionFrames is the version byte of a block header whose data is
// several concatenated zstd frames (intake since format 2: the frames were
// compressed per request). Readers take versions 1 and 2.
const BlockVersionFrames = 2

const (
	skipHdrLen     = 8                         // magic + payload length
	blockPayload   = 56                        // see docs/FORMAT.md
	BlockHeaderLen = skipHdrLen + blockPayload // BlockHeaderLen is the size of a block header frame on disk.
	indexEntryLen  = 56
	indexTrailer   = 16 // count, payload length, crc, "ISIX"
	indexMark      = "ISIX"
	// MaxBlockRaw bounds the raw size of one block; larger claims are corruption.
	MaxBlockRaw = 64 << 20
	maxManifest = 1 << 20
)

const (
	kindBlock    = 1
	kindIndex    = 2
	kindManifest = 3
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC returns the CRC-32C (Castagnoli) of b.
func CRC(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// BlockMeta describes one block: what its header frame says.
type BlockMeta struct {
	CompLen  uint32 // length of the zstd data frame(s) that follow the header
	RawLen   uint32 // length of the NDJSON it decodes to
	Records  uint32 // number of lines
	MinTS    int64  // smallest record timestamp, Unix nanoseconds
	MaxTS    int64  // largest record timestamp, Unix nanoseconds
	FirstSeq uint64 // smallest WAL sequence whose records the block holds (0: none)
	LastSeq  uint64 // largest WAL sequence whose records the block holds
	DataCRC  uint32 // CRC-32C of the compressed data frame(s)
}

// errors that describe a damaged frame; wrapped in CorruptionError by walkers.
var (
	ErrHeaderCRC   = errors.New("segment: header checksum mismatch")
	ErrDataCRC     = errors.New("segment: data checksum mismatch")
	ErrBadMagic    = errors.New("segment: unknown frame magic")
	ErrBadHeader   = errors.New("segment: malformed header")
	ErrShortFrame  = errors.New("segment: frame extends past end of file")
	ErrNotSegment  = errors.New("segment: not a segment file")
	ErrSealed      = errors.New("segment: file is sealed")
	ErrWriterError = errors.New("segment: writer failed earlier")
)

// putBlockHeader writes the 64-byte header frame for m into dst[:BlockHeaderLen];
// version is FormatVersion, or BlockVersionFrames for data of several frames.
func putBlockHeader(dst []byte, m BlockMeta, version byte) {
	_ = dst[BlockHeaderLen-1]
	binary.LittleEndian.PutUint32(dst[0:], magicBlock)
	binary.LittleEndian.PutUint32(dst[4:], blockPayload)
	p := dst[skipHdrLen:]
	p[0] = version
	p[1] = kindBlock
	p[2], p[3] = 0, 0
	binary.LittleEndian.PutUint32(p[4:], m.CompLen)
	binary.LittleEndian.PutUint32(p[8:], m.RawLen)
	binary.LittleEndian.PutUint32(p[12:], m.Records)
	binary.LittleEndian.PutUint64(p[16:], uint64(m.MinTS))
	binary.LittleEndian.PutUint64(p[24:], uint64(m.MaxTS))
	binary.LittleEndian.PutUint64(p[32:], m.FirstSeq)
	binary.LittleEndian.PutUint64(p[40:], m.LastSeq)
	binary.LittleEndian.PutUint32(p[48:], m.DataCRC)
	binary.LittleEndian.PutUint32(p[52:], CRC(p[:52]))
}

// ParseBlockHeader decodes a block header frame (BlockHeaderLen bytes).
// It checks the magic, length, version, kind, the header CRC and the
// plausibility of the lengths.
func ParseBlockHeader(b []byte) (BlockMeta, error) {
	var m BlockMeta
	if len(b) < BlockHeaderLen {
		return m, fmt.Errorf("%w: %d bytes", ErrBadHeader, len(b))
	}
	if binary.LittleEndian.Uint32(b) != magicBlock || binary.LittleEndian.Uint32(b[4:]) != blockPayload {
		return m, ErrBadMagic
	}
	p := b[skipHdrLen:BlockHeaderLen]
	if CRC(p[:52]) != binary.LittleEndian.Uint32(p[52:]) {
		return m, ErrHeaderCRC
	}
	if (p[0] != FormatVersion && p[0] != BlockVersionFrames) || p[1] != kindBlock {
		return m, fmt.Errorf("%w: version %d kind %d", ErrBadHeader, p[0], p[1])
	}
	m.CompLen = binary.LittleEndian.Uint32(p[4:])
	m.RawLen = binary.LittleEndian.Uint32(p[8:])
	m.Records = binary.LittleEndian.Uint32(p[12:])
	m.MinTS = int64(binary.LittleEndian.Uint64(p[16:]))
	m.MaxTS = int64(binary.LittleEndian.Uint64(p[24:]))
	m.FirstSeq = binary.LittleEndian.Uint64(p[32:])
	m.LastSeq = binary.LittleEndian.Uint64(p[40:])
	m.DataCRC = binary.LittleEndian.Uint32(p[48:])
	switch {
	case m.RawLen > MaxBlockRaw || m.CompLen == 0 || m.CompLen > MaxBlockRaw+MaxBlockRaw/64:
		return m, fmt.Errorf("%w: lengths comp=%d raw=%d", ErrBadHeader, m.CompLen, m.RawLen)
	case m.MinTS > m.MaxTS || m.FirstSeq > m.LastSeq || m.Records > m.RawLen:
		return m, fmt.Errorf("%w: ranges", ErrBadHeader)
	}
	return m, nil
}

// IndexEntry locates one block of a sealed file.
type IndexEntry struct {
	Offset int64 // offset of the block's header frame
	BlockMeta
}

// appendIndex appends the index frame for entries to dst.
func appendIndex(dst []byte, entries []IndexEntry) []byte {
	payload := 8 + len(entries)*indexEntryLen + indexTrailer
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, magicIndex)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(payload))
	dst = append(dst, FormatVersion, kindIndex, 0, 0)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(entries)))
	for _, e := range entries {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(e.Offset))
		dst = binary.LittleEndian.AppendUint32(dst, e.CompLen)
		dst = binary.LittleEndian.AppendUint32(dst, e.RawLen)
		dst = binary.LittleEndian.AppendUint32(dst, e.Records)
		dst = binary.LittleEndian.AppendUint32(dst, e.DataCRC)
		dst = binary.LittleEndian.AppendUint64(dst, uint64(e.MinTS))
		dst = binary.LittleEndian.AppendUint64(dst, uint64(e.MaxTS))
		dst = binary.LittleEndian.AppendUint64(dst, e.FirstSeq)
		dst = binary.LittleEndian.AppendUint64(dst, e.LastSeq)
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(entries)))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(payload))
	dst = binary.LittleEndian.AppendUint32(dst, CRC(dst[start+skipHdrLen:]))
	return append(dst, indexMark...)
}

// parseIndex decodes an index frame's payload (without the 8-byte skippable header).
func parseIndex(p []byte) ([]IndexEntry, error) {
	if len(p) < 8+indexTrailer || (len(p)-8-indexTrailer)%indexEntryLen != 0 {
		return nil, fmt.Errorf("%w: index length %d", ErrBadHeader, len(p))
	}
	t := p[len(p)-indexTrailer:]
	if string(t[12:]) != indexMark || CRC(p[:len(p)-8]) != binary.LittleEndian.Uint32(t[8:]) {
		return nil, fmt.Errorf("%w: index", ErrHeaderCRC)
	}
	if p[0] != FormatVersion || p[1] != kindIndex {
		return nil, fmt.Errorf("%w: index version %d kind %d", ErrBadHeader, p[0], p[1])
	}
	n := int(binary.LittleEndian.Uint32(p[4:]))
	if n != (len(p)-8-indexTrailer)/indexEntryLen {
		return nil, fmt.Errorf("%w: index count %d", ErrBadHeader, n)
	}
	out := make([]IndexEntry, n)
	q := p[8:]
	for i := range out {
		e := &out[i]
		e.Offset = int64(binary.LittleEndian.Uint64(q[0:]))
		e.CompLen = binary.LittleEndian.Uint32(q[8:])
		e.RawLen = binary.LittleEndian.Uint32(q[12:])
		e.Records = binary.LittleEndian.Uint32(q[16:])
		e.DataCRC = binary.LittleEndian.Uint32(q[20:])
		e.MinTS = int64(binary.LittleEndian.Uint64(q[24:]))
		e.MaxTS = int64(binary.LittleEndian.Uint64(q[32:]))
		e.FirstSeq = binary.LittleEndian.Uint64(q[40:])
		e.LastSeq = binary.LittleEndian.Uint64(q[48:])
		q = q[indexEntryLen:]
	}
	return out, nil
}

// appendManifest appends a manifest frame naming the files a compacted file replaces.
func appendManifest(dst []byte, names []string) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, magicManifest)
	dst = binary.LittleEndian.AppendUint32(dst, 0) // patched below
	dst = append(dst, FormatVersion, kindManifest, 0, 0)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(names)))
	for _, n := range names {
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(n)))
		dst = append(dst, n...)
	}
	dst = binary.LittleEndian.AppendUint32(dst, CRC(dst[start+skipHdrLen:]))
	binary.LittleEndian.PutUint32(dst[start+4:], uint32(len(dst)-start-skipHdrLen))
	return dst
}

// parseManifest decodes a manifest payload.
func parseManifest(p []byte) ([]string, error) {
	if len(p) < 12 || CRC(p[:len(p)-4]) != binary.LittleEndian.Uint32(p[len(p)-4:]) {
		return nil, fmt.Errorf("%w: manifest", ErrHeaderCRC)
	}
	if p[0] != FormatVersion || p[1] != kindManifest {
		return nil, fmt.Errorf("%w: manifest version %d kind %d", ErrBadHeader, p[0], p[1])
	}
	n := int(binary.LittleEndian.Uint32(p[4:]))
	q := p[8 : len(p)-4]
	names := make([]string, 0, min(n, 1024))
	for i := 0; i < n; i++ {
		if len(q) < 2 {
			return nil, fmt.Errorf("%w: manifest truncated", ErrBadHeader)
		}
		l := int(binary.LittleEndian.Uint16(q))
		if len(q) < 2+l {
			return nil, fmt.Errorf("%w: manifest truncated", ErrBadHeader)
		}
		names = append(names, string(q[2:2+l]))
		q = q[2+l:]
	}
	if len(q) != 0 {
		return nil, fmt.Errorf("%w: manifest trailing bytes", ErrBadHeader)
	}
	return names, nil
}
