package crash

import (
	"context"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/e2e"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ingestd/ingestd/report"

	"github.com/ingestd/ingestd/internal/failpoint/scan"
	"github.com/ingestd/ingestd/internal/powercut"
	"github.com/ingestd/ingestd/internal/testenv"
)

var crashPoints = flag.String("crash.points", os.Getenv("INGESTD_CRASH_POINTS"),
	`failpoints TestCrashPoints arms: "all", or a comma-separated list; default a random sample of 8 (INGESTD_CRASH_POINTS sets the default; CI sets all)`)

// durablePackages are the packages whose failpoints the sweep arms (the
// scan test in internal/failpoint/scan holds each durable call to a point).
var durablePackages = []string{"./ingest/...", "./segment/...", "./report/...", "./internal/fsutil"}

// reachedRe and crashedRe read the trace lines, also when a child process
// (a report) printed them and the daemon logged them quoted.
var (
	reachedRe = regexp.MustCompile(`failpoint: reached ([A-Za-z0-9._-]+)`)
	crashedRe = regexp.MustCompile(`failpoint: crashing at ([A-Za-z0-9._-]+)`)
)

// crashUnreachable are the durable points no round of TestCrashPoints
// reaches, with the reason (and the test that does reach them). The sweep
// leaves them out; one that is reached after all is logged, and one that is
// not listed and never reached fails the test.
var crashUnreachable = map[string]string{
	"fsutil.CopyDurable.openfile":      "only repair copies a damaged file aside: TestRepairCrashPoints",
	"fsutil.CopyDurable.sync":          "only repair copies a damaged file aside: TestRepairCrashPoints",
	"fsutil.CopyDurable.remove":        "a failed copy, by repair only",
	"fsutil.CopyDurable.renamedurable": "only repair copies a damaged file aside: TestRepairCrashPoints",
	"segment.repairFile.copydurable":   "ingestd repair only: TestRepairCrashPoints",
	"segment.repairFile.remove":        "ingestd repair only: TestRepairCrashPoints",
	"segment.repairFile.sync":          "ingestd repair only: TestRepairCrashPoints",
	"segment.repairFile.truncate":      "ingestd repair only: TestRepairCrashPoints",
	"segment.repairFile.writeat":       "ingestd repair only: TestRepairCrashPoints",
	"wal.Repair.copydurable":           "ingestd repair only: TestRepairCrashPoints",
	"wal.Repair.truncate":              "ingestd repair only: TestRepairCrashPoints",
	"wal.Open.truncate":                "a torn WAL tail: only when a kill lands during an append, in some runs (ingest/wal TestTornTails cuts every tail)",
	"wal.Open.sync":                    "after wal.Open.truncate",
	"fsutil.RenameDurable.syncdir.2":   "every rename of the daemon stays in one folder",
	"fsutil.WriteFileDurable.remove":   "a failed write or rename: a full or failing disk, which the sweep does not make",
	"segment.Append.truncate":          "a short segment write (a full disk): segment TestShortWriteIsStickyAndCut",
	"segment.Create.remove":            "a failed directory sync after creating a part: a failing disk, which the sweep does not make",
	"ingest.enforceCap.remove":         "rejected lines over rejected.max_bytes; the load sends none (ingest TestRejectedStoreRotatesAndCaps)",
	"report.cleanStale.removeall":      "a stale .old- folder whose rename back failed",
	"ship.Pass.remove.2":               "a shipped partial removed locally: needs delete_after ≥ 0, and the sweep keeps local copies (-1s) to check them",
	"ship.maybeDelete.remove":          "local copies are kept (delete_after: -1s) so the check can read them: TestShippingToS3",
	"ship.Tail.Prune.keys":             "pruning needs every entry of the WAL objects in shipped days, and the sweep always writes today: TestPruneAndRestoreFromSegmentsOnly crashes at it",
	"ship.Tail.Prune.remove":           "as ship.Tail.Prune.keys: TestPruneAndRestoreFromSegmentsOnly crashes at it",
	"ship.Restore.mkdir":               "ingestd restore only, which writes nothing to the bucket: an interrupted restore is run again into an emptied directory",
	"ship.Restore.create":              "ingestd restore only, which writes nothing to the bucket: an interrupted restore is run again into an emptied directory",
	"ship.Restore.write":               "ingestd restore only, which writes nothing to the bucket: an interrupted restore is run again into an emptied directory",
	"ship.Restore.sync":                "ingestd restore only, which writes nothing to the bucket: an interrupted restore is run again into an emptied directory",
	"ship.Restore.next":                "ingestd restore only, which writes nothing to the bucket: an interrupted restore is run again into an emptied directory",
	"ship.Restore.keys":                "ingestd restore only, which writes nothing to the bucket: an interrupted restore is run again into an emptied directory",
	"ship.Restore.keys.write":          "ingestd restore only, which writes nothing to the bucket: an interrupted restore is run again into an emptied directory",
	"ship.Restore.state":               "ingestd restore only, which writes nothing to the bucket: an interrupted restore is run again into an emptied directory",
	"ship.Restore.state.write":         "ingestd restore only, which writes nothing to the bucket: an interrupted restore is run again into an emptied directory",
	"ship.Restore.syncdir":             "ingestd restore only, which writes nothing to the bucket: an interrupted restore is run again into an emptied directory",
	"ship.download.mkdir":              "ingestd restore only, which writes nothing to the bucket: an interrupted restore is run again into an emptied directory",
	"ship.download.create":             "ingestd restore only, which writes nothing to the bucket: an interrupted restore is run again into an emptied directory",
	"ship.download.sync":               "ingestd restore only, which writes nothing to the bucket: an interrupted restore is run again into an emptied directory",
	"ship.download.rename":             "ingestd restore only, which writes nothing to the bucket: an interrupted restore is run again into an emptied directory",
	"ship.download.marker":             "ingestd restore only, which writes nothing to the bucket: an interrupted restore is run again into an emptied directory",
}

