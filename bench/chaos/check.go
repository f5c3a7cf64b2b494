package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ingestd/ingestd/segment"
)

// result is what the end checks found.
type result struct {
	requests, ackedReqs, unansweredReqs, refusedReqs, retriedAcked int
	recordsAcked, recordsStored                                    int64
	lost, duplicated, unexpected, partial                          int64
	verifyNamed                                                    []string // files `ingestd verify` named before the restore
	verifyAfter                                                    int      // its exit code after the restore
	objects, objectsMismatched, localUnshipped                     int
	problems                                                       []string
}

func (r *result) problem(format string, args ...any) {
	if len(r.problems) < 20 {
		r.problems = append(r.problems, fmt.Sprintf(format, args...))
	}
}

// finish lets the shipper catch up, stops the daemon, and runs every check.
func (s *soak) finish(out string) int {
	res := &result{}
	fmt.Println("chaos: load done; waiting for the shipper, then stopping the daemon")
	if s.s3 != nil {
		s.waitShipped(2 * time.Minute)
	}
	s.dmu.Lock()
	d := s.d
	s.dmu.Unlock()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(2 * time.Minute):
		res.problem("the daemon did not stop within 2 minutes of SIGTERM")
		d.cmd.Process.Kill()
		<-d.done
	}
	if code := d.cmd.ProcessState.ExitCode(); code != 0 {
		res.problem("graceful stop exited %d", code)
	}
	s.dmu.Lock()
	s.d = nil
	s.dmu.Unlock()

	// ingestd verify must name the flipped file, and nothing else.
	vout, vcode := s.cli("verify", "--data-dir", s.data)
	for _, l := range strings.Split(vout, "\n") {
		if strings.HasPrefix(l, "PROBLEM ") {
			res.verifyNamed = append(res.verifyNamed, l)
			if s.corrupt == "" || !strings.Contains(l, s.corrupt) {
				res.problem("verify names something that was not corrupted: %s", l)
			}
		}
	}
	switch {
	case s.corrupt != "" && (vcode == 0 || len(res.verifyNamed) == 0):
		res.problem("verify did not find the flipped byte in %s (exit %d)", s.corrupt, vcode)
	case s.corrupt == "" && vcode != 0:
		res.problem("verify failed without a corrupted file (exit %d):\n%s", vcode, vout)
	}
	var mc *minio.Client
	if s.s3 != nil {
		var err error
		mc, err = minio.New(s.s3.addr, &minio.Options{Creds: credentials.NewStaticV4(s3Key, s3Secret, "")})
		if err != nil {
			res.problem("s3 client: %v", err)
		}
	}
	if s.corrupt != "" && mc != nil {
		// The operator's repair: the shipped copy replaces the damaged file.
		if err := s.restore(mc, s.corrupt); err != nil {
			res.problem("restore %s from the bucket: %v", s.corrupt, err)
		}
		if o, code := s.cli("verify", "--data-dir", s.data); code != 0 {
			res.problem("verify after restoring from the bucket: exit %d\n%s", code, o)
		}
	}
	if s.lostDisk && mc != nil {
		// Days shipped before a lost disk are only in the bucket (restore
		// brings back only the days the WAL objects touch): fetch them,
		// as an operator reading the bucket would.
		if err := s.fillFromBucket(mc); err != nil {
			res.problem("fetch the days only the bucket holds: %v", err)
		}
	}
	s.checkRecords(res)
	if mc != nil {
		s.checkBucket(mc, res)
	}
	s.report(res, out)
	if len(res.problems) > 0 || res.lost > 0 || res.duplicated > 0 || res.unexpected > 0 || res.partial > 0 {
		return 1
	}
	return 0
}

var backlogRe = regexp.MustCompile(`(?m)^ingestd_ship_backlog_files (\S+)$`)

// waitShipped waits until the shipper's backlog is empty (past days are
// sealed a few seconds after their last record, then compacted and shipped).
func (s *soak) waitShipped(limit time.Duration) {
	time.Sleep(5 * time.Second) // the last phase's day seals after seal_idle
	for t0 := time.Now(); time.Since(t0) < limit; time.Sleep(500 * time.Millisecond) {
		s.dmu.Lock()
		url := s.d.url
		s.dmu.Unlock()
		resp, err := http.Get(url + "/metrics")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if m := backlogRe.FindSubmatch(b); m != nil && string(m[1]) == "0" {
			return
		}
	}
}

