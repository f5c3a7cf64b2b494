package crash

import (
	"context"
	"flag"
	"fmt"
	"maps"
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

// crashPrep are points reached only on what a crash at another point left
// behind: the round armed at one of them follows rounds armed at its
// prerequisites, in order ("" is a round of load that ends in a kill).
var crashPrep = map[string][]string{
	"report.cleanStale.rename":      {"report.publish.rename.2"},       // the last report set aside, the new one not yet in place
	"report.cleanStale.removeall.2": {"report.publish.syncdir"},        // a run's temporary folder
	"segment.RecoverDay.remove":     {"segment.Compact.renamedurable"}, // a compaction's output not yet renamed
	"segment.RecoverDay.remove.2":   {"segment.Compact.remove.2"},      // a compacted file beside the parts it replaced
	"segment.RecoverDay.syncdir":    {"segment.Compact.remove.2"},      // as segment.RecoverDay.remove.2
	"segment.Seal.remove":           {"segment.Create.syncdir"},        // an open part without a block
	"segment.OpenAppend.truncate":   {"segment.Sync.sync"},             // a block written, not synced: the torn cut after it tears it
	"wal.Open.truncate":             {"wal.fdatasync"},                 // an entry written, not synced: the torn cut after it tears it
	// A day moved to retention's trash, not yet deleted. Retention deletes
	// at start a day that is old and sealed: two rounds of load write an
	// old day and seal it (a day is kept open across a crash until idle).
	"ingest.applyRetention.removeall": {"", "", "ingest.applyRetention.removeall.2"},
}

// crashStopAt are points on the paths a graceful stop takes: the round armed
// at one stops itself (INGESTD_FAILPOINT_STOP) at the given step.
var crashStopAt = map[string]string{
	"segment.Compact.remove":     "segment.writeCompacted.openfile", // the compaction is cancelled
	"report.RunMonth.remove-tmp": "report.RunMonth.mkdirdurable",    // the report child stops mid-run
}

// crashPowerCutOnly are points only a power cut reaches: a kill never tears
// a write. The kill sweep leaves them out.
var crashPowerCutOnly = map[string]bool{"segment.OpenAppend.truncate": true, "wal.Open.truncate": true}

// crashKillOnly are points whose prerequisite a power cut takes back (a
// rename or a new name whose folder was not yet synced): the power-cut
// sweep leaves them out.
var crashKillOnly = map[string]bool{
	"report.cleanStale.rename":      true,
	"report.cleanStale.removeall.2": true,
	"segment.RecoverDay.remove":     true,
	"segment.Seal.remove":           true,
}

// crashWait is how long a round armed at point waits for the crash before
// it stops the daemon. The report's points are reached in a child process
// that runs at nice 19 at every start, over last month, and the partials'
// once a day is compacted: they get longer (20 s).
func crashWait(point string) time.Duration {
	if strings.HasPrefix(point, "report.") || strings.HasPrefix(point, "ship.uploadPartial.") {
		return 20 * time.Second
	}
	return 5 * time.Second
}

// crashedAt waits up to d for the daemon to die or to log that it (or its
// child) crashed at point.
func crashedAt(dm *e2e.Daemon, point string, d time.Duration) {
	line := "failpoint: crashing at " + point
	for end := time.Now().Add(d); time.Now().Before(end); {
		select {
		case <-dm.Done:
			return
		case <-time.After(100 * time.Millisecond):
		}
		if strings.Contains(dm.Log.String(), line) {
			return
		}
	}
}

// armedRound is one round of a sweep: the point it is armed at, the step at
// which it stops itself, and whether the power cut after it must be torn.
type armedRound struct {
	point, stop string
	torn        bool
}

// sweepPlan gives a mode's rounds for the points, each after its
// prerequisite's round.
func sweepPlan(mode string, points []string) []armedRound {
	var plan []armedRound
	for _, n := range points {
		if mode == "kill" && crashPowerCutOnly[n] || mode == "powercut" && crashKillOnly[n] {
			continue
		}
		for _, pre := range crashPrep[n] {
			plan = append(plan, armedRound{point: pre, torn: crashPowerCutOnly[n]})
		}
		plan = append(plan, armedRound{point: n, stop: crashStopAt[n]})
	}
	return plan
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
	// Retention keeps 35 days; some records go 40 days back, so retention
	// deletes days while the daemon runs. The past day changes every
	// round, so the previous round's day seals, compacts and gets its
	// partial while the armed round runs. Some records are in last month,
	// whatever today's date, so that its report (caught up at every start)
	// has data to write.
	// A breakdown, so that the report writes its files at the points too.
	cfg := crashCfg + `
retention:
  max_days: 35
report:
  breakdowns: [{name: ids, by: [id], stats: [count, "rate(exists(pad))"], capacity: 100}]
`
	// Compaction at the fastest level, so that it finishes within a round.
	cfg = strings.Replace(cfg, "segments:\n", "segments:\n  compact_level: fastest\n", 1)
	now := time.Now().UTC()
	lastMonth := time.Date(now.Year(), now.Month(), 1, 12, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
	when := func(r *rand.Rand, round int) time.Time {
		switch k := r.Intn(10); {
		case k == 0:
			return now.AddDate(0, 0, -40-round%3)
		case k == 1 && r.Intn(20) == 0: // a trickle: the report stays quick
			return lastMonth
		case k < 5:
			return now
		default:
			d := now.AddDate(0, 0, -1-round%5)
			if d.Month() != now.Month() && r.Intn(10) != 0 {
				// On the first days of a month the past days are in
				// last month, whose report runs at every start: it gets
				// a tenth of their share, so that it stays quick.
				return now
			}
			return d
		}
	}
	expendable := func(day string) bool {
		d, err := time.Parse(time.DateOnly, day)
		return err == nil && now.Sub(d) > 35*24*time.Hour
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
	// Over both sweeps, each point must be reached in some round, or be
	// listed in crashUnreachable: a point that moved or stopped being
	// reached fails the test instead of passing unnoticed. Each sweep arms
	// what it has not crashed at once more; a point reached but still not
	// crashed at is logged: the report's and the WAL release's depend on
	// how fast the machine runs them within a round (in 1 CI run of 4 a
	// few were missed twice in both sweeps).
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
			case !everHit[n] && !listed && everReached[n]:
				t.Logf("%s: reached, but no armed round crashed at it (twice in each sweep)", n)
			case !everHit[n] && !listed:
				t.Errorf("%s: no round of either sweep reached it; the durable path moved, or it belongs in crashUnreachable with its reason", n)
			case listed && (everHit[n] || everReached[n]):
				t.Logf("%s: reached, though crashUnreachable says %q; take it off the list", n, why)
			}
		}
		all := map[string]bool{}
		for _, p := range points {
			all[p.Name] = true
		}
		for _, n := range slices.Concat(slices.Collect(maps.Keys(crashUnreachable)), slices.Collect(maps.Keys(crashKillOnly)), slices.Collect(maps.Keys(crashPowerCutOnly))) {
			if !all[n] {
				t.Errorf("a list of crash points names %s, which is no failpoint of %v", n, durablePackages)
			}
		}
		for n, pre := range crashPrep {
			for _, v := range append([]string{n}, pre...) {
				if !all[v] && v != "" {
					t.Errorf("crashPrep names %s, which is no failpoint of %v", v, durablePackages)
				}
			}
		}
		for n, v := range crashStopAt {
			if !all[n] || !all[v] {
				t.Errorf("crashStopAt: %s → %s: a name that is no failpoint of %v", n, v, durablePackages)
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
			plan, retried := sweepPlan(mode, names), false
			// Round 0 is a warm-up without a point, so that the first
			// armed round has days to seal, compact and delete. After the
			// plan, the points not crashed at are armed once more.
			crashRounds(t, crashRun{producers: 3, dir: dir, cfg: cfg, when: when, expendable: expendable,
				more: func(round int) bool {
					if round == len(plan)+1 && !retried {
						retried = true
						// What neither sweep has crashed at yet.
						var again []string
						mu.Lock()
						for _, n := range names {
							if !hit[n] && !everHit[n] && !(mode == "kill" && crashPowerCutOnly[n]) && !(mode == "powercut" && crashKillOnly[n]) {
								again = append(again, n)
							}
						}
						mu.Unlock()
						if len(again) > 0 {
							t.Logf("%s: arming again %v", mode, again)
						}
						plan = append(plan, sweepPlan(mode, again)...)
					}
					return round <= len(plan)
				},
				env: func(round int) []string {
					if round == 0 {
						return []string{"INGESTD_FAILPOINT_TRACE=1"}
					}
					a := plan[round-1]
					if a.point == "" {
						return []string{"INGESTD_FAILPOINT_TRACE=1"}
					}
					env := []string{"INGESTD_FAILPOINT=" + a.point, "INGESTD_FAILPOINT_TRACE=1"}
					if a.stop != "" {
						env = append(env, "INGESTD_FAILPOINT_STOP="+a.stop)
					}
					return env
				},
				crash: func(d *e2e.Daemon, round int) {
					// The next start catches up last month's report again, so
					// the report's points are reached in every round.
					defer os.Remove(filepath.Join(dir, "reports", report.MarkerName))
					if round == 0 || plan[round-1].point == "" {
						if round == 0 {
							randomPause()
						} else {
							time.Sleep(1500 * time.Millisecond) // long enough for idle days to seal
						}
						d.Kill()
						if fs != nil {
							if _, err := fs.Cut(powercut.CutOptions{Torn: rng.Intn(2) == 0, Rand: rng}); err != nil {
								t.Fatal(err)
							}
						}
						return
					}
					a := plan[round-1]
					crashedAt(d, a.point, crashWait(a.point))
					select {
					case <-d.Done:
					default:
						// Not reached under load, or reached in a child: a
						// graceful stop (which may reach it too).
						d.Cmd.Process.Signal(syscall.SIGTERM)
						select {
						case <-d.Done:
						case <-time.After(30 * time.Second):
							d.Kill()
						}
					}
					log := d.Log.String()
					mu.Lock()
					for _, m := range crashedRe.FindAllStringSubmatch(log, -1) {
						hit[m[1]], everHit[m[1]] = true, true
					}
					mu.Unlock()
					if !hit[a.point] && testing.Verbose() && *crashPoints != "all" {
						t.Logf("%s not reached; the daemon's log:\n%s", a.point, log)
					}
					for _, m := range reachedRe.FindAllStringSubmatch(log, -1) {
						reached[m[1]] = true
					}
					if fs != nil {
						if _, err := fs.Cut(powercut.CutOptions{Torn: rng.Intn(2) == 0, TearLast: a.torn, Rand: rng}); err != nil {
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
			t.Logf("%s: crashed at %d of %d armed points in %d rounds; not reached while armed: %v (of them reached in other rounds: %v)", mode, len(hit), len(names), len(plan)+1, missed, seen)
			mu.Lock()
			defer mu.Unlock()
			for n := range reached {
				everReached[n] = true
			}
			swept++
		})
	}
}
