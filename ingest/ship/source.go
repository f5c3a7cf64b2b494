package ship

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/ingestd/ingestd/report"
	"github.com/ingestd/ingestd/scrub"
	"github.com/ingestd/ingestd/segment"
)

// s3Prefetch is how many ranged GETs a scan of objects keeps in flight: enough
// to hide a round trip to the store behind the decoders.
const s3Prefetch = 16

// maxPartialObject bounds the partial objects read into memory.
const maxPartialObject = 256 << 20

// Source reads every node's segment files and partials under
// s3://bucket/prefix without copying them: the index of each file is read by
// a ranged GET of its tail, then its blocks by ranged GETs, many at once. It
// implements report.Source; a day's Dir is its key prefix
// "<prefix>/dt=YYYY-MM-DD".
type Source struct {
	ctx    context.Context
	c      *minio.Client
	bucket string
	prefix string // without slashes at either end; may be ""

	mu      sync.Mutex
	sizes   map[string]int64              // object sizes seen in listings
	listing map[string][]minio.ObjectInfo // a day's objects, listed once

	tailOnce sync.Once
	tails    map[string][]tailFile // by day folder: records only WAL objects hold (tailview.go)
	tailErr  error
}

// OpenSource connects to the store named by an s3://bucket/prefix URL, with
// the endpoint and credentials of st (Bucket and Prefix are not used).
func OpenSource(ctx context.Context, src string, st Config) (*Source, error) {
	u, err := url.Parse(src)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return nil, fmt.Errorf("--source %q: want s3://bucket/prefix", src)
	}
	if st.Endpoint == "" {
		return nil, fmt.Errorf("--source %s: set storage.endpoint (and credentials) in the config", src)
	}
	c, err := Client(st)
	if err != nil {
		return nil, fmt.Errorf("--source %s: %w", src, err)
	}
	s := &Source{ctx: ctx, c: c, bucket: u.Host, prefix: strings.Trim(u.Path, "/"),
		sizes: map[string]int64{}, listing: map[string][]minio.ObjectInfo{}}
	ok, err := c.BucketExists(ctx, s.bucket)
	if err != nil {
		return nil, fmt.Errorf("--source %s: %w", src, err)
	}
	if !ok {
		return nil, fmt.Errorf("--source %s: no bucket %q", src, s.bucket)
	}
	return s, nil
}

func (s *Source) key(rel string) string {
	if s.prefix == "" {
		return rel
	}
	return s.prefix + "/" + rel
}

// list returns the objects (or, with recursive unset, the folders) under p.
func (s *Source) list(ctx context.Context, p string, recursive bool) ([]minio.ObjectInfo, error) {
	var out []minio.ObjectInfo
	for o := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: p, Recursive: recursive}) {
		if o.Err != nil {
			return nil, fmt.Errorf("source: list s3://%s/%s: %w", s.bucket, p, o.Err)
		}
		out = append(out, o)
	}
	return out, nil
}

// Days implements report.Source: the day folders, and the days only WAL
// objects hold so far.
func (s *Source) Days(ctx context.Context, from, to time.Time) ([]segment.Day, error) {
	return s.days(ctx, from, to, true)
}

// days lists the day folders in [from, to); withTails adds the days only
// WAL objects hold (reading them).
func (s *Source) days(ctx context.Context, from, to time.Time, withTails bool) ([]segment.Day, error) {
	objs, err := s.list(ctx, s.key("dt="), false)
	if err != nil {
		return nil, err
	}
	var out []segment.Day
	for _, o := range objs {
		name := path.Base(strings.TrimSuffix(o.Key, "/"))
		t, err := time.Parse(segment.DayLayout, strings.TrimPrefix(name, "dt="))
		if err != nil || !strings.HasSuffix(o.Key, "/") || t.Before(from) || !t.Before(to) {
			continue
		}
		out = append(out, segment.Day{Dir: strings.TrimSuffix(o.Key, "/"), Start: t})
	}
	if !withTails {
		sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
		return out, nil
	}
	// Days only WAL objects hold so far (today's, before it ships).
	return s.tailDays(ctx, from, to, out)
}

