package explore

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/e2e"
)

// genMonth writes October 2026, perDay records a day, with bench/gendays.
func genMonth(t *testing.T, dir string, perDay int) {
	t.Helper()
	cmd := exec.Command("go", "run", "./bench/gendays", dir, strconv.Itoa(perDay), "fastest")
	cmd.Dir = e2e.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gendays: %v\n%s", err, out)
	}
}

// cpuSeconds is a process's user and system CPU time so far.
func cpuSeconds(t *testing.T, pid int) float64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return (u + s) / 100 // clock ticks (USER_HZ)
}

// The read API's limits: a question past query.timeout gets 503 and stops;
// one beyond query.max_concurrent gets 429 with Retry-After; a client that
// goes away stops its scan, and the daemon falls back to idle.
func TestExploreLimitsAndDisconnect(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	genMonth(t, dir, 60000) // 1.86 M records: a filtered scan of the month takes seconds on one core
	slow := "/api/v1/query?" + vals("from", "2026-10-01", "to", "2026-11-01", "by", "service", "where", `msg =~ "e.*d"`, "rescan", "1").Encode()
	base := "report: {schedule: \"off\", partials: false}\nscrub: {interval: 0s}\n"

	d := e2e.Start(t, dir, base+"query: {max_concurrent: 1, timeout: 1500ms, workers: 1}\n")
	first := make(chan e2e.Reply, 1)
	c0 := cpuSeconds(t, d.Cmd.Process.Pid)
	go func() { first <- d.Get(t, slow, "") }()
	e2e.WaitFor(t, "the first question to run", func() bool { return cpuSeconds(t, d.Cmd.Process.Pid)-c0 > 0.2 })
	if r := d.Get(t, "/api/v1/hits?"+vals("from", "2026-10-01", "to", "2026-11-01").Encode(), ""); r.Code != 429 || r.Hdr.Get("Retry-After") == "" ||
		!strings.Contains(r.Body, "query.max_concurrent") {
		t.Errorf("a second question at once: %d %v %s", r.Code, r.Hdr, r.Body)
	}
	if r := <-first; r.Code != 503 || !strings.Contains(r.Body, "query.timeout") {
		t.Errorf("a question past query.timeout: %d %s", r.Code, r.Body)
	}
	// The timed-out question's slot is free again (a range without data:
	// answered at once, however loaded the machine).
	if r := d.Get(t, "/api/v1/hits?"+vals("from", "2026-09-01", "to", "2026-09-02").Encode(), ""); r.Code != 200 {
		t.Errorf("after the timeout, a question: %d %s", r.Code, r.Body)
	}
	d.Stop()

	// A client that goes away: the scan stops with it.
	d = e2e.Start(t, dir, base+"query: {workers: 1}\n")
	pid := d.Cmd.Process.Pid
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", d.URL+slow, nil)
	go func() {
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	t0 := cpuSeconds(t, pid)
	time.Sleep(500 * time.Millisecond)
	if busy := cpuSeconds(t, pid) - t0; busy < 0.2 {
		t.Fatalf("the scan did not start: %.2f CPU-seconds in 0.5 s", busy)
	}
	cancel()
	time.Sleep(300 * time.Millisecond) // the daemon notices and the workers return
	t1 := cpuSeconds(t, pid)
	time.Sleep(time.Second)
	if used := cpuSeconds(t, pid) - t1; used > 0.25 {
		t.Errorf("after the client went away the daemon used %.2f CPU-seconds in 1 s: the scan went on", used)
	}
	e2e.WaitLog(t, d, "the client went away; the scan stopped")
}
