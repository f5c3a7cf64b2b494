package crash

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/e2e"
)

// request outcome as the producer saw it
const (
	unanswered = iota // connection died: stored whole or not at all
	acked             // 200: every record stored exactly once
	refused           // a definite non-2xx: nothing stored
)

// TestCrashKill9 runs concurrent producers against the daemon, kills it with
// SIGKILL at random instants over several rounds (restarting each time), and
// then checks every record (see crashRounds). -crash.long runs many more
// rounds.
func TestCrashKill9(t *testing.T) {
	t.Parallel() // its own data dir; overlaps the failpoint sweeps, which mostly wait
	rounds := 5
	if *e2e.LongCrash {
		rounds = 40
	}
	if testing.Short() {
		rounds = 2
	}
	crashRounds(t, crashRun{rounds: rounds, producers: 4, dir: t.TempDir(), cfg: crashCfg,
		crash: func(d *e2e.Daemon, round int) {
			randomPause()
			d.Kill()
		}})
}

// crashCfg has small blocks, quick sealing of past days and small WAL
// files, so that crashes land in every phase: WAL commit, block write,
// seal, compaction, WAL rotation and release.
const crashCfg = `
segments:
  block_size: 16KiB
  block_age: 50ms
  seal_grace: 0s
  seal_idle: 200ms
wal:
  file_size: 1MiB
`

// randomPause lets a round's load run for 0.2 to 1.4 s.
func randomPause() { time.Sleep(time.Duration(200+rand.Intn(1200)) * time.Millisecond) }

// crashRun describes rounds of load that each end in a crash.
type crashRun struct {
	rounds, producers int
	dir, cfg          string
	// crash ends a round, called once its load has started: it must leave
	// the daemon dead (kill -9, and maybe a power cut of the filesystem
	// under dir). A daemon that died while starting is passed too.
	crash func(d *e2e.Daemon, round int)
	// env, if set, gives the daemon of a round extra environment (an armed
	// failpoint); such a daemon may die before it is ready.
	env func(round int) []string
	// when, if set, picks a record's time; the default spreads records
	// over today and the three days before.
	when func(r *rand.Rand, round int) time.Time
	// expendable, if set, names days (YYYY-MM-DD) that retention may delete:
	// their records may be missing, never duplicated.
	expendable func(day string) bool
	// acks, if set, gets a value (when it has room) each time a producer
	// receives a 200, so that crash can strike right after one.
	acks chan struct{}
	// stored, if set, returns every stored record line at the end (the
	// default reads dir's segments).
	stored func() []string
	// more, if set, is asked after the last of rounds whether to run
	// another (with the round's number), so that a sweep can try again
	// what it missed.
	more func(round int) bool
	// lost, if set, is given the acknowledged requests that lost records
	// (with how many each lost) instead of failing the test: a mode whose
	// promise is a bounded loss measures it.
	lost func(s *sent, missing int)
}

