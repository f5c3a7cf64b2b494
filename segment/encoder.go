package segment

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// Level is a compression level name: "fastest", "default", "better" or "best".
type Level string

// Levels as accepted in configuration.
const (
	LevelFastest Level = "fastest"
	LevelDefault Level = "default"
	LevelBetter  Level = "better"
	LevelBest    Level = "best"
)

// ParseLevel validates a level name; the empty string means LevelFastest.
func ParseLevel(s string) (Level, error) {
	switch l := Level(strings.ToLower(s)); l {
	case "":
		return LevelFastest, nil
	case LevelFastest, LevelDefault, LevelBetter, LevelBest:
		return l, nil
	}
	return "", fmt.Errorf("segment: unknown compression level %q (want fastest, default, better or best)", s)
}

func (l Level) zstd() zstd.EncoderLevel {
	switch l {
	case LevelDefault:
		return zstd.SpeedDefault
	case LevelBetter:
		return zstd.SpeedBetterCompression
	case LevelBest:
		return zstd.SpeedBestCompression
	}
	return zstd.SpeedFastest
}

// Encoder compresses blocks into header+frame byte strings. One Encoder is
// meant to live for the whole process; it is safe for concurrent use
// (klauspost's EncodeAll is, and its maintainer advises against pooling
// encoders).
type Encoder struct {
	enc *zstd.Encoder
}

// NewEncoder returns an Encoder at level with content checksums on.
func NewEncoder(level Level) (*Encoder, error) {
	l, err := ParseLevel(string(level))
	if err != nil {
		return nil, err
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(l.zstd()), zstd.WithEncoderCRC(true),
		zstd.WithZeroFrames(true), zstd.WithLowerEncoderMem(true))
	if err != nil {
		return nil, fmt.Errorf("segment: new encoder: %w", err)
	}
	return &Encoder{enc: enc}, nil
}

// AppendBlock compresses raw (whole NDJSON lines, each ending in '\n') and
// appends the block header frame and the zstd data frame to dst. m supplies
// Records, MinTS, MaxTS, FirstSeq and LastSeq; the lengths and CRC are
// computed. The result is what Writer.Append takes.
func (e *Encoder) AppendBlock(dst []byte, m BlockMeta, raw []byte) ([]byte, error) {
	if len(raw) == 0 || len(raw) > MaxBlockRaw {
		return dst, fmt.Errorf("segment: block of %d bytes (want 1..%d)", len(raw), MaxBlockRaw)
	}
	if raw[len(raw)-1] != '\n' {
		return dst, fmt.Errorf("segment: block does not end in a newline")
	}
	start := len(dst)
	dst = append(dst, make([]byte, BlockHeaderLen)...)
	dst = e.enc.EncodeAll(raw, dst)
	frame := dst[start+BlockHeaderLen:]
	m.CompLen = uint32(len(frame))
	m.RawLen = uint32(len(raw))
	m.DataCRC = CRC(frame)
	if m.MinTS > m.MaxTS || m.FirstSeq > m.LastSeq {
		return dst[:start], fmt.Errorf("segment: block meta ranges inverted")
	}
	putBlockHeader(dst[start:], m)
	return dst, nil
}

// Close releases the encoder's resources.
func (e *Encoder) Close() error { return e.enc.Close() }

// blockMetaOf reads back the meta of an encoded block produced by AppendBlock.
func blockMetaOf(b []byte) (BlockMeta, error) {
	m, err := ParseBlockHeader(b)
	if err != nil {
		return m, err
	}
	if int(m.CompLen) != len(b)-BlockHeaderLen {
		return m, fmt.Errorf("%w: encoded block length %d, header says %d", ErrBadHeader, len(b)-BlockHeaderLen, m.CompLen)
	}
	if binary.LittleEndian.Uint32(b[BlockHeaderLen:]) != magicZstd {
		return m, fmt.Errorf("%w: no zstd frame after header", ErrBadHeader)
	}
	return m, nil
}
