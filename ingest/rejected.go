package ingest

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/ingestd/ingestd/record"

	"github.com/ingestd/ingestd/internal/failpoint"
	"github.com/ingestd/ingestd/internal/fsutil"
	"github.com/ingestd/ingestd/internal/jsonx"

	"github.com/klauspost/compress/zstd"
)

// RejectedDir is where lines rejected with ?invalid=skip are kept.
func RejectedDir(dataDir string) string { return filepath.Join(dataDir, "rejected") }

// rejectedStore keeps the lines a ?invalid=skip request left out, with their
// reason, as zstd NDJSON (one JSON object a line:
// {"time","producer","reason","error","line"|"line_base64","line_no","truncated"}),
// so an operator can fix and replay them (ingestd replay-rejected). Writes go
// to the current file's open zstd frame; once a second the frame is closed
// and the file fsynced, so a crash loses at most the last second. Files
// rotate at 16 MiB of lines; the oldest are deleted beyond the size cap.
type rejectedStore struct {
	dir      string
	maxBytes int64
	log      *slog.Logger
	m        *metrics

	mu     sync.Mutex
	f      *os.File
	zw     *zstd.Encoder
	raw    int64 // uncompressed bytes in the current file
	rotate int64 // start a new file past this many uncompressed bytes
	dirty  bool
	line   []byte
	stop   chan struct{}
	done   chan struct{}
	err    atomic.Value // last write error, logged once
}

const rejectedRotate = 16 << 20

func openRejected(dir string, maxBytes int64, log *slog.Logger, m *metrics) (*rejectedStore, error) {
	failpoint.Hit("ingest.openRejected.mkdirdurable")
	if err := fsutil.MkdirDurable(dir); err != nil {
		return nil, fmt.Errorf("rejected: %w", err)
	}
	r := &rejectedStore{dir: dir, maxBytes: maxBytes, log: log, m: m, rotate: rejectedRotate, stop: make(chan struct{}), done: make(chan struct{})}
	r.m.rejectedDisk.Store(r.size())
	go r.flusher()
	return r, nil
}

// add stores the batch's rejected lines.
func (r *rejectedStore) add(producer string, now time.Time, b *record.Batch) {
	if len(b.Bad) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.ensureFile(now); err != nil {
		r.fail(err)
		return
	}
	ts := now.UTC().Format(time.RFC3339Nano)
	for _, bl := range b.Bad {
		raw := b.Line(bl)
		l := append(r.line[:0], `{"time":"`...)
		l = append(l, ts...)
		l = append(l, `","producer":`...)
		l = jsonx.AppendString(l, producer)
		l = append(l, `,"reason":"`...)
		l = append(l, bl.Reason...)
		l = append(l, `","error":`...)
		l = jsonx.AppendString(l, bl.Err)
		l = append(l, `,"line_no":`...)
		l = strconv.AppendInt(l, int64(bl.Line), 10)
		if utf8.Valid(raw) {
			l = append(l, `,"line":`...)
			l = jsonx.AppendString(l, string(raw))
		} else {
			l = append(l, `,"line_base64":"`...)
			l = base64.StdEncoding.AppendEncode(l, raw)
			l = append(l, '"')
		}
		if bl.Truncated {
			l = append(l, `,"truncated":true`...)
		}
		l = append(l, "}\n"...)
		r.line = l
		if _, err := r.zw.Write(l); err != nil {
			r.fail(err)
			return
		}
		r.raw += int64(len(l))
		r.dirty = true
		r.m.rejectedStored.Add(1)
	}
	if r.raw >= r.rotate {
		r.closeFile()
	}
}

func (r *rejectedStore) fail(err error) {
	if r.err.Swap(err.Error()) == nil {
		r.log.Error("rejected lines could not be stored (the records were answered as rejected all the same)", "dir", r.dir, "err", err)
	}
	r.m.rejectedLost.Add(1)
}

