package main

import (
	"math/rand"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/powercut"
)

// mountPowerCut mounts a power-cut filesystem in a temporary folder for the
// daemon's data, or skips when the machine cannot mount FUSE.
func mountPowerCut(t *testing.T) (*powercut.FS, string) {
	t.Helper()
	if err := powercut.Available(); err != nil {
		t.Skipf("power-cut filesystem unavailable (CI installs fuse3 and runs as root): %v", err)
	}
	dir := t.TempDir()
	f := powercut.New()
	if err := f.Mount(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Unmount(); err != nil {
			t.Error(err)
		}
	})
	return f, dir
}

// TestPowerCut is TestCrashKill9 on a filesystem that loses, at each crash,
// everything POSIX does not promise to keep (internal/powercut): file data
// not fsynced and directory entries whose folder was not fsynced since.
// Every other round the cut is torn (a random prefix of unsynced writes
// survives). With fsync: always every acknowledged record must be stored
// exactly once, and the daemon must start without a repair.
func TestPowerCut(t *testing.T) {
	f, dir := mountPowerCut(t)
	rounds := 6
	if *longCrash {
		rounds = 40
	}
	if testing.Short() {
		rounds = 2
	}
	seed := time.Now().UnixNano()
	t.Logf("seed for cuts: %d", seed)
	rng := rand.New(rand.NewSource(seed))
	crashRounds(t, crashRun{rounds: rounds, producers: 4, dir: dir, cfg: crashCfg,
		crash: func(d *daemon, round int) {
			d.kill()
			rep, err := f.Cut(powercut.CutOptions{Torn: round%2 == 1, Rand: rng})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("round %d: power cut: %v", round, rep)
		}})
}
