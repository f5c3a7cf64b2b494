package segment

import (
	"context"
	"fmt"
	"runtime"
	"sync"
)

// ScanOptions selects and paces a scan.
type ScanOptions struct {
	Workers int   // parallel decoders; 0 means GOMAXPROCS
	From    int64 // Unix ns, inclusive; 0 means unbounded
	To      int64 // Unix ns, exclusive; 0 means unbounded
	// Open opens a file by the name given in the file list; nil means
	// OpenFile (the local file system).
	Open func(name string) (*FileReader, error)
	// Prefetch, when above 1, is how many block reads may be in flight at
	// once, each with its own ReadAt: for files behind a network (ranged
	// GETs of an object), where one read at a time would wait on every
	// round trip. Blocks still reach the decoders in file order.
	Prefetch int
	// SkipContentChecksum makes the decoders skip zstd's content checksum
	// (xxhash64 of the decoded bytes). The CRC-32C of each block's
	// compressed bytes and its decoded length are still checked, so damage
	// on disk is still found; what is no longer checked is the decoder's own
	// output. For scans that aggregate (reports), not for ones that copy data
	// (compaction, cat) or vouch for it (verify).
	SkipContentChecksum bool
}

// BlockFunc receives one decoded block. raw is valid only until it returns.
// Blocks arrive in file order, files in the order given.
type BlockFunc func(file string, m BlockMeta, raw []byte) error

type scanJob struct {
	file  string
	meta  BlockMeta
	frame []byte
	raw   []byte
	err   error
	done  chan struct{}
}

// ScanFiles decodes the blocks of files with a bounded number of parallel
// decoders and hands them to fn in order. Blocks whose header time range
// lies outside [From, To) are skipped without reading their data.
func ScanFiles(ctx context.Context, files []string, opt ScanOptions, fn BlockFunc) error {
	workers := opt.workers()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan *scanJob)
	ordered := make(chan *scanJob, workers*2) // bounds blocks in flight
	free := make(chan *scanJob, workers*2+2)  // reusable buffers
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dec, err := newDecoder(!opt.SkipContentChecksum)
			if err != nil {
				for j := range jobs {
					j.err = err
					close(j.done)
				}
				return
			}
			defer dec.Close()
			for j := range jobs {
				j.raw, j.err = dec.Decode(j.raw, j.frame, j.meta)
				if j.err != nil {
					j.err = &CorruptionError{Path: j.file, Err: j.err}
				}
				close(j.done)
			}
		}()
	}
	var prodErr error
	go func() {
		defer close(ordered)
		defer close(jobs)
		prodErr = produce(ctx, files, opt, free, func(j *scanJob) error {
			j.err, j.done = nil, make(chan struct{})
			select {
			case ordered <- j:
			case <-ctx.Done():
				return ctx.Err()
			}
			select {
			case jobs <- j:
				return nil
			case <-ctx.Done():
				close(j.done)
				return ctx.Err()
			}
		})
	}()
	var err error
	for j := range ordered {
		<-j.done
		if err == nil {
			if j.err != nil {
				err = j.err
			} else {
				err = fn(j.file, j.meta, j.raw)
			}
			if err != nil {
				cancel()
			}
		}
		select {
		case free <- j:
		default:
		}
	}
	wg.Wait()
	close(free) // the producer has finished: nothing takes from it any more
	for j := range free {
		jobPool.Put(j)
	}
	if err != nil {
		return err
	}
	return prodErr
}

// produce reads the frames of the blocks of files within the time range
// and hands each, in file order, to send.
func produce(ctx context.Context, files []string, opt ScanOptions, free chan *scanJob, send func(*scanJob) error) error {
	open := opt.Open
	if open == nil {
		open = OpenFile
	}
	if opt.Prefetch > 1 {
		return producePrefetch(ctx, files, opt, open, free, send)
	}
	for _, path := range files {
		r, idx, err := openIndexed(open, path)
		if err != nil {
			return err
		}
		for _, e := range idx {
			if !opt.wants(e) {
				continue
			}
			j := getJob(free)
			j.file, j.meta = path, e.BlockMeta
			if j.frame, err = r.ReadFrame(j.frame, e); err == nil {
				err = send(j)
			}
			if err != nil {
				r.Close()
				return err
			}
		}
		if err := r.Close(); err != nil {
			return fmt.Errorf("segment: close %s: %w", path, err)
		}
	}
	return nil
}