func (r *rejectedStore) ensureFile(now time.Time) error {
	if r.f != nil {
		return nil
	}
	p := filepath.Join(r.dir, fmt.Sprintf("rejected-%s.ndjson.zst", now.UTC().Format("20060102T150405.000000000Z")))
	failpoint.Hit("ingest.ensureFile.openfile")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if r.zw == nil {
		r.zw, err = zstd.NewWriter(f, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
		if err != nil {
			f.Close()
			return err
		}
	} else {
		r.zw.Reset(f)
	}
	r.f, r.raw = f, 0
	failpoint.Hit("ingest.ensureFile.syncdir")
	fsutil.SyncDir(r.dir)
	return nil
}

// sync ends the open frame and fsyncs: what was written is now readable by
// zstdcat and survives a crash.
func (r *rejectedStore) sync() {
	if r.f == nil || !r.dirty {
		return
	}
	if err := r.zw.Close(); err != nil {
		r.fail(err)
	}
	failpoint.Hit("ingest.sync.sync")
	if err := r.f.Sync(); err != nil {
		r.fail(err)
	}
	r.zw.Reset(r.f)
	r.dirty = false
}

// closeFile finishes the current file and applies the size cap.
func (r *rejectedStore) closeFile() {
	if r.f == nil {
		return
	}
	r.sync()
	r.zw.Reset(nil)
	r.f.Close()
	r.f = nil
	r.enforceCap()
}

// enforceCap deletes the oldest finished files while the folder is over the cap.
func (r *rejectedStore) enforceCap() {
	ents, _ := os.ReadDir(r.dir)
	type fi struct {
		name string
		size int64
	}
	var files []fi
	var total int64
	for _, e := range ents {
		if info, err := e.Info(); err == nil && strings.HasSuffix(e.Name(), ".ndjson.zst") {
			files = append(files, fi{e.Name(), info.Size()})
			total += info.Size()
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	cur := ""
	if r.f != nil {
		cur = filepath.Base(r.f.Name())
	}
	for _, f := range files {
		if total <= r.maxBytes || f.name == cur {
			break
		}
		failpoint.Hit("ingest.enforceCap.remove")
		if os.Remove(filepath.Join(r.dir, f.name)) == nil {
			total -= f.size
			r.m.rejectedCapped.Add(f.size)
			r.log.Warn("rejected lines: deleted the oldest file to stay under rejected.max_bytes", "file", f.name, "bytes", f.size)
		}
	}
	r.m.rejectedDisk.Store(total)
}

func (r *rejectedStore) size() int64 {
	var n int64
	ents, _ := os.ReadDir(r.dir)
	for _, e := range ents {
		if info, err := e.Info(); err == nil {
			n += info.Size()
		}
	}
	return n
}

func (r *rejectedStore) flusher() {
	defer close(r.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.mu.Lock()
			if r.dirty {
				r.sync()
				r.m.rejectedDisk.Store(r.size())
			}
			r.mu.Unlock()
		}
	}
}

// close finishes the current file.
func (r *rejectedStore) close() {
	close(r.stop)
	<-r.done
	r.mu.Lock()
	r.closeFile()
	r.mu.Unlock()
}

// RejectedLine is one line of a rejected-lines file, as the store writes it
// (see docs/FORMAT.md).
type RejectedLine struct {
	Time       string  `json:"time"`
	Producer   string  `json:"producer"`
	Reason     string  `json:"reason"`
	Error      string  `json:"error"`
	Line       *string `json:"line"`
	LineBase64 string  `json:"line_base64"`
	Truncated  bool    `json:"truncated"`
}

// ReadRejected calls fn for each entry of one rejected-lines file, with the
// line as it was sent. complete is false when the
// file ends in an unfinished frame (the daemon is still writing it).
func ReadRejected(path string, fn func(RejectedLine, []byte) error) (complete bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	zr, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return false, err
	}
	defer zr.Close()
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 64<<10), 4*record.MaxBadLine+1<<20)
	for sc.Scan() {
		var r RejectedLine
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return false, fmt.Errorf("bad entry: %w", err)
		}
		var raw []byte
		if r.Line != nil {
			raw = []byte(*r.Line)
		} else if raw, err = base64.StdEncoding.DecodeString(r.LineBase64); err != nil {
			return false, fmt.Errorf("bad entry: %w", err)
		}
		if err := fn(r, raw); err != nil {
			return false, err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "unexpected EOF") {
			return false, nil // an open frame at the end
		}
		return false, err
	}
	return true, nil
}