// dayObjects lists the objects directly under a day's prefix, once per run:
// the files and the partials come from the same listing.
func (s *Source) dayObjects(ctx context.Context, day segment.Day) ([]minio.ObjectInfo, error) {
	s.mu.Lock()
	objs, ok := s.listing[day.Dir]
	s.mu.Unlock()
	if ok {
		return objs, nil
	}
	all, err := s.list(ctx, day.Dir+"/", true)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range all {
		if path.Dir(o.Key) == day.Dir {
			objs = append(objs, o)
			s.sizes[o.Key] = o.Size
		}
	}
	s.listing[day.Dir] = objs
	return objs, nil
}

// Inputs implements report.Source: the day's sealed objects minus parts a
// compacted object's manifest replaces (a compacted file shipped, the
// removal of the parts' objects not yet done).
func (s *Source) Inputs(ctx context.Context, day segment.Day) ([]report.Input, error) {
	return s.inputs(ctx, day, true)
}

// inputs lists a day's inputs; withTails adds the tail parts of what only
// WAL objects hold (reading them).
func (s *Source) inputs(ctx context.Context, day segment.Day, withTails bool) ([]report.Input, error) {
	objs, err := s.dayObjects(ctx, day)
	if err != nil {
		return nil, err
	}
	var keys []string
	size := map[string]int64{}
	for _, o := range objs {
		if strings.HasSuffix(o.Key, segment.SuffixSealed) {
			keys = append(keys, o.Key)
			size[o.Key] = o.Size
		}
	}
	keys, err = segment.DropReplaced(keys, s.Open)
	if err != nil {
		return nil, err
	}
	var tails map[string][]tailFile
	if withTails {
		if tails, err = s.tailView(ctx); err != nil {
			return nil, err
		}
	}
	for _, f := range tails[day.Dir] {
		k := day.Dir + "/" + f.name
		keys = append(keys, k)
		size[k] = int64(len(f.data))
	}
	sort.Strings(keys)
	in := make([]report.Input, len(keys))
	for i, k := range keys {
		in[i] = report.Input{Name: path.Base(k), Size: size[k]}
	}
	return in, nil
}

// Partials implements report.Source.
func (s *Source) Partials(ctx context.Context, day segment.Day) (map[string][]byte, error) {
	objs, err := s.dayObjects(ctx, day)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, o := range objs {
		name := path.Base(o.Key)
		if !segment.IsReportPartial(name) {
			continue
		}
		if o.Size > maxPartialObject {
			return nil, fmt.Errorf("source: %s: %d bytes is too large for a partial", o.Key, o.Size)
		}
		obj, err := s.c.GetObject(ctx, s.bucket, o.Key, minio.GetObjectOptions{})
		if err != nil {
			return nil, fmt.Errorf("source: get %s: %w", o.Key, err)
		}
		b, err := io.ReadAll(io.LimitReader(obj, maxPartialObject))
		obj.Close()
		if err != nil {
			return nil, fmt.Errorf("source: get %s: %w", o.Key, err)
		}
		out[name] = b
	}
	return out, nil
}

// Path implements report.Source.
func (s *Source) Path(day segment.Day, name string) string { return day.Dir + "/" + name }

// Open implements report.Source: a reader whose every ReadAt is a ranged GET.
func (s *Source) Open(key string) (*segment.FileReader, error) {
	if f, ok := s.tailFileOf(key); ok {
		return openTail(key, f), nil
	}
	ra, err := s.readerAt(key)
	if err != nil {
		return nil, err
	}
	return segment.NewReader(s.url(key), ra, ra.size, nil), nil
}

func (s *Source) url(key string) string { return "s3://" + s.bucket + "/" + key }

func (s *Source) readerAt(key string) (*rangeReader, error) {
	s.mu.Lock()
	size, ok := s.sizes[key]
	s.mu.Unlock()
	if !ok {
		st, err := s.c.StatObject(s.ctx, s.bucket, key, minio.StatObjectOptions{})
		if err != nil {
			return nil, fmt.Errorf("source: stat %s: %w", s.url(key), err)
		}
		size = st.Size
	}
	return &rangeReader{s: s, key: key, size: size}, nil
}

