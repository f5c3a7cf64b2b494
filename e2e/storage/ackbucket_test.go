package storage

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/ingestd/ingestd/internal/e2e"
	"github.com/ingestd/ingestd/internal/faultproxy"
	"github.com/ingestd/ingestd/segment"
)

// keyed is one request sent with an Idempotency-Key, and what came of it.
type keyed struct {
	key   string
	body  []byte
	lines []string
	acked bool
}

func newKeyed(name string, n int, ts string) *keyed {
	k := &keyed{key: name}
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		l := fmt.Sprintf(`{"ts":"%s","req":"%s","i":%d}`, ts, name, i)
		k.lines = append(k.lines, l)
		b.WriteString(l + "\n")
	}
	k.body = b.Bytes()
	return k
}

// countExactlyOnce fails unless every acknowledged request's lines are in
// lines exactly once and no line is there twice.
func countExactlyOnce(t *testing.T, reqs []*keyed, lines []string) {
	t.Helper()
	n := map[string]int{}
	for _, l := range lines {
		n[l]++
	}
	for l, c := range n {
		if c > 1 {
			t.Errorf("stored %d times: %s", c, l)
		}
	}
	acked := 0
	for _, r := range reqs {
		if !r.acked {
			continue
		}
		acked++
		for _, l := range r.lines {
			if n[l] != 1 {
				t.Errorf("acknowledged request %s: line stored %d times: %s", r.key, n[l], l)
				break
			}
		}
	}
	if acked == 0 {
		t.Fatal("nothing was acknowledged; the test proved nothing")
	}
}

// quickDays starts an S3 server with bucket and returns a client, the
// storage section (continuous shipping every 100 ms) and a daemon config
// for node whose past days seal, compact and ship within a second.
func quickDays(t *testing.T, bucket, node string) (*minio.Client, string, string) {
	s3, c := startS3(t, bucket)
	t.Cleanup(s3.Stop)
	storage := fmt.Sprintf("storage:\n  endpoint: %s\n  bucket: %s\n  access_key: %s\n  secret_key: %s\n  interval: 200ms\n  tail_interval: 100ms\n",
		s3.Addr, bucket, e2e.S3Key, e2e.S3Secret)
	yaml := "node_id: " + node + "\nsegments:\n  block_age: 50ms\n  seal_grace: 0s\n  seal_idle: 200ms\n  compact_level: fastest\nreport:\n  schedule: \"off\"\n" + storage
	return c, storage, yaml
}

