package crash

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/e2e"

	"github.com/ingestd/ingestd/internal/powercut"
	"github.com/ingestd/ingestd/internal/testenv"
)

// mountPowerCut mounts a power-cut filesystem in a temporary folder for the
// daemon's data, or skips when the machine cannot mount FUSE.
func mountPowerCut(t *testing.T) (*powercut.FS, string) {
	t.Helper()
	if err := powercut.Available(); err != nil {
		testenv.Missing(t, "the power-cut filesystem ("+err.Error()+")", "root and /dev/fuse, or apt-get install fuse3")
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
// Half the cuts are torn (a random prefix of unsynced writes survives);
// half strike right after a producer received a 200. With fsync: always
// every acknowledged record must be stored exactly once, and the daemon
// must start without a repair.
func TestPowerCut(t *testing.T) {
	t.Parallel() // its own mount; overlaps the failpoint sweeps, which mostly wait
	f, dir := mountPowerCut(t)
	rounds := 6
	if *e2e.LongCrash {
		rounds = 40
	}
	if testing.Short() {
		rounds = 2
	}
	seed := time.Now().UnixNano()
	t.Logf("seed for cuts: %d", seed)
	rng := rand.New(rand.NewSource(seed))
	// Each fsync takes 2 ms, as on a disk: a cut then often lands inside
	// one, where an answer sent before its fsync would show as a loss.
	f.SetSyncDelay(2 * time.Millisecond)
	// Every other round the power goes right after a producer receives a
	// 200: whatever that answer promised must be on disk by then.
	acks := make(chan struct{}, 1)
	crashRounds(t, crashRun{rounds: rounds, producers: 4, dir: dir, cfg: crashCfg, acks: acks,
		crash: func(d *e2e.Daemon, round int) {
			randomPause()
			if round%2 == 0 {
				select {
				case <-acks: // an old one
				default:
				}
				select {
				case <-acks:
				case <-time.After(5 * time.Second):
				}
			}
			f.Freeze() // the power goes at this instant; then the process dies
			d.Kill()
			rep, err := f.Cut(powercut.CutOptions{Torn: round%4 >= 2, Rand: rng})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("round %d: power cut: %v", round, rep)
		}})
}

// TestPowerCutFsyncModes measures what `interval` and `never` lose at a
// power cut, which kill -9 cannot show: with `never` the records acknowledged
// since the last segment flush are gone; with `interval` only those
// acknowledged within about one interval of the cut.
func TestPowerCutFsyncModes(t *testing.T) {
	const interval = 200 * time.Millisecond
	for _, mode := range []string{"never", "interval"} {
		t.Run(mode, func(t *testing.T) {
			f, dir := mountPowerCut(t)
			d := e2e.Start(t, dir, fmt.Sprintf("wal:\n  fsync: %s\n  fsync_interval: %s\n", mode, interval))
			type req struct {
				ids   []string
				acked time.Time
			}
			var reqs []req
			stop := time.Now().Add(2 * time.Second)
			for i := 0; time.Now().Before(stop); i++ {
				var body bytes.Buffer
				var ids []string
				for j := 0; j < 50; j++ {
					id := fmt.Sprintf("m%d-%d", i, j)
					ids = append(ids, id)
					fmt.Fprintf(&body, `{"ts":%q,"id":%q}`+"\n", time.Now().UTC().Format(time.RFC3339Nano), id)
				}
				if r := d.Post(t, "/v1/ingest", body.Bytes(), nil); r.Code != 200 {
					t.Fatalf("post: %d %s", r.Code, r.Body)
				}
				reqs = append(reqs, req{ids, time.Now()})
				time.Sleep(2 * time.Millisecond)
			}
			f.Freeze()
			cut := time.Now()
			d.Kill()
			if _, err := f.Cut(powercut.CutOptions{}); err != nil {
				t.Fatal(err)
			}
			d = e2e.Start(t, dir, "")
			d.Stop()
			have := map[string]bool{}
			for _, l := range e2e.AllStored(t, dir) {
				var v struct{ ID string }
				json.Unmarshal([]byte(l), &v)
				have[v.ID] = true
			}
			var lost int
			var oldest time.Duration // the longest an acknowledged, lost request had been acknowledged
			for _, r := range reqs {
				for _, id := range r.ids {
					if !have[id] {
						lost++
						oldest = max(oldest, cut.Sub(r.acked))
					}
				}
			}
			t.Logf("fsync %s: %d of %d acknowledged records lost at the cut; the oldest lost had been acknowledged %v before it",
				mode, lost, len(reqs)*50, oldest.Round(time.Millisecond))
			switch mode {
			case "never":
				if lost == 0 {
					t.Error("fsync never lost nothing at a power cut: the power-cut filesystem cannot tell it from always")
				}
			case "interval":
				// One interval, plus the fsync itself and scheduling on a
				// shared, loaded 2-core machine.
				if limit := interval + 2*time.Second; oldest > limit {
					t.Errorf("fsync interval lost a record acknowledged %v before the cut (interval %v)", oldest, interval)
				}
			}
		})
	}
}