func (s *soak) cli(args ...string) (string, int) {
	cmd := exec.Command(s.bin, append(args[:1:1], append([]string{"--config", s.cfgPath}, args[1:]...)...)...)
	out, err := cmd.CombinedOutput()
	if err != nil && cmd.ProcessState == nil {
		return err.Error(), -1
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// objectKey is the bucket key of a local segment file (no prefix set).
func (s *soak) objectKey(path string) string {
	rel, _ := filepath.Rel(filepath.Join(s.data, "segments"), path)
	return filepath.ToSlash(rel)
}

func (s *soak) restore(mc *minio.Client, path string) error {
	obj, err := mc.GetObject(context.Background(), bucket, s.objectKey(path), minio.GetObjectOptions{})
	if err != nil {
		return err
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

var idRe = regexp.MustCompile(`"id":"c(\d+)-(\d+)"`)

// checkRecords reads every local segment file and holds each request to
// its outcome: acknowledged ones exactly once, unanswered whole or absent,
// refused absent, nothing else.
// fillFromBucket downloads every segment object that has no local file.
func (s *soak) fillFromBucket(mc *minio.Client) error {
	for o := range mc.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Prefix: "dt=", Recursive: true}) {
		if o.Err != nil {
			return o.Err
		}
		local := filepath.Join(s.data, "segments", filepath.FromSlash(o.Key))
		if !strings.HasSuffix(o.Key, segment.SuffixSealed) {
			continue
		}
		if _, err := os.Stat(local); err == nil {
			continue
		}
		os.MkdirAll(filepath.Dir(local), 0o700)
		if err := s.restore(mc, local); err != nil {
			return err
		}
	}
	return nil
}

func (s *soak) checkRecords(res *result) {
	count := map[int64][]uint8{} // request id -> per record: times stored
	s.reqMu.Lock()
	reqs := s.reqs
	s.reqMu.Unlock()
	for _, q := range reqs {
		count[q.id] = make([]uint8, q.n)
	}
	days, err := segment.ListDays(s.data)
	if err != nil {
		res.problem("list days: %v", err)
		return
	}
	for _, d := range days {
		// A compacted file fetched from the bucket may replace parts here.
		files, err := segment.DayInputs(d.Dir)
		if err != nil {
			res.problem("%v", err)
			return
		}
		err = segment.ScanFiles(context.Background(), files, segment.ScanOptions{}, func(file string, _ segment.BlockMeta, raw []byte) error {
			for len(raw) > 0 {
				i := bytes.IndexByte(raw, '\n')
				line := raw[:i]
				raw = raw[i+1:]
				res.recordsStored++
				m := idRe.FindSubmatch(line)
				if m == nil {
					res.unexpected++
					res.problem("%s: a record nobody sent: %.80s", file, line)
					continue
				}
				q, _ := strconv.ParseInt(string(m[1]), 10, 64)
				j, _ := strconv.Atoi(string(m[2]))
				c, ok := count[q]
				if !ok || j >= len(c) {
					res.unexpected++
					res.problem("%s: record c%d-%d was never sent", file, q, j)
					continue
				}
				if c[j] < 255 {
					c[j]++
				}
			}
			return nil
		})
		if err != nil {
			res.problem("read %s: %v", d.Dir, err)
		}
	}
	for _, q := range reqs {
		res.requests++
		var present int
		for j, c := range count[q.id] {
			if c > 1 {
				res.duplicated += int64(c) - 1
				res.problem("record c%d-%d stored %d times", q.id, j, c)
			}
			if c > 0 {
				present++
			}
		}
		switch q.status {
		case acked:
			res.ackedReqs++
			res.recordsAcked += int64(q.n)
			if q.tries > 1 {
				res.retriedAcked++
			}
			if present != q.n {
				res.lost += int64(q.n - present)
				res.problem("acknowledged request %d lost %d of %d records", q.id, q.n-present, q.n)
			}
		case unanswered:
			res.unansweredReqs++
			if present != 0 && present != q.n {
				res.partial++
				res.problem("unanswered request %d stored %d of %d records", q.id, present, q.n)
			}
		default:
			res.refusedReqs++
			if present != 0 {
				res.unexpected += int64(present)
				res.problem("refused request %d stored %d records", q.id, present)
			}
		}
	}
}

// checkBucket: every shipped object equals the local file of its name, and
// every sealed local file of a past day has been shipped.
func (s *soak) checkBucket(mc *minio.Client, res *result) {
	shipped := map[string]bool{}
	for o := range mc.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			res.problem("list bucket: %v", o.Err)
			return
		}
		if !strings.HasSuffix(o.Key, segment.SuffixSealed) {
			continue
		}
		res.objects++
		shipped[o.Key] = true
		local := filepath.Join(s.data, "segments", filepath.FromSlash(o.Key))
		lb, err := os.ReadFile(local)
		if err != nil {
			// A part replaced by a compaction goes from the bucket later.
			if os.IsNotExist(err) && !strings.Contains(o.Key, "-compact-") {
				continue
			}
			res.objectsMismatched++
			res.problem("object %s has no local file: %v", o.Key, err)
			continue
		}
		obj, err := mc.GetObject(context.Background(), bucket, o.Key, minio.GetObjectOptions{})
		if err != nil {
			res.problem("get %s: %v", o.Key, err)
			continue
		}
		ob, err := io.ReadAll(obj)
		obj.Close()
		if err != nil || sha256.Sum256(ob) != sha256.Sum256(lb) {
			res.objectsMismatched++
			res.problem("object %s differs from the local file (%d vs %d bytes, %v)", o.Key, len(ob), len(lb), err)
		}
	}
	today := time.Now().UTC().Format(time.DateOnly)
	last := s.activeDays(time.Now())[1]
	paths, _ := filepath.Glob(filepath.Join(s.data, "segments", "dt=*", "*-compact-*"+segment.SuffixSealed))
	for _, p := range paths {
		day := strings.TrimPrefix(filepath.Base(filepath.Dir(p)), "dt=")
		if day == today || day == last {
			continue
		}
		if !shipped[s.objectKey(p)] {
			res.localUnshipped++
			res.problem("compacted %s was never shipped", p)
		}
	}
}

