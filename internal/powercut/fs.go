package powercut

import (
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// FS is an in-memory filesystem that tracks what is durable. It is mounted
// at one folder at a time; Cut simulates a power cut there.
type FS struct {
	mu     sync.Mutex   // guards root, server and dir; held across Mount, Cut and Unmount
	root   *dirNode     // the live tree's root
	server *fuse.Server // nil while unmounted
	dir    string       // where it is (or was last) mounted
	st     *state       // shared with every node
}

// state is what every node of one FS sees.
type state struct {
	frozen    atomic.Bool  // the power is off: no operation changes anything
	syncDelay atomic.Int64 // nanoseconds each fsync takes, as on a slow disk
}

// New returns an empty filesystem, not yet mounted.
func New() *FS {
	st := &state{}
	return &FS{root: &dirNode{mode: 0o755, st: st}, st: st}
}

// SetSyncDelay makes every fsync (file or folder) take d, as on a real
// disk. A crash then lands inside an fsync as often as it would there,
// which is where an acknowledgement sent before its fsync shows.
func (f *FS) SetSyncDelay(d time.Duration) { f.st.syncDelay.Store(int64(d)) }

// Freeze is the instant the power goes: from now on every operation fails
// with EIO and changes nothing, and an fsync still in progress does not
// complete. Call it just before killing the processes using the mount;
// Cut then keeps what was durable at this instant, and thaws.
func (f *FS) Freeze() { f.st.frozen.Store(true) }

// Mount serves the filesystem at dir, an existing empty folder.
func (f *FS) Mount(dir string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mountLocked(dir)
}

func (f *FS) mountLocked(dir string) error {
	if f.server != nil {
		return fmt.Errorf("powercut: already mounted at %s", f.dir)
	}
	one := time.Second
	srv, err := fs.Mount(dir, f.root, &fs.Options{
		EntryTimeout: &one,
		AttrTimeout:  &one,
		MountOptions: fuse.MountOptions{
			FsName:      "powercut",
			Name:        "powercut",
			DirectMount: true, // as root, no fusermount3 needed
			MaxWrite:    1 << 20,
			Logger:      log.New(io.Discard, "", 0), // an unmount after a kill is expected, not news
		},
	})
	if err != nil {
		return fmt.Errorf("powercut: mount %s: %w", dir, err)
	}
	f.server, f.dir = srv, dir
	return nil
}

// Unmount stops serving. Every process using the mount must have closed its
// files (a killed process has).
func (f *FS) Unmount() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.unmountLocked()
}

func (f *FS) unmountLocked() error {
	if f.server == nil {
		return nil
	}
	var err error
	for try := 0; try < 50; try++ { // a just-killed process may still hold the mount for a moment
		if err = f.server.Unmount(); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("powercut: unmount %s: %w", f.dir, err)
	}
	f.server = nil
	return nil
}

// CutOptions says how a power cut treats data that was not yet durable.
type CutOptions struct {
	// Torn keeps a random prefix of each file's pending writes (the last
	// kept one possibly cut short) instead of none of them.
	Torn bool
	// TearLast keeps every pending write of each file but the last, and
	// of the last a non-empty prefix shorter than it (when it wrote more
	// than a byte): a write torn for sure, for a test that needs one.
	TearLast bool
	// Rand chooses the prefixes; nil means a time-seeded source.
	Rand *rand.Rand
}

// CutReport counts what a cut threw away.
type CutReport struct {
	Files        int   // files whose content changed at the cut
	DroppedOps   int   // pending writes and truncates undone (a cut-short one counts)
	DroppedBytes int64 // bytes by which those files shrank
	LostNames    int   // live names that were not durable in their folder
}

func (r CutReport) String() string {
	return fmt.Sprintf("%d files lost %d pending writes (%d bytes), %d names were not durable",
		r.Files, r.DroppedOps, r.DroppedBytes, r.LostNames)
}

// Cut simulates a power cut: it unmounts, replaces the live tree by what
// was durable (see the package comment) and mounts that at the same folder
// again. The caller must have stopped every process using the mount.
func (f *FS) Cut(opt CutOptions) (CutReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var rep CutReport
	if err := f.unmountLocked(); err != nil {
		return rep, err
	}
	rng := opt.Rand
	if rng == nil {
		rng = rand.New(rand.NewSource(time.Now().UnixNano()))
	}
	c := &cutter{torn: opt.Torn, tearLast: opt.TearLast, rng: rng, rep: &rep, files: map[*fileNode][]byte{}, st: f.st}
	f.root = c.dir(f.root, map[*dirNode]bool{})
	f.st.frozen.Store(false)
	return rep, f.mountLocked(f.dir)
}

