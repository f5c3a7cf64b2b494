package powercut

import (
	"context"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// dirNode is a directory. Its live entries are the go-fuse tree's children;
// durable holds the entries it had at its last fsync.
type dirNode struct {
	fs.Inode
	mu      sync.Mutex
	mode    uint32                      // permission bits; guarded by mu
	mtime   time.Time                   // guarded by mu
	durable map[string]fs.InodeEmbedder // entries at the last fsync; guarded by mu
	initial map[string]fs.InodeEmbedder // children to add at OnAdd (a tree rebuilt by a cut); durable from the start
	st      *state
}

var (
	_ fs.NodeOnAdder   = (*dirNode)(nil)
	_ fs.NodeCreater   = (*dirNode)(nil)
	_ fs.NodeMkdirer   = (*dirNode)(nil)
	_ fs.NodeUnlinker  = (*dirNode)(nil)
	_ fs.NodeRmdirer   = (*dirNode)(nil)
	_ fs.NodeRenamer   = (*dirNode)(nil)
	_ fs.NodeFsyncer   = (*dirNode)(nil)
	_ fs.NodeGetattrer = (*dirNode)(nil)
	_ fs.NodeSetattrer = (*dirNode)(nil)
	_ fs.NodeStatfser  = (*dirNode)(nil)
)

// OnAdd puts in the children of a rebuilt tree.
func (d *dirNode) OnAdd(ctx context.Context) {
	d.mu.Lock()
	initial := d.initial
	d.initial = nil
	d.durable = make(map[string]fs.InodeEmbedder, len(initial))
	for name, ch := range initial {
		d.durable[name] = ch
	}
	d.mu.Unlock()
	for name, ch := range initial {
		d.AddChild(name, d.NewPersistentInode(ctx, ch, fs.StableAttr{Mode: modeOf(ch)}), true)
	}
}

func modeOf(n fs.InodeEmbedder) uint32 {
	if _, ok := n.(*dirNode); ok {
		return syscall.S_IFDIR
	}
	return syscall.S_IFREG
}

func (d *dirNode) touch() {
	d.mu.Lock()
	d.mtime = time.Now()
	d.mu.Unlock()
}

// Create makes a file; its name is not durable until d is fsynced.
func (d *dirNode) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	if d.st.frozen.Load() {
		return nil, nil, 0, syscall.EIO
	}
	n := &fileNode{mode: mode & 0o7777, mtime: time.Now(), st: d.st}
	ch := d.NewPersistentInode(ctx, n, fs.StableAttr{Mode: syscall.S_IFREG})
	n.attr(&out.Attr)
	d.touch()
	return ch, nil, 0, 0
}

// Mkdir makes a folder; it is reachable after a cut only once d is fsynced.
func (d *dirNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if d.st.frozen.Load() {
		return nil, syscall.EIO
	}
	n := &dirNode{mode: mode & 0o7777, mtime: time.Now(), st: d.st}
	ch := d.NewPersistentInode(ctx, n, fs.StableAttr{Mode: syscall.S_IFDIR})
	n.attr(&out.Attr)
	d.touch()
	return ch, 0
}

// Unlink removes a live name (go-fuse drops the child after this returns).
func (d *dirNode) Unlink(ctx context.Context, name string) syscall.Errno {
	if d.st.frozen.Load() {
		return syscall.EIO
	}
	if d.GetChild(name) == nil {
		return syscall.ENOENT
	}
	d.touch()
	return 0
}

// Rmdir removes an empty folder's live name.
func (d *dirNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	if d.st.frozen.Load() {
		return syscall.EIO
	}
	ch := d.GetChild(name)
	if ch == nil {
		return syscall.ENOENT
	}
	if len(ch.Children()) > 0 {
		return syscall.ENOTEMPTY
	}
	d.touch()
	return 0
}

const renameNoReplace = 1 // RENAME_NOREPLACE

// Rename moves a live name (go-fuse moves the child after this returns).
func (d *dirNode) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if d.st.frozen.Load() {
		return syscall.EIO
	}
	if flags&^renameNoReplace != 0 {
		return syscall.ENOTSUP
	}
	src := d.GetChild(name)
	if src == nil {
		return syscall.ENOENT
	}
	np, ok := newParent.(*dirNode)
	if !ok {
		return syscall.ENOTDIR
	}
	if dst := np.GetChild(newName); dst != nil {
		switch {
		case flags&renameNoReplace != 0:
			return syscall.EEXIST
		case dst.IsDir() && !src.IsDir():
			return syscall.EISDIR
		case !dst.IsDir() && src.IsDir():
			return syscall.ENOTDIR
		case dst.IsDir() && len(dst.Children()) > 0:
			return syscall.ENOTEMPTY
		}
	}
	d.touch()
	np.touch()
	return 0
}

// Fsync makes the folder's current entries durable.
func (d *dirNode) Fsync(ctx context.Context, f fs.FileHandle, flags uint32) syscall.Errno {
	kids := d.Children()
	if !d.st.sync() {
		return syscall.EIO
	}
	snap := make(map[string]fs.InodeEmbedder, len(kids))
	for name, ch := range kids {
		snap[name] = ch.Operations()
	}
	d.mu.Lock()
	d.durable = snap
	d.mu.Unlock()
	return 0
}

func (d *dirNode) attr(a *fuse.Attr) {
	d.mu.Lock()
	defer d.mu.Unlock()
	a.Mode = syscall.S_IFDIR | d.mode
	a.Nlink = 2
	a.SetTimes(nil, &d.mtime, &d.mtime)
}