// Verify checks every segment object of every day, each read front to back
// in windows of 8 MiB (the same listing the scrub walks).
func (s *Source) Verify(ctx context.Context, check segment.RecordCheck) (segment.VerifyReport, error) {
	var rep segment.VerifyReport
	targets, err := s.Objects().List(ctx)
	if err != nil {
		return rep, err
	}
	for _, t := range targets {
		ra, _, err := t.Open()
		if err != nil {
			return rep, err
		}
		segment.VerifyReader(&rep, t.Name, ra, t.Size, t.Day, check)
	}
	return rep, nil
}

// Prefetch implements report.Source.
func (s *Source) Prefetch() int { return s3Prefetch }

// rangeReader reads an object by ranged GETs; concurrent ReadAt calls are
// independent requests.
type rangeReader struct {
	s    *Source
	key  string
	size int64
}

func (r *rangeReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.size {
		return 0, io.EOF
	}
	n := int64(len(p))
	if off+n > r.size {
		n = r.size - off
	}
	if n == 0 {
		return 0, nil
	}
	var opts minio.GetObjectOptions
	if err := opts.SetRange(off, off+n-1); err != nil {
		return 0, err
	}
	obj, err := r.s.c.GetObject(r.s.ctx, r.s.bucket, r.key, opts)
	if err != nil {
		return 0, fmt.Errorf("source: get %s at %d: %w", r.s.url(r.key), off, err)
	}
	defer obj.Close()
	got, err := io.ReadFull(obj, p[:n])
	if err != nil {
		return got, fmt.Errorf("source: read %s at %d: %w", r.s.url(r.key), off, err)
	}
	if n < int64(len(p)) {
		return got, io.EOF
	}
	return got, nil
}

// windowReader serves the small sequential reads of a frame-by-frame walk
// (verify) from one window of the object fetched at a time, so a walk costs
// one GET per window rather than one per frame header.
type windowReader struct {
	ra     io.ReaderAt
	size   int64
	window int64

	mu  sync.Mutex
	off int64
	buf []byte
}

func (w *windowReader) ReadAt(p []byte, off int64) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if off < 0 {
		return 0, fmt.Errorf("source: negative offset %d", off)
	}
	if off >= w.off && off+int64(len(p)) <= w.off+int64(len(w.buf)) {
		return copy(p, w.buf[off-w.off:]), nil
	}
	if off >= w.size {
		return 0, io.EOF
	}
	n := min(max(w.window, int64(len(p))), w.size-off)
	if int64(cap(w.buf)) < n {
		w.buf = make([]byte, n)
	}
	w.buf = w.buf[:n]
	got, err := w.ra.ReadAt(w.buf, off)
	w.off, w.buf = off, w.buf[:got]
	if err != nil && err != io.EOF {
		w.buf = w.buf[:0]
		return 0, err
	}
	c := copy(p, w.buf)
	if c < len(p) {
		return c, io.EOF
	}
	return c, nil
}

// shippedObjects lists every segment object in the bucket for the scrub;
// each is read in 8 MiB windows, like verify --source.
type shippedObjects struct{ s *Source }

// Objects lists every shipped segment object for the scrub.
func (s *Source) Objects() scrub.Lister { return shippedObjects{s} }

var _ scrub.Lister = shippedObjects{}

// List implements scrub.Lister.
func (o shippedObjects) List(ctx context.Context) ([]scrub.Target, error) {
	days, err := o.s.days(ctx, time.Time{}, segment.Forever, false)
	if err != nil {
		return nil, err
	}
	var out []scrub.Target
	for _, d := range days {
		in, err := o.s.inputs(ctx, d, false)
		if err != nil {
			return nil, err
		}
		for _, f := range in {
			key := o.s.Path(d, f.Name)
			out = append(out, scrub.Target{Name: o.s.url(key), Day: d.Start, Size: f.Size, Open: func() (io.ReaderAt, func(), error) {
				ra, err := o.s.readerAt(key)
				if err != nil {
					return nil, nil, err
				}
				return &windowReader{ra: ra, size: ra.size, window: 8 << 20}, func() {}, nil
			}})
		}
	}
	return out, nil
}