// cutter builds the tree that survives a cut.
type cutter struct {
	torn     bool
	tearLast bool
	rng      *rand.Rand
	rep      *CutReport
	files    map[*fileNode][]byte // durable content, computed once per file
	st       *state
}

func (c *cutter) dir(old *dirNode, path map[*dirNode]bool) *dirNode {
	path[old] = true
	defer delete(path, old)
	old.mu.Lock()
	durable := old.durable
	mode, mtime := old.mode, old.mtime
	old.mu.Unlock()
	for name, ch := range old.Children() {
		if durable[name] != ch.Operations() {
			c.rep.LostNames++
		}
	}
	nd := &dirNode{mode: mode, mtime: mtime, initial: map[string]fs.InodeEmbedder{}, st: c.st}
	for name, ch := range durable {
		switch n := ch.(type) {
		case *dirNode:
			if !path[n] { // a cycle of renames between snapshots: drop it
				nd.initial[name] = c.dir(n, path)
			}
		case *fileNode:
			nd.initial[name] = c.file(n)
		}
	}
	return nd
}

func (c *cutter) file(old *fileNode) *fileNode {
	old.mu.Lock()
	defer old.mu.Unlock()
	data, ok := c.files[old]
	if !ok {
		data = c.durableData(old)
		c.files[old] = data
	}
	return &fileNode{mode: old.mode, mtime: old.mtime, data: append([]byte(nil), data...), st: c.st}
}

// durableData undoes old's pending operations, newest first, keeping a
// random prefix of them when the cut is torn.
func (c *cutter) durableData(old *fileNode) []byte {
	n := len(old.undo)
	if n == 0 {
		return old.data
	}
	keep := 0
	switch {
	case c.tearLast && old.undo[n-1].written > 1:
		keep = n - 1
	case c.torn:
		keep = c.rng.Intn(n + 1)
	}
	if keep == n {
		return old.data
	}
	data := append([]byte(nil), old.data...)
	before := int64(len(data))
	for i := n - 1; i > keep; i-- {
		data = old.undo[i].apply(data)
	}
	// The oldest dropped operation: undone whole, or (torn) a prefix of
	// its bytes kept.
	u := old.undo[keep]
	var part []byte
	if c.tearLast && keep == n-1 && u.written > 1 {
		p := 1 + c.rng.Int63n(u.written-1)
		part = append(part, data[u.off:u.off+p]...)
	} else if c.torn && u.written > 0 {
		p := c.rng.Int63n(u.written)
		part = append(part, data[u.off:u.off+p]...)
	}
	data = u.apply(data)
	if len(part) > 0 {
		data = writeAt(data, part, u.off)
	}
	c.rep.Files++
	c.rep.DroppedOps += n - keep
	c.rep.DroppedBytes += before - int64(len(data))
	return data
}

// undoRec undoes one write or truncate: resize to prevSize, then put old
// back at off.
type undoRec struct {
	off      int64
	prevSize int64
	old      []byte // the bytes at [off, off+len(old)) before the operation
	written  int64  // bytes written (0 for a truncate)
}

func (u undoRec) apply(data []byte) []byte {
	data = resize(data, u.prevSize)
	copy(data[u.off:], u.old)
	return data
}

func resize(data []byte, n int64) []byte {
	if n <= int64(len(data)) {
		return data[:n]
	}
	return append(data, make([]byte, n-int64(len(data)))...)
}

func writeAt(data, p []byte, off int64) []byte {
	if end := off + int64(len(p)); end > int64(len(data)) {
		data = resize(data, end)
	}
	copy(data[off:], p)
	return data
}

var availOnce struct {
	sync.Once
	err error
}

// Available reports why the machine cannot mount the filesystem (no
// /dev/fuse, no right to mount), or nil when it can. It tries once.
func Available() error {
	availOnce.Do(func() {
		if _, err := os.Stat("/dev/fuse"); err != nil {
			availOnce.err = errors.New("powercut: no /dev/fuse (a FUSE-capable kernel and the fuse3 package are needed)")
			return
		}
		dir, err := os.MkdirTemp("", "powercut-probe")
		if err != nil {
			availOnce.err = err
			return
		}
		defer os.Remove(dir)
		f := New()
		if err := f.Mount(dir); err != nil {
			availOnce.err = err
			return
		}
		availOnce.err = f.Unmount()
	})
	return availOnce.err
}
