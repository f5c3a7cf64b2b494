package crash

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ingestd/ingestd/internal/e2e"
	"github.com/ingestd/ingestd/internal/testenv"
	"github.com/ingestd/ingestd/segment"
)

// diskLossS3 starts versitygw (or skips) and makes the buckets.
func diskLossS3(t *testing.T, buckets ...string) (*e2e.S3Server, *minio.Client) {
	t.Helper()
	vgw := e2e.LookVersitygw()
	if vgw == "" {
		testenv.Missing(t, "versitygw", "go install github.com/versity/versitygw/cmd/versitygw@v1.8.0")
	}
	s3 := &e2e.S3Server{Bin: vgw, Dir: t.TempDir(), Addr: e2e.FreeAddr(t)}
	s3.Start(t)
	t.Cleanup(s3.Stop)
	c, err := minio.New(s3.Addr, &minio.Options{Creds: credentials.NewStaticV4(e2e.S3Key, e2e.S3Secret, "")})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range buckets {
		if err := c.MakeBucket(context.Background(), b, minio.MakeBucketOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return s3, c
}

// bucketSteps are the bucket's steps a disk-loss round may die at.
var bucketSteps = []string{"ship.Tail.put", "ship.Tail.saveState.write", "ship.upload.put", "ship.Tail.heartbeat",
	"ship.uploadPartial.put", "ship.upload.writefile"}

// TestDiskLoss loses the whole machine at random instants: under load (with
// Idempotency-Keys, through /v1/ingest and _bulk, over today and past days
// that seal, compact and ship meanwhile), the daemon is killed with SIGKILL
// and its data dir deleted; `ingestd restore` rebuilds it from the bucket
// and the next round serves on it. At the end every record is counted over
// the bucket's segment objects and the last data dir together.
//
// Every other round arms one of the bucket's steps (a PUT of a WAL object
// or a segment file, the tail's state, the heartbeat), so that the machine
// is lost right at it.
//
// With storage.ack: bucket, every acknowledged record must be there exactly
// once. With ack: local, acknowledged records may be lost, only those
// acknowledged within the last tail_interval (plus one upload) before the
// loss; the test measures that window and fails beyond a generous bound.
func TestDiskLoss(t *testing.T) {
	t.Parallel()
	rounds := 3
	if *e2e.LongCrash {
		rounds = 12
	}
	if testing.Short() {
		rounds = 2
	}
	s3, c := diskLossS3(t, "loss-bucket", "loss-local")
	for _, ack := range []string{"bucket", "local"} {
		t.Run(ack, func(t *testing.T) {
			bucket := "loss-" + ack
			storage := fmt.Sprintf("storage:\n  endpoint: %s\n  bucket: %s\n  access_key: %s\n  secret_key: %s\n  interval: 200ms\n  ack: %s\n  tail_interval: 1s\n",
				s3.Addr, bucket, e2e.S3Key, e2e.S3Secret, ack)
			cfg := crashCfg + "node_id: n1\n" + storage
			cliCfg := filepath.Join(t.TempDir(), "cli.yaml")
			if err := os.WriteFile(cliCfg, []byte(storage), 0o600); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "data")
			now := time.Now()
			var (
				mu       sync.Mutex
				lostAt   = map[int]time.Time{} // round → when its machine was lost
				windows  []time.Duration       // per lost request: loss time - its acknowledgement
				lostRecs int
				restored []string
			)
			crashRounds(t, crashRun{rounds: rounds, producers: 3, dir: dir, cfg: cfg,
				env: func(round int) []string {
					if round%2 == 0 {
						return nil
					}
					return []string{"INGESTD_FAILPOINT=" + bucketSteps[(round/2)%len(bucketSteps)]}
				},
				when: func(r *rand.Rand, round int) time.Time {
					if r.Intn(2) == 0 {
						return now
					}
					return now.AddDate(0, 0, -1-round%3) // a past day that seals and ships while the load runs
				},
				crash: func(d *e2e.Daemon, round int) {
					select {
					case <-d.Done: // died at its armed step (or while starting)
					case <-time.After(time.Duration(500+rand.Intn(2500)) * time.Millisecond):
						d.Kill()
					}
					mu.Lock()
					lostAt[round] = time.Now()
					mu.Unlock()
					if err := os.RemoveAll(dir); err != nil {
						t.Fatal(err)
					}
					if round == 0 {
						// The heartbeat is a few seconds old: a node that
						// may be alive is refused without --force.
						if out, code := e2e.CLI(t, "restore", "--config", cliCfg, "--source", "s3://"+bucket, "--node", "n1", "--data-dir", dir); code != 3 {
							t.Fatalf("restore of a node with a fresh heartbeat: exit %d, want 3\n%s", code, out)
						}
					}
					out, code := e2e.CLI(t, "restore", "--config", cliCfg, "--source", "s3://"+bucket, "--node", "n1", "--data-dir", dir, "--force")
					if code != 0 {
						t.Fatalf("restore: exit %d\n%s", code, out)
					}
					restored = append(restored, strings.TrimSpace(out))
				},
				stored: func() []string { return e2e.BucketAndLocal(t, c, bucket, dir) },
				lost: func(s *sent, missing int) {
					if ack == "bucket" {
						t.Errorf("ack bucket: acknowledged request %s lost %d of %d records (acknowledged in round %d)", s.key, missing, len(s.ids), s.round)
						return
					}
					mu.Lock()
					windows = append(windows, lostAt[s.round].Sub(s.ackedAt))
					lostRecs += missing
					mu.Unlock()
				},
			})
			for i, r := range restored {
				t.Logf("round %d restore:\n%s", i, r)
			}
			if ack == "local" {
				sort.Slice(windows, func(i, j int) bool { return windows[i] < windows[j] })
				worst := time.Duration(0)
				if len(windows) > 0 {
					worst = windows[len(windows)-1]
				}
				t.Logf("ack local: %d acknowledged requests (%d records) lost over %d losses of the machine; the oldest was acknowledged %v before the loss (tail_interval 1s, block_age 50ms)",
					len(windows), lostRecs, rounds, worst.Round(time.Millisecond))
				// The promise is tail_interval plus one upload; the bound
				// leaves room for a loaded machine.
				if worst > 10*time.Second {
					t.Errorf("ack local lost a record acknowledged %v before the loss: beyond tail_interval + an upload", worst)
				}
			}
		})
	}
}

// TestDiskLossBetweenCompactions loses the machine at the one instant where
// a day's objects disagree with its manifest: a day is compacted (C1) and
// shipped; late records arrive and it is compacted again (C2, replacing
// C1); C2 is uploaded and the daemon dies before C1's object is removed;
// the disk is lost. The restored node must count C1's records once, and
// the next compaction (C3) must remove C1's object from the bucket: a C3
// that named only C2 and its new parts left C1 to be read beside it by
// every reader of the bucket and every later restore (found when a CI run
// crossed midnight, under TestDiskLoss).
func TestDiskLossBetweenCompactions(t *testing.T) {
	t.Parallel()
	s3, c := diskLossS3(t, "recompact")
	storage := fmt.Sprintf("storage:\n  endpoint: %s\n  bucket: recompact\n  access_key: %s\n  secret_key: %s\n  interval: 200ms\n  ack: bucket\n  tail_interval: 100ms\n",
		s3.Addr, e2e.S3Key, e2e.S3Secret)
	cfg := crashCfg + "node_id: nr\nreport:\n  schedule: \"off\"\n" + storage
	cliCfg := filepath.Join(t.TempDir(), "cli.yaml")
	if err := os.WriteFile(cliCfg, []byte(storage), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	day := time.Now().UTC().AddDate(0, 0, -2)
	dt := day.Format(time.DateOnly)
	want := map[string]bool{}
	batch := 0
	// send posts a batch of records for the past day and returns whether
	// it was acknowledged; an acknowledged batch must be stored once.
	send := func(d *e2e.Daemon) bool {
		batch++
		var b strings.Builder
		var lines []string
		for i := 0; i < 40; i++ {
			l := fmt.Sprintf(`{"ts":"%sT12:%02d:%02dZ","batch":%d,"i":%d,"pad":"%x"}`, dt, batch%60, i, batch, i, rand.Int63())
			lines = append(lines, l)
			b.WriteString(l + "\n")
		}
		r := d.Post(t, "/v1/ingest", []byte(b.String()), map[string]string{"Idempotency-Key": fmt.Sprintf("recompact-%d", batch)})
		if r.Code != 200 {
			return false
		}
		for _, l := range lines {
			want[l] = true
		}
		return true
	}
	// compacted lists the day's compacted objects and whether any part
	// (a file a compaction replaces) is there beside them.
	compacted := func() (names []string, parts int) {
		for o := range c.ListObjects(context.Background(), "recompact", minio.ListObjectsOptions{Prefix: "dt=" + dt + "/", Recursive: true}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			switch {
			case !strings.HasSuffix(o.Key, segment.SuffixSealed): // the day's partial
			case strings.Contains(o.Key, "-compact-"):
				names = append(names, o.Key)
			default:
				parts++
			}
		}
		return names, parts
	}
	// exactlyOnce checks the bucket and the data dir together.
	exactlyOnce := func(when string) {
		t.Helper()
		n := map[string]int{}
		for _, l := range e2e.BucketAndLocal(t, c, "recompact", dir) {
			n[l]++
		}
		for l := range want {
			if n[l] != 1 {
				t.Errorf("%s: acknowledged record stored %d times: %s", when, n[l], l)
			}
		}
		for l, k := range n {
			if k > 1 && !want[l] {
				t.Errorf("%s: unacknowledged record stored %d times: %s", when, k, l)
			}
		}
	}

	// C1: the day compacted and shipped, nothing else left for it.
	d := e2e.Start(t, dir, cfg)
	for i := 0; i < 3; i++ {
		if !send(d) {
			t.Fatal("a batch was refused with the bucket up")
		}
	}
	e2e.WaitFor(t, "the day compacted and shipped alone", func() bool {
		names, parts := compacted()
		return len(names) == 1 && parts == 0
	})
	d.Stop()

	// C2 replaces C1; the daemon dies after C2's upload, before C1's
	// object is removed.
	d, err := e2e.Launch(t, dir, cfg, []string{"INGESTD_FAILPOINT=ship.upload.removereplaced"})
	if err != nil {
		t.Fatalf("start armed: %v\n%s", err, d.Log.String())
	}
	// One batch: the day seals 200 ms after it, and its compaction kills
	// the daemon.
	if !send(d) {
		t.Fatal("a batch was refused with the bucket up")
	}
	select {
	case <-d.Done:
	case <-time.After(60 * time.Second):
		t.Fatalf("the second compaction never reached ship.upload.removereplaced:\n%s", d.Log.String())
	}
	if !strings.Contains(d.Log.String(), "failpoint: crashing at ship.upload.removereplaced") {
		t.Fatalf("died elsewhere than at ship.upload.removereplaced:\n%s", d.Log.String())
	}
	before := map[string]bool{}
	names, _ := compacted()
	if len(names) != 2 {
		t.Fatalf("after the crash the bucket holds compacted objects %v, want C1 and C2", names)
	}
	for _, n := range names {
		before[n] = true
	}

	// The machine is lost.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if out, code := e2e.CLI(t, "restore", "--config", cliCfg, "--source", "s3://recompact", "--node", "nr", "--data-dir", dir, "--force"); code != 0 {
		t.Fatalf("restore: exit %d\n%s", code, out)
	}
	d = e2e.Start(t, dir, cfg)
	exactlyOnce("restored, C1 beside C2 in the bucket")

	// C3: more late records; its upload removes C2 and C1.
	for i := 0; i < 3; i++ {
		if !send(d) {
			t.Fatal("a batch was refused on the restored node")
		}
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		names, parts := compacted()
		if len(names) == 1 && parts == 0 && !before[names[0]] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("60 s on, the day's compacted objects are %v (before: %v) beside %d parts, want one new compaction alone\n%s",
				names, before, parts, d.Log.String())
		}
	}
	d.Stop()
	exactlyOnce("after the third compaction")

	// And the next restore reads each record once.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if out, code := e2e.CLI(t, "restore", "--config", cliCfg, "--source", "s3://recompact", "--node", "nr", "--data-dir", dir); code != 0 {
		t.Fatalf("second restore: exit %d\n%s", code, out)
	}
	exactlyOnce("restored again")
}
