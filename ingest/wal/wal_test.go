package wal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
)

func openT(t *testing.T, dir string, o Options[string]) *WAL[string] {
	t.Helper()
	o.Dir = dir
	w, _, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func replayAll(t *testing.T, w *WAL[string]) map[uint64]string {
	t.Helper()
	got := map[uint64]string{}
	if err := w.Replay(func(seq uint64, p []byte) error { got[seq] = string(p); return nil }); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestGroupCommitOrderAndReplay(t *testing.T) {
	for _, mode := range []SyncMode{SyncAlways, SyncInterval, SyncNever} {
		t.Run(string(mode), func(t *testing.T) {
			dir := t.TempDir()
			var mu sync.Mutex
			var order []uint64
			metas := map[uint64]string{}
			w := openT(t, dir, Options[string]{Sync: mode, FileSize: 4096, OnCommit: func(seq uint64, meta string) {
				mu.Lock()
				order = append(order, seq)
				metas[seq] = meta
				mu.Unlock()
			}})
			if err := w.Start(); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			seqs := make(chan [2]string, 400)
			for g := 0; g < 8; g++ {
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					for i := 0; i < 50; i++ {
						p := fmt.Sprintf("g%d-i%d-%s", g, i, bytes.Repeat([]byte("x"), i*3))
						seq, err := w.Append([]byte(p), p)
						if err != nil {
							t.Error(err)
							return
						}
						seqs <- [2]string{fmt.Sprint(seq), p}
					}
				}(g)
			}
			wg.Wait()
			close(seqs)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			for i, s := range order {
				if s != uint64(i+1) {
					t.Fatalf("OnCommit out of order at %d: %d", i, s)
				}
			}
			if w.Files() < 2 {
				t.Fatalf("no rotation: %d files", w.Files())
			}
			w2 := openT(t, dir, Options[string]{})
			got := replayAll(t, w2)
			n := 0
			for s := range seqs {
				n++
				var seq uint64
				fmt.Sscan(s[0], &seq)
				if got[seq] != s[1] || metas[seq] != s[1] {
					t.Fatalf("seq %d: replay %q meta %v want %q", seq, got[seq], metas[seq], s[1])
				}
			}
			if n != 400 || len(got) != 400 || w2.LastSeq() != 400 {
				t.Fatalf("n %d replayed %d last %d", n, len(got), w2.LastSeq())
			}
		})
	}
}

func writeN(t *testing.T, dir string, n int, o Options[string]) {
	t.Helper()
	w := openT(t, dir, o)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		if _, err := w.Append([]byte(fmt.Sprintf("entry %d", i)), ""); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
}

func onlyFile(t *testing.T, dir string) string {
	t.Helper()
	fs, _ := listFiles(dir)
	if len(fs) != 1 {
		t.Fatalf("%d files", len(fs))
	}
	return fs[0].path
}

func TestTornTailIsCut(t *testing.T) {
	cases := map[string]func(p string, size int64){
		"partial header": func(p string, size int64) { appendTo(p, []byte{5, 0, 0}) },
		"partial entry":  func(p string, size int64) { os.Truncate(p, size-3) },
		"zero tail":      func(p string, size int64) { appendTo(p, make([]byte, 100)) },
		"bad last crc": func(p string, size int64) {
			f, _ := os.OpenFile(p, os.O_WRONLY, 0)
			f.WriteAt([]byte{0xff}, size-1)
			f.Close()
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeN(t, dir, 10, Options[string]{NoCompress: true})
			p := onlyFile(t, dir)
			st, _ := os.Stat(p)
			damage(p, st.Size())
			w, rep, err := Open(Options[string]{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			want := 10
			if name == "partial entry" || name == "bad last crc" {
				want = 9
			}
			if rep.Reason == "" || w.LastSeq() != uint64(want) {
				t.Fatalf("report %+v last %d want %d", rep, w.LastSeq(), want)
			}
			if err := w.Start(); err != nil {
				t.Fatal(err)
			}
			if seq, err := w.Append([]byte("after"), ""); err != nil || seq != uint64(want+1) {
				t.Fatalf("append after repair: %d %v", seq, err)
			}
			w.Close()
			w2 := openT(t, dir, Options[string]{})
			got := replayAll(t, w2)
			if len(got) != want+1 || got[uint64(want+1)] != "after" {
				t.Fatalf("replay %v", got)
			}
		})
	}
}

func TestMidLogCorruption(t *testing.T) {
	dir := t.TempDir()
	writeN(t, dir, 10, Options[string]{NoCompress: true})
	p := onlyFile(t, dir)
	f, _ := os.OpenFile(p, os.O_WRONLY, 0)
	f.WriteAt([]byte{0xff}, 30) // inside entry 2
	f.Close()
	_, _, err := Open(Options[string]{Dir: dir})
	var ce *CorruptionError
	if !errors.As(err, &ce) || ce.Path != p || ce.Offset == 0 {
		t.Fatalf("want corruption, got %v", err)
	}
}

func TestReleaseAndEmpty(t *testing.T) {
	dir := t.TempDir()
	w := openT(t, dir, Options[string]{FileSize: 200, NoCompress: true})
	w.Start()
	for i := 0; i < 40; i++ {
		if _, err := w.Append(bytes.Repeat([]byte("y"), 50), ""); err != nil {
			t.Fatal(err)
		}
	}
	before := w.Files()
	if err := w.Release(20); err != nil {
		t.Fatal(err)
	}
	after := w.Files()
	if after >= before {
		t.Fatalf("release removed nothing: %d -> %d", before, after)
	}
	w.Close()
	w2 := openT(t, dir, Options[string]{})
	got := replayAll(t, w2)
	for s := uint64(21); s <= 40; s++ {
		if _, ok := got[s]; !ok {
			t.Fatalf("entry %d lost by release", s)
		}
	}
	if err := w2.Empty(); err != nil {
		t.Fatal(err)
	}
	w3 := openT(t, dir, Options[string]{})
	if len(replayAll(t, w3)) != 0 || w3.LastSeq() != 40 {
		t.Fatalf("after Empty: last %d", w3.LastSeq())
	}
	w3.Start()
	if seq, _ := w3.Append([]byte("z"), ""); seq != 41 {
		t.Fatalf("sequence after Empty: %d", seq)
	}
	w3.Close()
}

func appendTo(p string, b []byte) {
	f, _ := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	f.Write(b)
	f.Close()
}

func TestSetNextJumpStartsNewFile(t *testing.T) {
	dir := t.TempDir()
	writeN(t, dir, 5, Options[string]{})
	w := openT(t, dir, Options[string]{})
	w.SetNext(100)
	w.Start()
	if seq, err := w.Append([]byte("j"), ""); err != nil || seq != 100 {
		t.Fatalf("%d %v", seq, err)
	}
	w.Close()
	got := replayAll(t, openT(t, dir, Options[string]{}))
	if len(got) != 6 || got[100] != "j" || got[5] != "entry 5" {
		t.Fatalf("replay after jump: %v", got)
	}
}

// A write failure keeps its cause in the chain (the daemon answers 507 for
// ENOSPC) and is sticky.
func TestFailureIsStickyAndKeepsCause(t *testing.T) {
	dir := t.TempDir()
	w := openT(t, dir, Options[string]{PreCommit: func(uint64, []string) error { return nil }})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	w.f.Close() // the next write fails: the fd is gone
	_, err := w.Append([]byte("x"), "")
	if !errors.Is(err, ErrFailed) || !errors.Is(err, os.ErrClosed) {
		t.Fatalf("want ErrFailed wrapping the cause, got %v", err)
	}
	if _, err2 := w.Append([]byte("y"), ""); !errors.Is(err2, ErrFailed) {
		t.Fatalf("not sticky: %v", err2)
	}
}

// A failed fdatasync is never retried: every later Append fails at once
// without another sync, and a restart replays what the file holds.
func TestFailedFsyncIsNeverRetried(t *testing.T) {
	dir := t.TempDir()
	var calls atomic.Int32
	var failing atomic.Bool
	w := openT(t, dir, Options[string]{Fdatasync: func(f *os.File) error {
		calls.Add(1)
		if failing.Load() {
			return errors.New("EIO (injected)")
		}
		return fdatasync(f)
	}})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Append([]byte("acked"), ""); err != nil {
		t.Fatal(err)
	}
	failing.Store(true)
	if _, err := w.Append([]byte("not acked"), ""); !errors.Is(err, ErrFailed) {
		t.Fatalf("want ErrFailed, got %v", err)
	}
	n := calls.Load()
	failing.Store(false) // the device "recovers": still no retry on this file
	for i := 0; i < 3; i++ {
		if _, err := w.Append([]byte("later"), ""); !errors.Is(err, ErrFailed) {
			t.Fatalf("append after a failed fsync: %v", err)
		}
	}
	if calls.Load() != n {
		t.Fatalf("fdatasync called %d more times after it failed", calls.Load()-n)
	}
	w.Close()
	// Restart: the acknowledged entry is there; the failed one is whole or absent.
	w2 := openT(t, dir, Options[string]{})
	got := replayAll(t, w2)
	if got[1] != "acked" {
		t.Fatalf("after restart: %v", got)
	}
	if v, ok := got[2]; ok && v != "not acked" {
		t.Fatalf("failed entry came back damaged: %q", v)
	}
	if len(got) > 2 {
		t.Fatalf("entries appended after the failure were written: %v", got)
	}
}
