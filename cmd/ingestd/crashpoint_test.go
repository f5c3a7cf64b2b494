package main

import (
	"flag"
	"math/rand"
	"os"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/failpoint/scan"
	"github.com/ingestd/ingestd/internal/powercut"
)

var crashPoints = flag.String("crash.points", os.Getenv("INGESTD_CRASH_POINTS"),
	`failpoints TestCrashPoints arms: "all", or a comma-separated list; default a random sample of 8 (INGESTD_CRASH_POINTS sets the default; CI sets all)`)

// durablePackages are the packages whose failpoints the sweep arms (the
// scan test in internal/failpoint/scan holds each durable call to a point).
var durablePackages = []string{"./ingest/...", "./segment/...", "./report/...", "./internal/fsutil"}

var reachedRe = regexp.MustCompile(`failpoint: reached (\S+)`)

// TestCrashPoints crashes the daemon at named failpoints in turn, found in
// the source by internal/failpoint/scan, under producer load with
// Idempotency-Keys, restarting it on what is left, first with kill -9
// alone, then with a power cut after each crash. A point that the load
// does not reach within a few seconds is tried during a graceful stop.
// Every acknowledged record must be stored exactly once at the end (see
// crashRounds).
func TestCrashPoints(t *testing.T) {
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
	// Retention keeps 30 days; some records go 40 days back, so retention
	// deletes days while the daemon runs. Past days change every other
	// round, so earlier ones seal, compact and get partials.
	cfg := crashCfg + `
retention:
  max_days: 30
`
	now := time.Now()
	when := func(r *rand.Rand, round int) time.Time {
		switch k := r.Intn(10); {
		case k == 0:
			return now.AddDate(0, 0, -40-round%3)
		case k < 5:
			return now
		default:
			return now.AddDate(0, 0, -1-(round/2)%5)
		}
	}
	expendable := func(day string) bool {
		d, err := time.Parse(time.DateOnly, day)
		return err == nil && now.Sub(d) > 30*24*time.Hour
	}
	for _, mode := range []string{"kill", "powercut"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			var fs *powercut.FS
			if mode == "powercut" {
				fs, dir = mountPowerCut(t)
			}
			hit, reached := map[string]bool{}, map[string]bool{}
			rng := rand.New(rand.NewSource(seed))
			crashRounds(t, crashRun{rounds: len(names), producers: 3, dir: dir, cfg: cfg, when: when, expendable: expendable,
				env: func(round int) []string {
					return []string{"INGESTD_FAILPOINT=" + names[round], "INGESTD_FAILPOINT_TRACE=1"}
				},
				crash: func(d *daemon, round int) {
					select {
					case <-d.done:
					case <-time.After(4 * time.Second):
						// Not reached under load: try a graceful stop.
						d.cmd.Process.Signal(syscall.SIGTERM)
						select {
						case <-d.done:
						case <-time.After(30 * time.Second):
							d.kill()
						}
					}
					log := d.log.String()
					if strings.Contains(log, "failpoint: crashing at "+names[round]+"\n") {
						hit[names[round]] = true
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
			t.Logf("%s: crashed at %d of %d armed points; never reached by this workload: %v", mode, len(hit), len(names), missed)
		})
	}
}
