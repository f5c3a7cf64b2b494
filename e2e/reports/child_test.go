package reports

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/e2e"
	"github.com/ingestd/ingestd/report"
)

// children lists the pids whose parent is pid (from /proc).
func children(pid int) []int {
	var out []int
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces, so read after ")".
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			c, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			out = append(out, c)
		}
	}
	return out
}

// A report child never outlives its daemon: after a kill -9 of serve the
// kernel kills it too, even while it is stopped, instead of leaving it to
// write into a data dir that a restarted daemon or a repair now owns.
func TestReportChildDiesWithTheDaemon(t *testing.T) {
	t.Parallel()
	// Last month has records and no report: at start, its report runs as
	// a child at once (enough records that it takes a while).
	dir := t.TempDir()
	d := e2e.Start(t, dir, "report:\n  schedule: \"off\"\n")
	postMonthRecords(t, d, report.MonthStart(time.Now()).AddDate(0, -1, 0), []int{2, 3, 4, 5}, 20000)
	d.Stop()
	d = e2e.Start(t, dir, "")
	var child int
	e2e.WaitFor(t, "the report child", func() bool {
		for _, c := range children(d.Cmd.Process.Pid) {
			if cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(c) + "/cmdline"); strings.Contains(string(cmd), "report") {
				child = c
				return true
			}
		}
		return false
	})
	// Stopped, it cannot finish on its own: only the kernel can end it.
	if err := syscall.Kill(child, syscall.SIGSTOP); err != nil {
		t.Fatalf("the report finished before it could be stopped: %v", err)
	}
	t.Cleanup(func() { syscall.Kill(child, syscall.SIGKILL) })
	d.Kill()
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(child, 0) == nil {
		if st, _ := os.ReadFile("/proc/" + strconv.Itoa(child) + "/stat"); strings.Contains(string(st), ") Z ") {
			break // dead, waiting to be reaped by its new parent
		}
		if time.Now().After(deadline) {
			t.Fatalf("report child %d still alive 10 s after its daemon was killed", child)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