// crashRounds runs concurrent producers (with Idempotency-Keys, retrying
// what a crash left unanswered) against the daemon, crashes it at random
// instants over several rounds, restarting each time, and then checks every
// record: acknowledged ones exactly once, unanswered requests whole or
// absent, refused ones absent, nothing else; and that verify passes.
func crashRounds(t *testing.T, run crashRun) {
	t.Helper()
	rounds, producers, cfg, dir := run.rounds, run.producers, run.cfg, run.dir
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	t.Logf("seed for producers: %d", seed)
	var (
		mu     sync.Mutex
		reqs   []*sent
		retry  []*sent // unanswered, to send again with the same key
		nextID atomic.Int64
	)
	var logs bytes.Buffer
	defer func() {
		if t.Failed() {
			if keep := os.Getenv("INGESTD_KEEP"); keep != "" {
				exec.Command("cp", "-a", dir, keep).Run()
			}
			t.Logf("daemon logs:\n%s\nfiles: %v", logs.String(), e2e.Files(t, dir))
		}
	}()
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: producers}}
	when := run.when
	if when == nil {
		when = func(r *rand.Rand, _ int) time.Time {
			return time.Now().Add(-time.Duration(r.Intn(4*24)) * time.Hour)
		}
	}
	ran := 0
	for round := 0; round < rounds || run.more != nil && run.more(round); round++ {
		ran++
		var env []string
		if run.env != nil {
			env = run.env(round)
		}
		d, err := e2e.Launch(t, dir, cfg, env)
		if err != nil {
			if env == nil {
				t.Fatal(err)
			}
			// The armed failpoint crashed the start: this round's crash
			// happened during recovery.
			run.crash(d, round)
			logs.WriteString(fmt.Sprintf("=== round %d (died starting)\n%s", round, d.Log.String()))
			continue
		}
		var stop atomic.Bool
		var wg sync.WaitGroup
		for p := 0; p < producers; p++ {
			wg.Add(1)
			go func(seed int64) {
				defer wg.Done()
				r := rand.New(rand.NewSource(seed))
				send := func(s *sent) bool {
					s.tries++
					path := "/v1/ingest"
					if s.skip {
						path += "?invalid=skip"
					}
					if s.bulk {
						path = "/_bulk"
					}
					req, _ := http.NewRequest("POST", d.URL+path, bytes.NewReader(s.body))
					if s.bulk {
						req.Header.Set("Content-Type", "application/x-ndjson")
					} else {
						req.Header.Set("Idempotency-Key", s.key)
					}
					resp, err := client.Do(req)
					if err != nil {
						s.status = unanswered
						return false // the daemon is gone
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode == 503 && strings.Contains(string(b), "ship when the bucket answers") {
						// storage.ack: bucket, and the bucket did not confirm
						// in time: stored here, maybe; retried with its key.
						s.status = unanswered
						return false
					}
					switch {
					case resp.StatusCode == 200 && s.bulk && strings.Contains(string(b), `"errors":false`),
						resp.StatusCode == 200 && !s.bulk && !s.skip && string(b) == fmt.Sprintf(`{"accepted":%d}`, len(s.ids)),
						resp.StatusCode == 200 && s.skip && strings.HasPrefix(string(b), fmt.Sprintf(`{"accepted":%d,"rejected":1,`, len(s.ids))):
						s.status = acked
						s.ackedAt, s.round = time.Now(), round
						if run.acks != nil {
							select {
							case run.acks <- struct{}{}:
							default:
							}
						}
					case resp.StatusCode == 200:
						t.Errorf("200 with body %s for %d records", b, len(s.ids))
					default:
						s.status = refused
					}
					return true
				}
				for !stop.Load() {
					// Retry what a kill left unanswered, with the same key.
					mu.Lock()
					var s *sent
					if len(retry) > 0 {
						s, retry = retry[0], retry[1:]
					}
					mu.Unlock()
					if s != nil {
						if !send(s) {
							mu.Lock()
							retry = append(retry, s)
							mu.Unlock()
							return
						}
						continue
					}
					id := nextID.Add(1)
					n := 1 + r.Intn(60)
					// One request in 20 has an invalid line and ?invalid=skip:
					// the rest is stored, the line goes to the rejected store.
					s = &sent{key: fmt.Sprintf("key-%d", id), skip: r.Intn(20) == 0}
					// One in 5 goes through the Elasticsearch _bulk endpoint.
					s.bulk = !s.skip && r.Intn(5) == 0
					var body bytes.Buffer
					bad := r.Intn(n)
					for j := 0; j < n; j++ {
						if s.skip && j == bad {
							body.WriteString("{\"not json\n")
						}
						rid := fmt.Sprintf("q%d-%d", id, j)
						s.ids = append(s.ids, rid)
						tm := when(r, round).UTC()
						s.days = append(s.days, tm.Format("2006-01-02"))
						ts := tm.Format(time.RFC3339Nano)
						if s.bulk {
							body.WriteString(`{"index":{"_index":"crash"}}` + "\n")
						}
						fmt.Fprintf(&body, `{"ts":"%s","id":"%s","pad":"%x"}`+"\n", ts, rid, r.Int63())
					}
					s.body = body.Bytes()
					mu.Lock()
					reqs = append(reqs, s)
					mu.Unlock()
					if !send(s) {
						if r.Intn(2) == 0 && !s.bulk { // half of them are retried later
							mu.Lock()
							retry = append(retry, s)
							mu.Unlock()
						}
						return
					}
				}
			}(rng.Int63())
		}
		run.crash(d, round)
		logs.WriteString(fmt.Sprintf("=== round %d\n%s", round, d.Log.String()))
		stop.Store(true)
		wg.Wait()
		client.CloseIdleConnections()
	}
	// A last start recovers; a graceful stop then seals everything.
	d := e2e.Start(t, dir, cfg)
	d.Stop()

	count := map[string]int{}
	stored := run.stored
	if stored == nil {
		stored = func() []string { return e2e.AllStored(t, dir) }
	}
	for _, l := range stored() {
		var v struct{ ID string }
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("stored line is not JSON: %q", l)
		}
		count[v.ID]++
	}
	var nAcked, nUnanswered, nRecords, nRetriedAcked int
	var lostReqs, lostRecs, nBulk int
	known := map[string]bool{}
	for _, s := range reqs {
		present := 0
		for _, id := range s.ids {
			known[id] = true
			if count[id] > 1 {
				t.Errorf("record %s stored %d times", id, count[id])
			}
			if count[id] > 0 {
				present++
			}
		}
		switch s.status {
		case acked:
			nAcked++
			if s.bulk {
				nBulk++
			}
			if s.tries > 1 {
				nRetriedAcked++
			}
			nRecords += len(s.ids)
			if present != len(s.ids) && run.lost != nil {
				run.lost(s, len(s.ids)-present)
			} else if present != len(s.ids) && !allExpendable(run.expendable, s, count) {
				lostReqs++
				lostRecs += len(s.ids) - present
				if lostReqs <= 5 {
					var lost []string
					for i, id := range s.ids {
						if count[id] == 0 && len(lost) < 5 {
							lost = append(lost, id+"@"+s.days[i])
						}
					}
					t.Errorf("acknowledged request lost %d of %d records, e.g. %v", len(s.ids)-present, len(s.ids), lost)
				}
			}
		case unanswered:
			nUnanswered++
			if present != 0 && present != len(s.ids) && !allExpendable(run.expendable, s, count) {
				t.Errorf("unanswered request stored partly: %d of %d (%v)", present, len(s.ids), s.ids[0])
			}
		case refused:
			if present != 0 {
				t.Errorf("refused request stored %d records", present)
			}
		}
	}
	if lostReqs > 0 {
		t.Errorf("in all, %d acknowledged requests lost %d records", lostReqs, lostRecs)
	}
	for id := range count {
		if !known[id] {
			t.Errorf("stored record %s that nobody sent", id)
		}
	}
	if nAcked == 0 {
		t.Fatal("no request was acknowledged; the test proved nothing")
	}
	t.Logf("%d rounds: %d requests acknowledged (%d records; %d of them after a retry with the same Idempotency-Key; %d through _bulk), %d unanswered, %d stored records",
		ran, nAcked, nRecords, nRetriedAcked, nBulk, nUnanswered, len(count))
	if out, code := e2e.CLI(t, "verify", "--data-dir", dir); code != 0 {
		t.Fatalf("verify after crashes: %d\n%s", code, out)
	}
}

// allExpendable reports whether every record of s that is missing was in
// a day that retention may have deleted.
func allExpendable(expendable func(string) bool, s *sent, count map[string]int) bool {
	if expendable == nil {
		return false
	}
	for i, id := range s.ids {
		if count[id] == 0 && !expendable(s.days[i]) {
			return false
		}
	}
	return true
}

type sent struct {
	key    string
	skip   bool // sent with ?invalid=skip and one invalid line, which is refused
	bulk   bool // sent to /_bulk as an Elasticsearch client would: no key, never retried
	body   []byte
	ids    []string
	days   []string
	status int
	tries  int
	// ackedAt and round: when, and in which round, the 200 came
	ackedAt time.Time
	round   int
}