// Getattr reports mode and times.
func (d *dirNode) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	d.attr(&out.Attr)
	return 0
}

// Setattr changes mode and times.
func (d *dirNode) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	d.mu.Lock()
	if m, ok := in.GetMode(); ok {
		d.mode = m & 0o7777
	}
	if t, ok := in.GetMTime(); ok {
		d.mtime = t
	}
	d.mu.Unlock()
	d.attr(&out.Attr)
	return 0
}

// Statfs reports a large, empty disk.
func (d *dirNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	statfs(out)
	return 0
}

func statfs(out *fuse.StatfsOut) {
	out.Bsize, out.Frsize = 4096, 4096
	out.Blocks, out.Bfree, out.Bavail = 1<<28, 1<<28, 1<<28 // 1 TiB
	out.Files, out.Ffree = 1<<20, 1<<20
	out.NameLen = 255
}

// fileNode is a regular file held in memory, with an undo record for
// every write and truncate since its last fsync.
type fileNode struct {
	fs.Inode
	mu    sync.Mutex
	mode  uint32    // guarded by mu
	mtime time.Time // guarded by mu
	data  []byte    // live content; guarded by mu
	undo  []undoRec // pending operations, oldest first; guarded by mu
	st    *state
}

var (
	_ fs.NodeOpener    = (*fileNode)(nil)
	_ fs.NodeReader    = (*fileNode)(nil)
	_ fs.NodeWriter    = (*fileNode)(nil)
	_ fs.NodeFsyncer   = (*fileNode)(nil)
	_ fs.NodeFlusher   = (*fileNode)(nil)
	_ fs.NodeGetattrer = (*fileNode)(nil)
	_ fs.NodeSetattrer = (*fileNode)(nil)
	_ fs.NodeStatfser  = (*fileNode)(nil)
)

// Open handles O_TRUNC; reads and writes go to the node.
func (n *fileNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_TRUNC != 0 && n.st.frozen.Load() {
		return nil, 0, syscall.EIO
	}
	if flags&syscall.O_TRUNC != 0 {
		n.mu.Lock()
		n.truncate(0)
		n.mu.Unlock()
	}
	return nil, 0, 0
}

// Read reads live content.
func (n *fileNode) Read(ctx context.Context, f fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if off >= int64(len(n.data)) {
		return fuse.ReadResultData(nil), 0
	}
	end := min(off+int64(len(dest)), int64(len(n.data)))
	return fuse.ReadResultData(append(dest[:0], n.data[off:end]...)), 0
}

// Write changes live content and records how to undo it.
func (n *fileNode) Write(ctx context.Context, f fs.FileHandle, p []byte, off int64) (uint32, syscall.Errno) {
	if n.st.frozen.Load() {
		return 0, syscall.EIO
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	u := undoRec{off: off, prevSize: int64(len(n.data)), written: int64(len(p))}
	if off < u.prevSize {
		u.old = append([]byte(nil), n.data[off:min(off+int64(len(p)), u.prevSize)]...)
	}
	n.undo = append(n.undo, u)
	n.data = writeAt(n.data, p, off)
	n.mtime = time.Now()
	return uint32(len(p)), 0
}

// truncate resizes live content and records how to undo it; n.mu held.
func (n *fileNode) truncate(size int64) {
	u := undoRec{off: size, prevSize: int64(len(n.data))}
	if size == u.prevSize {
		return
	}
	if size < u.prevSize {
		u.old = append([]byte(nil), n.data[size:]...)
	}
	n.undo = append(n.undo, u)
	n.data = resize(n.data, size)
	n.mtime = time.Now()
}

// Fsync (and fdatasync) makes everything written so far durable.
func (n *fileNode) Fsync(ctx context.Context, f fs.FileHandle, flags uint32) syscall.Errno {
	n.mu.Lock()
	pending := len(n.undo) // what was written before the fsync began
	n.mu.Unlock()
	if !n.st.sync() {
		return syscall.EIO
	}
	n.mu.Lock()
	n.undo = n.undo[pending:]
	n.mu.Unlock()
	return 0
}

// Flush (close) makes nothing durable.
func (n *fileNode) Flush(ctx context.Context, f fs.FileHandle) syscall.Errno { return 0 }

func (n *fileNode) attr(a *fuse.Attr) {
	a.Mode = syscall.S_IFREG | n.mode
	a.Nlink = 1
	a.Size = uint64(len(n.data))
	a.Blocks = (a.Size + 511) / 512
	a.SetTimes(nil, &n.mtime, &n.mtime)
}

// Getattr reports mode, size and times.
func (n *fileNode) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.attr(&out.Attr)
	return 0
}

// Setattr truncates and changes mode and times.
func (n *fileNode) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if n.st.frozen.Load() {
		return syscall.EIO
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if sz, ok := in.GetSize(); ok {
		n.truncate(int64(sz))
	}
	if m, ok := in.GetMode(); ok {
		n.mode = m & 0o7777
	}
	if t, ok := in.GetMTime(); ok {
		n.mtime = t
	}
	n.attr(&out.Attr)
	return 0
}

// Statfs reports a large, empty disk.
func (n *fileNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	statfs(out)
	return 0
}

// sync waits out the sync delay and reports whether the power stayed on
// through it (an fsync that the cut interrupts makes nothing durable).
func (st *state) sync() bool {
	if st.frozen.Load() {
		return false
	}
	if d := st.syncDelay.Load(); d > 0 {
		time.Sleep(time.Duration(d))
	}
	return !st.frozen.Load()
}
