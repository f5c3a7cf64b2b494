package segment

import (
	"fmt"
	"os"
	"path/filepath"
)

// SyncDir fsyncs a directory so that renames and creations in it are durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("segment: open dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("segment: sync dir %s: %w", dir, err)
	}
	return nil
}

// renameDurable renames from to to within one directory and fsyncs the directory.
func renameDurable(from, to string) error {
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("segment: rename %s: %w", filepath.Base(from), err)
	}
	return SyncDir(filepath.Dir(to))
}

// WriteFileDurable replaces path by data, atomically and durably: a
// temporary file beside it (mode 0600), fsync, rename, fsync of the folder.
// On failure path is unchanged and the temporary file is removed.
func WriteFileDurable(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("segment: create %s: %w", tmp, err)
	}
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("segment: write %s: %w", path, err)
	}
	return SyncDir(filepath.Dir(path))
}

// MkdirDurable creates dir (and parents) and fsyncs its parent so that the
// new directory entry survives a power loss.
func MkdirDurable(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("segment: mkdir %s: %w", dir, err)
	}
	return SyncDir(filepath.Dir(dir))
}
