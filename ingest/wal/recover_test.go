package wal

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/ingestd/ingestd/internal/powercut"
	"github.com/ingestd/ingestd/internal/testenv"
)

// TestMain runs the writer child of TestOpenMakesWhatItReadsDurable when
// asked to, and the tests otherwise.
func TestMain(m *testing.M) {
	if dir := os.Getenv("INGESTD_WAL_UNSYNCED"); dir != "" {
		writeUnsyncedAndDie(dir)
	}
	os.Exit(m.Run())
}

// writeUnsyncedAndDie appends entries 2 to 10 to the log in dir without
// syncing them and kills itself, as kill -9 would.
func writeUnsyncedAndDie(dir string) {
	w, _, err := Open(Options[string]{Dir: dir, Sync: SyncNever})
	if err == nil {
		err = w.Start()
	}
	for i := 2; i <= 10 && err == nil; i++ {
		_, err = w.Append([]byte(fmt.Sprintf("unsynced %d", i)), "")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// TestOpenMakesWhatItReadsDurable: entries written but never synced by a
// process killed with -9 stay in the page cache, where the next Open reads
// them; recovery replays them and the idempotency journal answers their
// keys, so a power cut after that must not take them back. On the
// power-cut filesystem, which drops what was not synced.
func TestOpenMakesWhatItReadsDurable(t *testing.T) {
	if err := powercut.Available(); err != nil {
		testenv.Missing(t, "the power-cut filesystem ("+err.Error()+")", "root and /dev/fuse, or apt-get install fuse3")
	}
	fs := powercut.New()
	mnt := t.TempDir()
	if err := fs.Mount(mnt); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := fs.Unmount(); err != nil {
			t.Error(err)
		}
	})
	for _, recoverFirst := range []bool{false, true} {
		dir := fmt.Sprintf("%s/wal-%v", mnt, recoverFirst)
		// Entry 1 is synced; the child writes 2 to 10 and dies.
		writeN(t, dir, 1, Options[string]{Sync: SyncAlways})
		child := exec.Command(os.Args[0], "-test.run=^$")
		child.Env = append(os.Environ(), "INGESTD_WAL_UNSYNCED="+dir)
		if out, err := child.CombinedOutput(); err == nil || !isKilled(err) {
			t.Fatalf("the writer child: %v\n%s", err, out)
		}
		if recoverFirst {
			if r := openT(t, dir, Options[string]{}); r.LastSeq() != 10 {
				t.Fatalf("recovery read %d entries, want 10", r.LastSeq())
			}
		}
		if _, err := fs.Cut(powercut.CutOptions{}); err != nil {
			t.Fatal(err)
		}
		got := openT(t, dir, Options[string]{}).LastSeq()
		switch {
		case recoverFirst && got != 10:
			t.Errorf("a power cut after a recovery that read 10 entries took back %d of them", 10-got)
		case !recoverFirst && got != 1:
			// Without a recovery in between, the cut drops the unsynced
			// entries: the child did leave them unsynced.
			t.Errorf("the cut kept %d entries, want the 1 synced", got)
		}
	}
}

func isKilled(err error) bool {
	ee, ok := err.(*exec.ExitError)
	if !ok {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}