// TestAckBucketThroughFaults runs storage.ack: bucket through a fault proxy
// in front of the S3 server. PUTs slower than usual but within ack_timeout
// are waited for; a bucket that fails or drops every PUT turns writes into
// 503s with Retry-After (first after ack_timeout, then at once while it
// lags) and /readyz into bucket_unavailable; when it answers again, a retry
// with the same key gets the first answer without a second copy. Then the
// machine is lost: the data dir is deleted, restored from the bucket and
// served, and every acknowledged record is there exactly once.
func TestAckBucketThroughFaults(t *testing.T) {
	t.Parallel()
	s3, c := startS3(t, "faults")
	defer s3.Stop()
	proxy, err := faultproxy.Start("127.0.0.1:0", s3.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	storage := fmt.Sprintf("storage:\n  endpoint: %s\n  bucket: faults\n  access_key: %s\n  secret_key: %s\n  interval: 200ms\n",
		proxy.Addr, e2e.S3Key, e2e.S3Secret)
	yaml := "node_id: nf\nhttp:\n  retry_after: 2s\n" + storage + "  ack: bucket\n  ack_timeout: 1s\n"
	dir := filepath.Join(t.TempDir(), "data")
	d := e2e.Start(t, dir, yaml)
	ts := time.Now().UTC().Format(time.RFC3339Nano)
	var reqs []*keyed
	send := func(k *keyed) e2e.Reply {
		t.Helper()
		r := d.Post(t, "/v1/ingest", k.body, map[string]string{"Idempotency-Key": k.key})
		if r.Code == 200 {
			if want := fmt.Sprintf(`{"accepted":%d}`, len(k.lines)); r.Body != want {
				t.Fatalf("%s: 200 %s, want %s", k.key, r.Body, want)
			}
			k.acked = true
		}
		return r
	}
	for i := 0; i < 5; i++ {
		k := newKeyed(fmt.Sprintf("ok-%d", i), 20, ts)
		reqs = append(reqs, k)
		if r := send(k); r.Code != 200 {
			t.Fatalf("healthy bucket: %d %s", r.Code, r.Body)
		}
	}
	// Slow PUTs within ack_timeout: still 200, after the delay.
	proxy.Set(faultproxy.Faults{Delay: 300 * time.Millisecond})
	k := newKeyed("slow", 20, ts)
	reqs = append(reqs, k)
	t0 := time.Now()
	if r := send(k); r.Code != 200 {
		t.Fatalf("slow bucket: %d %s", r.Code, r.Body)
	}
	if took := time.Since(t0); took < 300*time.Millisecond {
		t.Fatalf("answered in %v, before the PUT (delayed 300ms) could be confirmed", took)
	}
	for _, f := range []faultproxy.Faults{{Fail: true}, {Drop: true}} {
		proxy.Set(f)
		first := newKeyed(fmt.Sprintf("outage-%v-first", f.Fail), 20, ts)
		reqs = append(reqs, first)
		r := send(first)
		if r.Code != 503 || r.Hdr.Get("Retry-After") != "2" || !strings.Contains(r.Body, "ship when the bucket answers") {
			t.Fatalf("bucket failing (%+v): %d Retry-After %q %s", f, r.Code, r.Hdr.Get("Retry-After"), r.Body)
		}
		// Now the bucket lags: refused before the body is stored.
		refused := newKeyed(fmt.Sprintf("outage-%v-refused", f.Fail), 20, ts)
		reqs = append(reqs, refused)
		r = send(refused)
		if r.Code != 503 || !strings.Contains(r.Body, "nothing of this request was stored") {
			t.Fatalf("bucket lagging (%+v): %d %s", f, r.Code, r.Body)
		}
		if g := d.Get(t, "/readyz", ""); g.Code != 503 || !strings.Contains(g.Body, `"status":"bucket_unavailable"`) {
			t.Fatalf("/readyz while the bucket fails: %d %s", g.Code, g.Body)
		}
		// The same key again, still failing: 503 again, no second copy.
		if r := send(first); r.Code != 503 {
			t.Fatalf("retry during the outage: %d %s", r.Code, r.Body)
		}
		proxy.Set(faultproxy.Faults{})
		e2e.WaitFor(t, "the bucket to catch up", func() bool { return d.Get(t, "/readyz", "").Code == 200 })
		for _, k := range []*keyed{first, refused} {
			if r := send(k); r.Code != 200 {
				t.Fatalf("retry of %s after the outage: %d %s", k.key, r.Code, r.Body)
			}
		}
	}
	m := e2e.Scrape(t, d)
	if m["ingestd_ship_ack_timeouts_total"] < 2 || m["ingestd_ship_tail_errors_total"] < 1 {
		t.Errorf("metrics do not show the outage: ack timeouts %v, PUT errors %v", m["ingestd_ship_ack_timeouts_total"], m["ingestd_ship_tail_errors_total"])
	}
	// The machine is lost.
	d.Kill()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	cli := filepath.Join(t.TempDir(), "cli.yaml")
	os.WriteFile(cli, []byte(strings.Replace(storage, proxy.Addr, s3.Addr, 1)), 0o600)
	if out, code := e2e.CLI(t, "restore", "--config", cli, "--source", "s3://faults", "--node", "nf", "--data-dir", dir, "--force"); code != 0 {
		t.Fatalf("restore: %d\n%s", code, out)
	}
	d = e2e.Start(t, dir, yaml)
	// A retried key is still answered from the journal that travelled.
	if r := send(reqs[0]); r.Code != 200 {
		t.Fatalf("retry of %s on the restored node: %d %s", reqs[0].key, r.Code, r.Body)
	}
	d.Stop()
	countExactlyOnce(t, reqs, e2e.BucketAndLocal(t, c, "faults", dir))
}

// TestPruneAndRestoreFromSegmentsOnly ships a past day, so that every WAL
// object is superseded by the compacted day's object and pruned (after the
// key journal is put), also when the daemon is killed at each pruning step
// and started again. Then the disk is lost: restore finds no WAL entry,
// goes on above the highest sequence in the bucket, and brings the key
// journal back, so a retried key is answered, not stored twice.
func TestPruneAndRestoreFromSegmentsOnly(t *testing.T) {
	t.Parallel()
	c, storage, yaml := quickDays(t, "prune", "np")
	dir := filepath.Join(t.TempDir(), "data")
	walObjects := func() (n int, keys bool) {
		for o := range c.ListObjects(context.Background(), "prune", minio.ListObjectsOptions{Prefix: "wal/np/", Recursive: true}) {
			if strings.HasSuffix(o.Key, ".walo") {
				n++
			}
			keys = keys || strings.HasSuffix(o.Key, "/keys")
		}
		return n, keys
	}
	// shipped reports whether a segment object of day (YYYY-MM-DD) is in
	// the bucket.
	shipped := func(day string) bool {
		for o := range c.ListObjects(context.Background(), "prune", minio.ListObjectsOptions{Prefix: "dt=" + day + "/", Recursive: true}) {
			if strings.HasSuffix(o.Key, segment.SuffixSealed) {
				return true
			}
		}
		return false
	}
	var reqs []*keyed
	for i, point := range []string{"ship.Tail.Prune.keys", "ship.Tail.Prune.remove", ""} {
		// Each pass writes a day of its own, two days back and more: it
		// finishes, compacts and ships at once, and its WAL objects go.
		day := time.Now().UTC().AddDate(0, 0, -2-i).Format("2006-01-02") + "T12:00:00Z"
		var env []string
		if point != "" {
			env = []string{"INGESTD_FAILPOINT=" + point}
		}
		d, err := e2e.Launch(t, dir, yaml, env)
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 3; j++ {
			k := newKeyed(fmt.Sprintf("p%d-%d", i, j), 30, day)
			reqs = append(reqs, k)
			if r := d.Post(t, "/v1/ingest", k.body, map[string]string{"Idempotency-Key": k.key}); r.Code != 200 {
				t.Fatalf("%d %s", r.Code, r.Body)
			}
			k.acked = true
		}
		if point != "" {
			select {
			case <-d.Done:
			case <-time.After(60 * time.Second):
				t.Fatalf("%s was never reached\n%s", point, d.Log)
			}
			if !strings.Contains(d.Log.String(), "crashing at "+point) {
				t.Fatalf("the daemon died, not at %s\n%s", point, d.Log)
			}
			d, err = e2e.Launch(t, dir, yaml, nil)
			if err != nil {
				t.Fatal(err)
			}
		}
		// The pass's day shipped and, after it, its WAL objects pruned: a
		// wait on the pruning alone passed before the pass's WAL objects
		// were even put (CI saw the restore find entries 7..9).
		e2e.WaitFor(t, "the day shipped and its WAL objects pruned", func() bool {
			n, keys := walObjects()
			return shipped(day[:10]) && n == 0 && keys
		})
		d.Stop()
	}
	os.RemoveAll(dir)
	cli := filepath.Join(t.TempDir(), "cli.yaml")
	os.WriteFile(cli, []byte(storage), 0o600)
	out, code := e2e.CLI(t, "restore", "--config", cli, "--source", "s3://prune", "--node", "np", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "no WAL entries") {
		t.Fatalf("restore (the node stopped cleanly, so no --force): %d\n%s", code, out)
	}
	d := e2e.Start(t, dir, yaml)
	if r := d.Post(t, "/v1/ingest", reqs[0].body, map[string]string{"Idempotency-Key": reqs[0].key}); r.Code != 200 || r.Body != `{"accepted":30}` {
		t.Fatalf("retried key after restore: %d %s", r.Code, r.Body)
	}
	k := newKeyed("after-restore", 30, time.Now().UTC().Format(time.RFC3339Nano))
	reqs = append(reqs, k)
	if r := d.Post(t, "/v1/ingest", k.body, map[string]string{"Idempotency-Key": k.key}); r.Code != 200 {
		t.Fatalf("%d %s", r.Code, r.Body)
	}
	k.acked = true
	d.Stop()
	countExactlyOnce(t, reqs, e2e.BucketAndLocal(t, c, "prune", dir))
	// The new writes went on above every sequence in the bucket: no file
	// name of this node repeats one already there.
	names := map[string]int{}
	for o := range c.ListObjects(context.Background(), "prune", minio.ListObjectsOptions{Prefix: "dt=", Recursive: true}) {
		names[filepath.Base(o.Key)]++
	}
	for n, c := range names {
		if c > 1 {
			t.Errorf("object name %s in %d days", n, c)
		}
	}
}

// TestBucketReadsCountTheTail: a read over the bucket counts today's
// records from the WAL objects within the tail interval, and a request's
// share of a day already shipped once only: `cat --source` gives every
// acknowledged line exactly once, while the daemon runs and after it is
// killed, and `query --source` counts them.
func TestBucketReadsCountTheTail(t *testing.T) {
	t.Parallel()
	c, storage, yaml := quickDays(t, "tailread", "nt")
	d := e2e.Start(t, t.TempDir(), yaml)
	past := time.Now().UTC().AddDate(0, 0, -3).Format("2006-01-02") + "T08:00:00Z"
	want := map[string]bool{}
	for i := 0; i < 20; i++ {
		// Each request holds a past day's line and today's: the past day
		// ships as a segment object, today stays in WAL objects.
		a := fmt.Sprintf(`{"ts":"%s","r":%d,"when":"past"}`, past, i)
		b := fmt.Sprintf(`{"ts":"%s","r":%d,"when":"today"}`, time.Now().UTC().Format(time.RFC3339Nano), i)
		want[a], want[b] = true, true
		if r := d.Post(t, "/v1/ingest", []byte(a+"\n"+b+"\n"), nil); r.Code != 200 {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
	}
	cli := filepath.Join(t.TempDir(), "cli.yaml")
	os.WriteFile(cli, []byte(storage), 0o600)
	read := func() map[string]int {
		out, code := e2e.CLI(t, "cat", "--config", cli, "--source", "s3://tailread")
		if code != 0 {
			t.Fatalf("cat --source: %d\n%s", code, out)
		}
		got := map[string]int{}
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if l != "" {
				got[l]++
			}
		}
		return got
	}
	same := func(got map[string]int) bool {
		if len(got) != len(want) {
			return false
		}
		for l, n := range got {
			if n != 1 || !want[l] {
				return false
			}
		}
		return true
	}
	e2e.WaitFor(t, "the past day shipped and today in WAL objects", func() bool {
		m := e2e.Scrape(t, d)
		return m["ingestd_ship_uploaded_files"] >= 1 && m["ingestd_ship_tail_lag_seconds"] == 0
	})
	if got := read(); !same(got) {
		t.Fatalf("cat --source while serving: %d distinct lines, want %d each once: %v", len(got), len(want), got)
	}
	out, code := e2e.CLI(t, "query", "--config", cli, "--source", "s3://tailread", "--from", past[:10], "--to", time.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02"), "--stats", "count")
	if code != 0 || !strings.Contains(out, fmt.Sprint(len(want))) {
		t.Fatalf("query --source count: %d\n%s", code, out)
	}
	d.Kill()
	if got := read(); !same(got) {
		t.Fatalf("cat --source after kill -9: %d distinct lines, want %d each once", len(got), len(want))
	}
	// A compacted day beside a part it replaced (a crash between the
	// compacted object's upload and the removal of the replaced one):
	// reads and a restore still count each line once.
	ctx := context.Background()
	var compacted string
	for o := range c.ListObjects(ctx, "tailread", minio.ListObjectsOptions{Prefix: "dt=", Recursive: true}) {
		if strings.Contains(o.Key, "-compact-") {
			compacted = o.Key
		}
	}
	cb := e2e.GetObject(t, c, "tailread", compacted)
	tmp := filepath.Join(t.TempDir(), filepath.Base(compacted))
	os.WriteFile(tmp, cb, 0o600)
	r, err := segment.OpenFile(tmp)
	if err != nil {
		t.Fatal(err)
	}
	names, err := r.Manifest()
	r.Close()
	if err != nil || len(names) == 0 {
		t.Fatalf("manifest of %s: %v %v", compacted, names, err)
	}
	stale := filepath.Dir(compacted) + "/" + names[0]
	if _, err := c.PutObject(ctx, "tailread", stale, bytes.NewReader(cb), int64(len(cb)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := read(); !same(got) {
		t.Fatalf("cat --source beside a replaced part: %d distinct lines, want %d each once", len(got), len(want))
	}
	dir := filepath.Join(t.TempDir(), "restored")
	out, code = e2e.CLI(t, "restore", "--config", cli, "--source", "s3://tailread", "--node", "nt", "--data-dir", dir, "--force")
	if code != 0 || !strings.Contains(out, "restored 2 segment objects") {
		t.Fatalf("restore (the compacted day and the part it replaced): %d\n%s", code, out)
	}
	d = e2e.Start(t, dir, yaml)
	d.Stop()
	n := map[string]int{}
	for _, l := range e2e.BucketAndLocal(t, c, "tailread", dir) {
		n[l]++
	}
	if !same(n) {
		t.Fatalf("after restore beside a replaced part: %d distinct lines, want %d each once", len(n), len(want))
	}
	// verify --source checks the WAL objects too, and names a damaged one.
	if out, code := e2e.CLI(t, "verify", "--config", cli, "--source", "s3://tailread"); code != 0 || !strings.Contains(out, "WAL objects with 20 entries, 0 problems") {
		t.Fatalf("verify --source: %d\n%s", code, out)
	}
	var key string
	for o := range c.ListObjects(ctx, "tailread", minio.ListObjectsOptions{Prefix: "wal/nt/", Recursive: true}) {
		if strings.HasSuffix(o.Key, ".walo") {
			key = o.Key
		}
	}
	b := e2e.GetObject(t, c, "tailread", key)
	b[len(b)-3] ^= 0x40
	if _, err := c.PutObject(ctx, "tailread", key, bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if out, code := e2e.CLI(t, "verify", "--config", cli, "--source", "s3://tailread"); code != 1 || !strings.Contains(out, "PROBLEM s3://tailread/"+key) {
		t.Fatalf("verify --source with a damaged WAL object: %d\n%s", code, out)
	}
}
