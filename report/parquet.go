package report

import (
	"fmt"
	"os"
	"sync"

	"github.com/ingestd/ingestd/internal/failpoint"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
	"github.com/klauspost/compress/zstd"
)

// Arrow v17's Parquet zstd codec builds a new encoder for every page it
// compresses at an explicit level (EncodeLevel), which costs more than the
// compression of a small page. This codec keeps one encoder per level;
// EncodeAll is safe for concurrent use.
type pooledZstd struct {
	compress.Codec // the stock codec, for streams and decoding
	mu             sync.Mutex
	encs           map[zstd.EncoderLevel]*zstd.Encoder
}

func (z *pooledZstd) encoder(level int) *zstd.Encoder {
	l := zstd.SpeedDefault
	if level != compress.DefaultCompressionLevel {
		l = zstd.EncoderLevelFromZstd(level)
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	e := z.encs[l]
	if e == nil {
		e, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(l), zstd.WithZeroFrames(true), zstd.WithEncoderConcurrency(1))
		z.encs[l] = e
	}
	return e
}

func (z *pooledZstd) Encode(dst, src []byte) []byte {
	return z.encoder(compress.DefaultCompressionLevel).EncodeAll(src, dst[:0])
}

func (z *pooledZstd) EncodeLevel(dst, src []byte, level int) []byte {
	return z.encoder(level).EncodeAll(src, dst[:0])
}

func init() {
	stock, err := compress.GetCodec(compress.Codecs.Zstd)
	if err != nil {
		panic(err)
	}
	compress.RegisterCodec(compress.Codecs.Zstd, &pooledZstd{Codec: stock, encs: map[zstd.EncoderLevel]*zstd.Encoder{}})
}

func parquetProps() *parquet.WriterProperties {
	return parquet.NewWriterProperties(
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithCompressionLevel(3),
		parquet.WithDictionaryDefault(true),
		parquet.WithMaxRowGroupLength(1<<20),
	)
}

// parquetFile writes record batches to one Parquet file. Batches are
// buffered into row groups of up to 1 Mi rows (Write would start a row group
// per batch). Safe for concurrent use.
type parquetFile struct {
	mu   sync.Mutex
	f    *os.File
	w    *pqarrow.FileWriter
	rows int64
}

func createParquet(path string, schema *arrow.Schema) (*parquetFile, error) {
	failpoint.Hit("report.createParquet.openfile")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	w, err := pqarrow.NewFileWriter(schema, f, parquetProps(), pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("report: parquet %s: %w", path, err)
	}
	return &parquetFile{f: f, w: w}, nil
}

func (p *parquetFile) write(rec arrow.Record) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.w.WriteBuffered(rec); err != nil {
		return fmt.Errorf("report: parquet %s: %w", p.f.Name(), err)
	}
	p.rows += rec.NumRows()
	if n, _ := p.w.RowGroupNumRows(); n >= 1<<20 {
		p.w.NewBufferedRowGroup()
	}
	return nil
}

// close finishes the file and syncs it.
func (p *parquetFile) close() error {
	err := p.w.Close() // closes the sink too
	if err != nil {
		return fmt.Errorf("report: parquet %s: %w", p.f.Name(), err)
	}
	return nil
}

// writeParquet writes one record batch as a whole Parquet file.
func writeParquet(path string, rec arrow.Record) error {
	p, err := createParquet(path, rec.Schema())
	if err != nil {
		return err
	}
	if err := p.write(rec); err != nil {
		p.w.Close()
		return err
	}
	return p.close()
}