func openIndexed(open func(string) (*FileReader, error), path string) (*FileReader, []IndexEntry, error) {
	r, err := open(path)
	if err != nil {
		return nil, nil, err
	}
	idx, err := r.Index()
	if err != nil {
		r.Close()
		return nil, nil, err
	}
	return r, idx, nil
}

// workers returns Workers, or GOMAXPROCS when it is not set.
func (opt *ScanOptions) workers() int {
	if opt.Workers > 0 {
		return opt.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// wants reports whether a block's time range meets [From, To).
func (opt *ScanOptions) wants(e IndexEntry) bool {
	return !((opt.To != 0 && e.MinTS >= opt.To) || (opt.From != 0 && e.MaxTS < opt.From))
}

func getJob(free chan *scanJob) *scanJob {
	select {
	case j := <-free:
		return j
	default:
		return jobPool.Get().(*scanJob)
	}
}

// producePrefetch is produce with up to opt.Prefetch block reads running at
// once. A queue keeps the file order: a sender hands each job on once its
// read is done. A file is closed when its last read has finished.
func producePrefetch(ctx context.Context, files []string, opt ScanOptions, open func(string) (*FileReader, error),
	free chan *scanJob, send func(*scanJob) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type fetch struct {
		j    *scanJob
		done chan error
	}
	queue := make(chan fetch, opt.Prefetch)
	var sendErr error
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for f := range queue {
			err := <-f.done
			if sendErr == nil && err == nil {
				err = send(f.j)
			}
			if err != nil && sendErr == nil {
				sendErr = err
				cancel()
			}
		}
	}()
	var readers sync.WaitGroup
	var err error
files:
	for _, path := range files {
		var r *FileReader
		var idx []IndexEntry
		if r, idx, err = openIndexed(open, path); err != nil {
			break
		}
		var reads sync.WaitGroup
		for _, e := range idx {
			if !opt.wants(e) {
				continue
			}
			j := getJob(free)
			j.file, j.meta = path, e.BlockMeta
			f := fetch{j: j, done: make(chan error, 1)}
			select {
			case queue <- f:
			case <-ctx.Done():
				jobPool.Put(j)
				reads.Wait()
				r.Close()
				break files
			}
			reads.Add(1)
			go func(e IndexEntry) {
				defer reads.Done()
				var err error
				f.j.frame, err = r.ReadFrame(f.j.frame, e)
				f.done <- err
			}(e)
		}
		readers.Add(1)
		go func() {
			defer readers.Done()
			reads.Wait()
			r.Close()
		}()
	}
	close(queue)
	<-sent
	readers.Wait()
	if sendErr != nil {
		return sendErr
	}
	if err == nil {
		err = ctx.Err()
	}
	return err
}

// jobPool keeps decode buffers (a frame and up to a block of raw bytes each)
// from one ScanBlocks call to the next: a report scans a month one day at a
// time, and fresh buffers per day were most of its garbage.
var jobPool = sync.Pool{New: func() any { return &scanJob{} }}

// WorkerBlockFunc receives one decoded block in worker w (0 ≤ w < workers).
// It is called concurrently from every worker; raw is valid only until it
// returns.
type WorkerBlockFunc func(w int, file string, m BlockMeta, raw []byte) error

// ScanBlocks is ScanFiles without ordering: each worker decodes a block and
// hands it to fn itself, so the work done per block (parsing, aggregating)
// runs in parallel too. It returns the first error; the scan stops there.
func ScanBlocks(ctx context.Context, files []string, opt ScanOptions, fn WorkerBlockFunc) error {
	workers := opt.workers()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan *scanJob, workers)
	free := make(chan *scanJob, workers*2+2)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			dec, err := newDecoder(!opt.SkipContentChecksum)
			if err != nil {
				fail(err)
				for range jobs {
				}
				return
			}
			defer dec.Close()
			for j := range jobs {
				if ctx.Err() == nil {
					if j.raw, err = dec.Decode(j.raw, j.frame, j.meta); err != nil {
						fail(&CorruptionError{Path: j.file, Err: err})
					} else if err = fn(w, j.file, j.meta, j.raw); err != nil {
						fail(err)
					}
				}
				select {
				case free <- j:
				default:
				}
			}
		}(i)
	}
	err := produce(ctx, files, opt, free, func(j *scanJob) error {
		select {
		case jobs <- j:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(jobs)
	wg.Wait()
	close(free)
	for j := range free {
		jobPool.Put(j)
	}
	if firstErr != nil {
		return firstErr
	}
	return err
}
