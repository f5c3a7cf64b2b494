package crash

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/e2e"

	"github.com/ingestd/ingestd/internal/failpoint/scan"
	"github.com/ingestd/ingestd/internal/powercut"
)

// damagedDir makes a data dir that needs `ingestd repair`: an open part
// whose first block is damaged and a WAL file with a damaged entry
// between good ones. It returns the dir and its files' bytes.
func damagedDir(t *testing.T) (string, map[string][]byte) {
	t.Helper()
	dir := t.TempDir()
	cfg := "segments:\n  block_age: 50ms\nreport:\n  schedule: \"off\"\n"
	d := e2e.Start(t, dir, cfg)
	for i := 0; i < 3; i++ {
		var body bytes.Buffer
		for j := 0; j < 100; j++ {
			fmt.Fprintf(&body, `{"ts":"2026-11-03T10:00:00Z","i":%d,"j":%d}`+"\n", i, j)
		}
		if r := d.Post(t, "/v1/ingest", body.Bytes(), nil); r.Code != 200 {
			t.Fatal(r.Body)
		}
		time.Sleep(1200 * time.Millisecond) // one block per request
	}
	d.Kill()
	parts, _ := filepath.Glob(filepath.Join(dir, "segments", "dt=2026-11-03", "*.open"))
	wals, _ := filepath.Glob(filepath.Join(dir, "wal", "*.wal"))
	if len(parts) != 1 || len(wals) != 1 {
		t.Fatalf("parts %v, wal files %v", parts, wals)
	}
	damage := func(p string, off int64) {
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteAt([]byte{0xde, 0xad}, off)
		f.Close()
	}
	damage(parts[0], 100) // the first block's data frame
	st, _ := os.Stat(wals[0])
	damage(wals[0], st.Size()/2) // an entry in the middle
	return dir, snapshot(t, dir)
}

// snapshot reads every file under dir.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, f := range e2e.Files(t, dir) {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		out[f] = b
	}
	return out
}

// restore writes snap into dir and fsyncs every file and folder, so that
// it is durable on the power-cut filesystem.
func restore(t *testing.T, dir string, snap map[string][]byte) {
	t.Helper()
	dirs := map[string]bool{dir: true}
	for name, b := range snap {
		p := filepath.Join(dir, name)
		for d := filepath.Dir(p); d != dir; d = filepath.Dir(d) {
			dirs[d] = true
		}
		os.MkdirAll(filepath.Dir(p), 0o700)
		f, err := os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(b)
		f.Sync()
		f.Close()
	}
	for d := range dirs {
		if f, err := os.Open(d); err == nil {
			f.Sync()
			f.Close()
		}
	}
}

// repairOutcome is what a finished repair leaves: the records a start
// then recovers, and the .broken copies.
func repairOutcome(t *testing.T, dir string) (records []string, broken map[string][]byte) {
	t.Helper()
	if out, code := e2e.CLI(t, "repair", "--data-dir", dir); code != 0 {
		t.Fatalf("repair: exit %d\n%s", code, out)
	}
	d := e2e.Start(t, dir, "report:\n  schedule: \"off\"\n")
	d.Stop()
	if out, code := e2e.CLI(t, "verify", "--data-dir", dir); code != 0 {
		t.Fatalf("verify after repair: %s", out)
	}
	records = e2e.AllStored(t, dir)
	sort.Strings(records)
	broken = map[string][]byte{}
	for name, b := range snapshot(t, dir) {
		if strings.HasSuffix(name, ".broken") {
			broken[name] = b
		}
	}
	return records, broken
}

// repairUnreachable are the repair failpoints the damaged data dir cannot
// reach, each with why. TestRepairCrashPoints fails on any other point it
// armed and did not hit, and on one of these that it hit (then the list is
// wrong: take the point off it).
var repairUnreachable = map[string]string{
	"fsutil.CopyDurable.remove":  "only when writing or syncing the .broken copy fails; the sweep injects no I/O error (internal/fsutil's fault tests cover the path)",
	"segment.repairFile.writeat": "only for a sealed file damaged after its first block; the damaged dir holds an open part and a WAL file",
	"segment.repairFile.remove":  "only for a sealed file damaged in its first block; the damaged dir holds an open part and a WAL file",
}

// TestRepairCrashPoints interrupts `ingestd repair` at each of its
// failpoints, with kill -9 semantics and with a power cut, runs it again,
// and requires the same outcome as an uninterrupted repair: the same
// records after a start, verify passing, and each .broken copy whole.
func TestRepairCrashPoints(t *testing.T) {
	points, _, err := scan.Scan("../..", "./segment", "./ingest/wal", "./internal/fsutil")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range points {
		if strings.Contains(p.Pos, "repair.go") || strings.HasPrefix(p.Name, "fsutil.CopyDurable.") {
			names = append(names, p.Name)
		}
	}
	if len(names) < 5 {
		t.Fatalf("found only %d repair failpoints: %v", len(names), names)
	}
	if *crashPoints != "all" { // a sample by default; CI runs every one
		seed := time.Now().UnixNano()
		rand.New(rand.NewSource(seed)).Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
		names = names[:3]
		t.Logf("a sample of 3 repair points (seed %d; INGESTD_CRASH_POINTS=all for every one): %v", seed, names)
	}
	t.Parallel()
	template, snap := damagedDir(t)
	wantRecs, wantBroken := repairOutcome(t, template)
	for name, b := range wantBroken {
		if orig := snap[strings.TrimSuffix(name, ".broken")]; !bytes.Equal(b, orig) {
			t.Fatalf("uninterrupted repair: %s is not a copy of the damaged file", name)
		}
	}
	for _, mode := range []string{"kill", "powercut"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			for _, p := range names {
				var fs *powercut.FS
				dir := t.TempDir()
				if mode == "powercut" {
					fs, dir = mountPowerCut(t)
				}
				restore(t, dir, snap)
				cmd := exec.Command(e2e.Bin, "repair", "--data-dir", dir)
				cmd.Env = append(os.Environ(), "INGESTD_FAILPOINT="+p)
				out, _ := cmd.CombinedOutput()
				crashed := strings.Contains(string(out), "failpoint: crashing at "+p)
				if fs != nil {
					if _, err := fs.Cut(powercut.CutOptions{}); err != nil {
						t.Fatal(err)
					}
				}
				recs, broken := repairOutcome(t, dir)
				if strings.Join(recs, "\n") != strings.Join(wantRecs, "\n") {
					t.Errorf("%s (crashed %v): %d records after the repair, want %d", p, crashed, len(recs), len(wantRecs))
				}
				for name, b := range wantBroken {
					if !bytes.Equal(broken[name], b) {
						t.Errorf("%s (crashed %v): %s is not a whole copy of the damaged file (%d of %d bytes)", p, crashed, name, len(broken[name]), len(b))
					}
				}
				switch why, listed := repairUnreachable[p]; {
				case !crashed && !listed:
					t.Errorf("%s: armed and never reached; the repair's path moved, or the point belongs in repairUnreachable with its reason", p)
				case crashed && listed:
					t.Errorf("%s: reached, though repairUnreachable says %q; take it off the list", p, why)
				}
				if fs != nil {
					if err := fs.Unmount(); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}