// crashSometimes are the points the sweep reaches in some runs only: the
// report child's, which must get far enough within a round, and recovery's
// and retention's, which depend on what an earlier crash left. Each was
// crashed at in neither mode in at least one of 3 full sweeps (and one,
// report.cleanStale.rename, was not reached at all in one). They are armed,
// but a run that does not reach them does not fail; making each reachable
// on purpose is the next step.
var crashSometimes = map[string]bool{
	"ingest.applyRetention.removeall":      true,
	"report.RunMonth.remove-tmp":           true,
	"report.cleanStale.removeall.2":        true,
	"report.cleanStale.rename":             true,
	"report.publish.syncdir.2":             true,
	"report.write.inputs":                  true,
	"report.write.mkdirdurable":            true,
	"report.writeCSV.openfile":             true,
	"report.writeHTMLFile.openfile":        true,
	"report.writePartial.writefiledurable": true,
	"segment.Compact.remove":               true,
	"segment.OpenAppend.truncate":          true,
	"segment.RecoverDay.remove":            true,
	"segment.RecoverDay.remove.2":          true,
	"segment.RecoverDay.syncdir":           true,
	"segment.Seal.remove":                  true,
	"ship.uploadPartial.writefile":         true,
	"ship.upload.removereplaced":           true, // a day compacted again after late records, its earlier compaction shipped
	"ship.uploadPartial.put":               true, // as ship.uploadPartial.writefile, its next step
}

