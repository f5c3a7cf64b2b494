package segment

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

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
// meant to live for the whole process; it is safe for concurrent use.
//
// Its zstd encoders (concurrency 1 each) live in a sync.Pool, not behind one
// shared zstd.Encoder: the pool hands a goroutine the encoder last put back
// on its own P, whose 256 KiB match table is then still in that core's cache.
// At most GOMAXPROCS frames are compressed at once (more would not run
// sooner, and each holds an encoder's memory), and an encoder is taken per
// frame, so that concurrent requests take turns frame by frame. An encoder
// the GC drops from the pool holds only memory: EncodeAll starts no
// goroutines.
type Encoder struct {
	opts []zstd.EOption
	sem  chan struct{} // a token per encoder in use
	encs sync.Pool     // *zstd.Encoder
	made atomic.Int64  // encoders made since NewEncoder (tests)
	bufs sync.Pool     // *[]byte: AppendFrames' second half
}

// NewEncoder returns an Encoder at level with content checksums on.
func NewEncoder(level Level) (*Encoder, error) {
	l, err := ParseLevel(string(level))
	if err != nil {
		return nil, err
	}
	e := &Encoder{sem: make(chan struct{}, runtime.GOMAXPROCS(0))}
	e.opts = []zstd.EOption{zstd.WithEncoderLevel(l.zstd()), zstd.WithEncoderCRC(true),
		zstd.WithZeroFrames(true), zstd.WithLowerEncoderMem(true), zstd.WithEncoderConcurrency(1)}
	z, err := zstd.NewWriter(nil, e.opts...)
	if err != nil {
		return nil, fmt.Errorf("segment: new encoder: %w", err)
	}
	e.encs.Put(z)
	return e, nil
}

// get waits for a token and returns a pooled zstd encoder or a new one;
// hand it back with put.
func (e *Encoder) get() *zstd.Encoder {
	e.sem <- struct{}{}
	if z, _ := e.encs.Get().(*zstd.Encoder); z != nil {
		return z
	}
	e.made.Add(1)
	z, err := zstd.NewWriter(nil, e.opts...)
	if err != nil { // NewEncoder made one with the same options
		panic(fmt.Sprintf("segment: new encoder: %v", err))
	}
	return z
}

// put returns an encoder from get to the pool, and its token.
func (e *Encoder) put(z *zstd.Encoder) {
	e.encs.Put(z)
	<-e.sem
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
	dst, start := StartBlock(dst)
	dst = e.AppendFrame(dst, raw)
	m.RawLen = uint32(len(raw))
	return EndBlock(dst, start, m, true)
}

// AppendFrame compresses raw into one zstd data frame (content checksum on)
// appended to dst. Frames made apart, even by another process, concatenate
// into a block's data (StartBlock, EndBlock): that is how intake compresses
// each request once, in its own goroutine.
func (e *Encoder) AppendFrame(dst, raw []byte) []byte {
	z := e.get()
	dst = z.EncodeAll(raw, dst)
	e.put(z)
	return dst
}

// AppendFrames compresses raw[:ends[0]], raw[ends[0]:ends[1]], … into one
// frame each, appended to dst in order (the last end is len(raw)). With
// two or more frames the latter half is compressed on a second goroutine
// meanwhile, so that one request's frames take two cores when they are idle
// (its answer waits for them).
func (e *Encoder) AppendFrames(dst, raw []byte, ends []int) []byte {
	if len(ends) < 2 {
		return e.AppendFrame(dst, raw)
	}
	half := len(ends) / 2
	bp, _ := e.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		b, prev := (*bp)[:0], ends[half-1]
		for _, end := range ends[half:] {
			b, prev = e.AppendFrame(b, raw[prev:end]), end
		}
		*bp = b
	}()
	prev := 0
	for _, end := range ends[:half] {
		dst, prev = e.AppendFrame(dst, raw[prev:end]), end
	}
	wg.Wait()
	dst = append(dst, *bp...)
	if cap(*bp) <= 4<<20 {
		e.bufs.Put(bp)
	}
	return dst
}

// StartBlock appends room for a block header to dst and returns the block's
// start in it. Append the block's data frames after it (AppendFrame, or
// frames made earlier), then call EndBlock.
func StartBlock(dst []byte) ([]byte, int) {
	start := len(dst)
	return append(dst, make([]byte, BlockHeaderLen)...), start
}

// EndBlock writes the header of the block that starts at dst[start:] and
// whose data frames follow it to the end of dst. m supplies RawLen (the
// frames' decompressed length), Records, MinTS, MaxTS, FirstSeq and LastSeq;
// the compressed length and CRC are computed. oneFrame says the data is one
// zstd frame: it gets a version 1 header, which every ingestd reads; data of
// several frames gets version 2 (BlockVersionFrames).
func EndBlock(dst []byte, start int, m BlockMeta, oneFrame bool) ([]byte, error) {
	data := dst[start+BlockHeaderLen:]
	switch {
	case len(data) < 4 || binary.LittleEndian.Uint32(data) != magicZstd:
		return dst[:start], fmt.Errorf("segment: block data is not zstd frames")
	case m.RawLen == 0 || m.RawLen > MaxBlockRaw:
		return dst[:start], fmt.Errorf("segment: block of %d bytes (want 1..%d)", m.RawLen, MaxBlockRaw)
	case m.MinTS > m.MaxTS || m.FirstSeq > m.LastSeq:
		return dst[:start], fmt.Errorf("segment: block meta ranges inverted")
	}
	m.CompLen = uint32(len(data))
	m.DataCRC = CRC(data)
	version := byte(FormatVersion)
	if !oneFrame {
		version = BlockVersionFrames
	}
	putBlockHeader(dst[start:], m, version)
	return dst, nil
}

// Close releases the pooled encoders' memory to the GC. The Encoder stays
// usable: it makes new ones as needed.
func (e *Encoder) Close() error {
	for {
		z, _ := e.encs.Get().(*zstd.Encoder)
		if z == nil {
			return nil
		}
		_ = z.Close() // EncodeAll-only encoders hold no goroutines or files
	}
}

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
