package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// Body decoding errors, mapped to HTTP statuses by the server.
var (
	errTooLarge    = errors.New("request body over the limit")  // 413
	errUnsupported = errors.New("unsupported Content-Encoding") // 415
	errCorrupt     = errors.New("corrupt compressed body")      // 400
)

// decoders pools the decompressors; each decodes under a hard output limit.
type decoders struct {
	gzip   sync.Pool // *gzip.Reader
	zstd   sync.Pool // *zstd.Decoder
	bufs   sync.Pool // *[]byte output buffers
	budget *byteBudget
}

// errBusy: the request bodies being read already hold the whole budget.
var errBusy = errors.New("request bodies in flight are over buffers.max_request_bytes")

// byteBudget bounds the memory of request bodies being read and decoded,
// over all connections: every body buffer holds its capacity from the
// budget while in use.
type byteBudget struct {
	used atomic.Int64
	max  int64
}

func (b *byteBudget) take(n int) bool {
	if b == nil || n <= 0 {
		return true
	}
	for {
		u := b.used.Load()
		if u+int64(n) > b.max {
			return false
		}
		if b.used.CompareAndSwap(u, u+int64(n)) {
			return true
		}
	}
}

func (b *byteBudget) give(n int) {
	if b != nil && n > 0 {
		b.used.Add(-int64(n))
	}
}

// decode returns body decoded per encoding into a pooled buffer (release
// with put), or body itself for identity. limit is the maximum decoded size.
func (d *decoders) decode(encoding, body []byte, limit int) ([]byte, *[]byte, error) {
	enc := string(bytes.ToLower(bytes.TrimSpace(encoding)))
	switch enc {
	case "", "identity":
		if len(body) > limit {
			return nil, nil, errTooLarge
		}
		return body, nil, nil
	case "gzip", "x-gzip":
		zr, _ := d.gzip.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(bytes.NewReader(body))
		} else {
			err = zr.Reset(bytes.NewReader(body))
		}
		if err != nil {
			return nil, nil, corrupt("gzip", err)
		}
		zr.Multistream(true)
		out, bp, err := d.readAll(zr, limit, "gzip")
		d.gzip.Put(zr)
		return out, bp, err
	case "deflate":
		// RFC 9110 "deflate" is zlib-wrapped; some clients send raw deflate.
		var r io.ReadCloser
		if len(body) >= 2 && body[0]&0x0f == 8 && (uint16(body[0])<<8|uint16(body[1]))%31 == 0 {
			zr, err := zlib.NewReader(bytes.NewReader(body))
			if err != nil {
				return nil, nil, corrupt("deflate", err)
			}
			r = zr
		} else {
			r = flate.NewReader(bytes.NewReader(body))
		}
		out, bp, err := d.readAll(r, limit, "deflate")
		r.Close()
		return out, bp, err
	case "zstd":
		zd, _ := d.zstd.Get().(*zstd.Decoder)
		if zd == nil {
			var err error
			zd, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(64<<20),
				zstd.WithDecoderMaxMemory(uint64(limit)+1<<20))
			if err != nil {
				return nil, nil, fmt.Errorf("ingest: zstd decoder: %w", err)
			}
		}
		if err := zd.Reset(bytes.NewReader(body)); err != nil {
			d.zstd.Put(zd)
			return nil, nil, corrupt("zstd", err)
		}
		out, bp, err := d.readAll(zd, limit, "zstd")
		zd.Reset(nil)
		d.zstd.Put(zd)
		return out, bp, err
	}
	return nil, nil, fmt.Errorf("%w %q (want identity, gzip, zstd or deflate)", errUnsupported, enc)
}

// readAll reads r into a pooled buffer, failing once more than limit bytes
// come out: a decompression bomb costs at most limit bytes of memory.
func (d *decoders) readAll(r io.Reader, limit int, name string) ([]byte, *[]byte, error) {
	bp, _ := d.bufs.Get().(*[]byte)
	if bp != nil && !d.budget.take(cap(*bp)) {
		bp = nil // too big to hold now: start small
	}
	if bp == nil {
		if !d.budget.take(64 << 10) {
			return nil, nil, errBusy
		}
		b := make([]byte, 0, 64<<10)
		bp = &b
	}
	buf := (*bp)[:0]
	for {
		if len(buf) == cap(buf) {
			if len(buf) > limit {
				break
			}
			old := cap(buf)
			buf = append(buf, 0)[:len(buf)]
			if !d.budget.take(cap(buf) - old) {
				d.budget.give(old)
				return nil, nil, errBusy
			}
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), limit+1)])
		buf = buf[:len(buf)+n]
		if len(buf) > limit {
			*bp = buf[:0]
			d.put(bp)
			return nil, nil, errTooLarge
		}
		if err == io.EOF {
			*bp = buf
			return buf, bp, nil
		}
		if err != nil {
			*bp = buf[:0]
			d.put(bp)
			if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
				return nil, nil, errTooLarge
			}
			if name == "body" {
				return nil, nil, err
			}
			return nil, nil, corrupt(name, err)
		}
	}
	*bp = buf[:0]
	d.put(bp)
	return nil, nil, errTooLarge
}

// put returns a buffer from decode to the pool.
func (d *decoders) put(bp *[]byte) {
	if bp == nil {
		return
	}
	d.budget.give(cap(*bp))
	if cap(*bp) > 16<<20 { // do not pin huge buffers
		return
	}
	*bp = (*bp)[:0]
	d.bufs.Put(bp)
}

// corrupt wraps a decoder's error as errCorrupt, naming the encoding once
// (compress/gzip's errors already start with "gzip: ").
func corrupt(name string, err error) error {
	msg := err.Error()
	if !strings.HasPrefix(msg, name+":") {
		msg = name + ": " + msg
	}
	return fmt.Errorf("%w: %s", errCorrupt, msg)
}