// TestCrashPoints crashes the daemon at named failpoints in turn, found in
// the source by internal/failpoint/scan, under producer load with
// Idempotency-Keys, restarting it on what is left, first with kill -9
// alone, then with a power cut after each crash. A point that the load
// does not reach within a few seconds is tried during a graceful stop.
// Every acknowledged record must be stored exactly once at the end (see
// crashRounds).
func TestCrashPoints(t *testing.T) {
	t.Parallel() // with TestRepairCrashPoints: both mostly wait
	points, _, err := scan.Scan("../..", durablePackages...)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range points {
		names = append(names, p.Name)
	}
	seed := time.Now().UnixNano()
	switch *crashPoints {
	case "all":
	case "":
		rng := rand.New(rand.NewSource(seed))
		rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
		names = names[:min(8, len(names))]
		sort.Strings(names)
		t.Logf("a sample of 8 of %d points (seed %d; -crash.points=all for every one): %v", len(points), seed, names)
	default:
		names = strings.Split(*crashPoints, ",")
	}
	if *crashPoints == "all" { // the listed ones are reached by other tests, or never
		names = slices.DeleteFunc(names, func(n string) bool { _, ok := crashUnreachable[n]; return ok })
	}
	// Retention keeps 30 days; some records go 40 days back, so retention
	// deletes days while the daemon runs. The past day changes every
	// round, so the previous round's day seals, compacts and gets its
	// partial while the armed round runs.
	// A breakdown, so that the report writes its files at the points too.
	cfg := crashCfg + `
retention:
  max_days: 30
report:
  breakdowns: [{name: ids, by: [id], stats: [count, "rate(exists(pad))"], capacity: 100}]
`
	// Compaction at the fastest level, so that it finishes within a round.
	cfg = strings.Replace(cfg, "segments:\n", "segments:\n  compact_level: fastest\n", 1)
	now := time.Now()
	when := func(r *rand.Rand, round int) time.Time {
		switch k := r.Intn(10); {
		case k == 0:
			return now.AddDate(0, 0, -40-round%3)
		case k < 5:
			return now
		default:
			return now.AddDate(0, 0, -1-round%5)
		}
	}
	expendable := func(day string) bool {
		d, err := time.Parse(time.DateOnly, day)
		return err == nil && now.Sub(d) > 30*24*time.Hour
	}
	// With versitygw, the daemon ships finished days (and keeps the local
	// copies, which the check reads), so the shipper's points are armed too.
	if vgw := e2e.LookVersitygw(); vgw != "" {
		s3 := &e2e.S3Server{Bin: vgw, Dir: t.TempDir(), Addr: e2e.FreeAddr(t)}
		s3.Start(t)
		t.Cleanup(s3.Stop)
		c, err := minio.New(s3.Addr, &minio.Options{Creds: credentials.NewStaticV4(e2e.S3Key, e2e.S3Secret, "")})
		if err == nil {
			err = c.MakeBucket(context.Background(), "points", minio.MakeBucketOptions{})
		}
		if err != nil {
			t.Fatal(err)
		}
		cfg += fmt.Sprintf("storage:\n  endpoint: %s\n  bucket: points\n  access_key: %s\n  secret_key: %s\n  delete_after: -1s\n  interval: 200ms\n", s3.Addr, e2e.S3Key, e2e.S3Secret)
	} else if testenv.Required() {
		testenv.Missing(t, "versitygw (the shipper's points are reached only with it)", "go install github.com/versity/versitygw/cmd/versitygw@v1.8.0")
	} else {
		t.Log("versitygw not installed: the shipper's points are not reached (.ci/run installs it)")
	}
	// Over both sweeps of every point, each must be crashed at or at least
	// reached in some round, or be listed in crashUnreachable: a point that
	// moved or stopped being reached fails the test instead of passing
	// unnoticed.
	var mu sync.Mutex
	everHit, everReached, swept := map[string]bool{}, map[string]bool{}, 0
	t.Cleanup(func() {
		if *crashPoints != "all" || swept < 2 {
			return
		}
		for _, p := range points {
			n := p.Name
			why, listed := crashUnreachable[n]
			switch {
			case !everHit[n] && !everReached[n] && !listed && !crashSometimes[n]:
				t.Errorf("%s: no round of either sweep reached it; the durable path moved, or it belongs in crashUnreachable with its reason", n)
			case listed && (everHit[n] || everReached[n]):
				t.Logf("%s: reached, though crashUnreachable says %q; take it off the list", n, why)
			}
		}
		all := map[string]bool{}
		for _, p := range points {
			all[p.Name] = true
		}
		for n := range crashSometimes {
			if !all[n] {
				t.Errorf("crashSometimes lists %s, which is no failpoint of %v", n, durablePackages)
			}
		}
		for n := range crashUnreachable {
			if !all[n] {
				t.Errorf("crashUnreachable lists %s, which is no failpoint of %v", n, durablePackages)
			}
		}
	})
	for _, mode := range []string{"kill", "powercut"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel() // most of a round is waiting: the two sweeps share the cores well
			dir := t.TempDir()
			var fs *powercut.FS
			if mode == "powercut" {
				fs, dir = mountPowerCut(t)
			}
			hit, reached := map[string]bool{}, map[string]bool{}
			rng := rand.New(rand.NewSource(seed))
			// Round 0 is a warm-up without a point, so that the first
			// armed round has days to seal, compact and delete.
			crashRounds(t, crashRun{rounds: len(names) + 1, producers: 3, dir: dir, cfg: cfg, when: when, expendable: expendable,
				env: func(round int) []string {
					if round == 0 {
						return []string{"INGESTD_FAILPOINT_TRACE=1"}
					}
					return []string{"INGESTD_FAILPOINT=" + names[round-1], "INGESTD_FAILPOINT_TRACE=1"}
				},
				crash: func(d *e2e.Daemon, round int) {
					// The next start catches up last month's report again, so
					// the report's points are reached in every round.
					defer os.Remove(filepath.Join(dir, "reports", report.MarkerName))
					if round == 0 {
						randomPause()
						d.Kill()
						return
					}
					armed := names[round-1]
					select {
					case <-d.Done:
					case <-time.After(5 * time.Second):
						// Not reached under load: try a graceful stop.
						d.Cmd.Process.Signal(syscall.SIGTERM)
						select {
						case <-d.Done:
						case <-time.After(30 * time.Second):
							d.Kill()
						}
					}
					log := d.Log.String()
					for _, m := range crashedRe.FindAllStringSubmatch(log, -1) {
						hit[m[1]] = true
					}
					if !hit[armed] && testing.Verbose() && *crashPoints != "all" {
						t.Logf("%s not reached; the daemon's log:\n%s", armed, log)
					}
					for _, m := range reachedRe.FindAllStringSubmatch(log, -1) {
						reached[m[1]] = true
					}
					if fs != nil {
						if _, err := fs.Cut(powercut.CutOptions{Torn: rng.Intn(2) == 0, Rand: rng}); err != nil {
							t.Fatal(err)
						}
					}

				}})
			var missed []string
			for _, n := range names {
				if !hit[n] {
					missed = append(missed, n)
				}
			}
			var seen []string
			for _, n := range missed {
				if reached[n] {
					seen = append(seen, n)
				}
			}
			t.Logf("%s: crashed at %d of %d armed points; not reached while armed: %v (of them reached in other rounds: %v)", mode, len(hit), len(names), missed, seen)
			mu.Lock()
			defer mu.Unlock()
			for n := range hit {
				everHit[n] = true
			}
			for n := range reached {
				everReached[n] = true
			}
			swept++
		})
	}
}
