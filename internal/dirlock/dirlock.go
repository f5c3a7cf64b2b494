// Package dirlock gives one process at a time a data directory: an
// exclusive flock(2) on <dir>/.lock, held for the process's life, like
// Prometheus' and etcd's directory locks. The file names the holder (its
// PID and listen address) so that a refused start can say who has it. The
// kernel drops the lock when the process dies, however it dies, so a crash
// never leaves a stale lock behind.
package dirlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/ingestd/ingestd/internal/fsutil"
)

// Name is the lock file's name in the data directory.
const Name = ".lock"

// Lock is a held directory lock.
type Lock struct {
	f *os.File
}

// Holder says who holds a lock, as its file records it.
type Holder struct {
	PID  int
	Addr string // "" until the holder is listening
}

func (h Holder) String() string {
	s := "pid " + strconv.Itoa(h.PID)
	if h.Addr != "" {
		s += ", listening on " + h.Addr
	}
	return s
}

// HeldError is Acquire's error when another process holds the lock.
type HeldError struct {
	Dir    string
	Holder Holder
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("data dir %s is in use by another ingestd (%s); stop it first, or give this one another --data-dir", e.Dir, e.Holder)
}

// Acquire creates dir if needed and takes its lock, or returns a
// *HeldError naming the holder.
func Acquire(dir string) (*Lock, error) {
	if err := fsutil.MkdirDurable(dir); err != nil {
		return nil, fmt.Errorf("dirlock: %w", err)
	}
	p := filepath.Join(dir, Name)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("dirlock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			h, _ := read(p)
			return nil, &HeldError{Dir: dir, Holder: h}
		}
		return nil, fmt.Errorf("dirlock: lock %s: %w", p, err)
	}
	l := &Lock{f: f}
	if err := l.write(Holder{PID: os.Getpid()}); err != nil {
		l.Release()
		return nil, err
	}
	return l, nil
}

// SetAddr records the address the holder listens on.
func (l *Lock) SetAddr(addr string) error { return l.write(Holder{PID: os.Getpid(), Addr: addr}) }

func (l *Lock) write(h Holder) error {
	line := fmt.Sprintf("%d %s\n", h.PID, h.Addr)
	if err := l.f.Truncate(0); err != nil {
		return fmt.Errorf("dirlock: %w", err)
	}
	if _, err := l.f.WriteAt([]byte(line), 0); err != nil {
		return fmt.Errorf("dirlock: %w", err)
	}
	return nil
}

// Release drops the lock (the process's exit does too).
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// Held reports whether a process holds dir's lock and who. It never takes
// the lock for longer than the probe.
func Held(dir string) (Holder, bool) {
	p := filepath.Join(dir, Name)
	f, err := os.Open(p)
	if err != nil {
		return Holder{}, false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err == nil {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return Holder{}, false
	}
	h, _ := read(p)
	return h, true
}

func read(p string) (Holder, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return Holder{}, err
	}
	f := strings.Fields(string(b))
	var h Holder
	if len(f) > 0 {
		h.PID, _ = strconv.Atoi(f[0])
	}
	if len(f) > 1 {
		h.Addr = f[1]
	}
	return h, nil
}