func (s *soak) report(res *result, out string) {
	var b strings.Builder
	row := func(k string, v any) { fmt.Fprintf(&b, "| %s | %v |\n", k, v) }
	fmt.Fprintf(&b, "| chaos soak, %s | |\n| --- | --- |\n", time.Since(s.start).Round(time.Second))
	kinds := []string{"kill9", "sigstop", "disk_full", "s3_down", "disk_lost", "corrupt"}
	for _, k := range kinds {
		if why, skip := s.skipped[k]; skip && s.faults[k] == 0 {
			row("faults: "+k, "skipped: "+why)
		} else {
			row("faults: "+k, s.faults[k])
		}
	}
	row("requests", fmt.Sprintf("%d (%d acknowledged, %d of them after a retry with the same key; %d unanswered; %d refused)",
		res.requests, res.ackedReqs, res.retriedAcked, res.unansweredReqs, res.refusedReqs))
	row("records acknowledged", res.recordsAcked)
	row("records stored (verified one by one)", res.recordsStored)
	row("lost", res.lost)
	row("duplicated", res.duplicated)
	row("unexpected or partial", res.unexpected+res.partial)
	if s.corrupt != "" {
		scrub := "not within 2 min"
		if s.scrubHit > 0 {
			scrub = fmt.Sprintf("in %.1f s", s.scrubHit.Seconds())
		}
		row("flipped byte", fmt.Sprintf("%s: found by the scrub %s; `ingestd verify` named %d problem(s), all in that file; verify passes after restoring it from the bucket", filepath.Base(s.corrupt), scrub, len(res.verifyNamed)))
	}
	if s.s3 != nil {
		row("bucket", fmt.Sprintf("%d objects, %d differ from the local files, %d compacted local files not shipped", res.objects, res.objectsMismatched, res.localUnshipped))
	}
	fmt.Print(b.String())
	for _, p := range res.problems {
		fmt.Println("PROBLEM", p)
	}
	if out != "" {
		os.WriteFile(out, []byte(b.String()), 0o644)
	}
	if len(res.problems) == 0 {
		fmt.Println("chaos: OK: every acknowledged record stored exactly once")
	} else {
		fmt.Println("chaos: FAIL")
	}
}
