// Package fsutil holds the project's durable-file helpers: the one place
// that knows which fsyncs make a create, a rename or a new folder survive a
// power cut (internal/powercut's tests hold every durable path to them).
//
// The rule: file data is durable after an fsync of the file; a directory
// entry (create, rename, unlink, mkdir) after an fsync of its folder; a new
// folder only once every level above it that was also new is durable.
package fsutil

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/ingestd/ingestd/internal/failpoint"
)

// SyncDir fsyncs a directory so that creations, renames and removals in it
// are durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir %s: %w", dir, err)
	}
	defer d.Close()
	failpoint.Hit("fsutil.SyncDir.sync")
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

// RenameDurable renames from to to and fsyncs the destination folder (and
// the source folder when it is another one).
func RenameDurable(from, to string) error {
	failpoint.Hit("fsutil.RenameDurable.rename")
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("rename %s: %w", filepath.Base(from), err)
	}
	failpoint.Hit("fsutil.RenameDurable.syncdir")
	if err := SyncDir(filepath.Dir(to)); err != nil {
		return err
	}
	if src := filepath.Dir(from); src != filepath.Dir(to) {
		failpoint.Hit("fsutil.RenameDurable.syncdir.2")
		return SyncDir(src)
	}
	return nil
}

// WriteFileDurable replaces path by data, atomically and durably: a
// temporary file of its own beside it (<name>.tmp-<random>, mode 0600),
// fsync, rename, fsync of the folder. Writers of one path, even in other
// processes (the daemon and a report child both write a day's partial), do
// not collide: each renames its own file, and the last one wins. On failure
// path is unchanged and the temporary file is removed.
func WriteFileDurable(path string, data []byte) error {
	failpoint.Hit("fsutil.WriteFileDurable.openfile")
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create a temporary file for %s: %w", path, err)
	}
	tmp := f.Name()
	failpoint.Hit("fsutil.WriteFileDurable.write")
	if _, err = f.Write(data); err == nil {
		failpoint.Hit("fsutil.WriteFileDurable.sync")
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		failpoint.Hit("fsutil.WriteFileDurable.rename")
		err = os.Rename(tmp, path)
	}
	if err != nil {
		failpoint.Hit("fsutil.WriteFileDurable.remove")
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	failpoint.Hit("fsutil.WriteFileDurable.syncdir")
	return SyncDir(filepath.Dir(path))
}

// MkdirDurable creates dir and every missing parent (mode 0700), fsyncing
// the parent of each level it creates, so that the whole path survives a
// power loss. An existing dir is left as it is.
func MkdirDurable(dir string) error {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		_, err := os.Stat(d)
		if err == nil {
			break
		}
		if !os.IsNotExist(err) {
			return fmt.Errorf("mkdir %s: %w", dir, err)
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		failpoint.Hit("fsutil.MkdirDurable.mkdir")
		if err := os.Mkdir(missing[i], 0o700); err != nil && !os.IsExist(err) {
			return err // a *PathError: it names the operation and the path
		}
		failpoint.Hit("fsutil.MkdirDurable.syncdir")
		if err := SyncDir(filepath.Dir(missing[i])); err != nil {
			return err
		}
	}
	return nil
}

// CopyDurable copies src to dst, atomically and durably (a temporary file,
// fsync, rename, fsync of the folder), so that dst, once it exists, is a
// whole copy. An existing dst is kept as it is: a repair interrupted after
// its backup copy finds the copy whole when it runs again.
func CopyDurable(src, dst string) error {
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	defer in.Close()
	tmp := dst + ".tmp"
	failpoint.Hit("fsutil.CopyDurable.openfile")
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("copy to %s: %w", tmp, err)
	}
	_, err = io.Copy(out, in)
	if err == nil {
		failpoint.Hit("fsutil.CopyDurable.sync")
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		failpoint.Hit("fsutil.CopyDurable.remove")
		os.Remove(tmp)
		return fmt.Errorf("copy to %s: %w", dst, err)
	}
	failpoint.Hit("fsutil.CopyDurable.renamedurable")
	return RenameDurable(tmp, dst)
}

// Fdatasync makes f's written data durable (fdatasync(2)): what the WAL and
// the idempotency journal call at every group commit. A failure must not be
// retried on the same file (see wal.WAL.fsync).
func Fdatasync(f *os.File) error {
	failpoint.Hit("fsutil.Fdatasync.sync")
	return syscall.Fdatasync(int(f.Fd()))
}
