package report

import (
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ingestd/ingestd/segment"
)

// countingSource is a LocalSource that records which files were opened.
type countingSource struct {
	LocalSource
	mu     sync.Mutex
	opened map[string]int
}

func (c *countingSource) Open(path string) (*segment.FileReader, error) {
	c.mu.Lock()
	c.opened[filepath.Base(path)]++
	c.mu.Unlock()
	return c.LocalSource.Open(path)
}

// TestPartialsOfManyNodesCoverOneFolder: the files and partials of two
// nodes in one day folder (a bucket, or copies gathered in one place). Each
// node's partial stands for its own files; a file no partial lists (a late
// part) is the only one scanned; a partial whose files are gone is unused.
func TestPartialsOfManyNodesCoverOneFolder(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	cfg := testConfig()
	day := october.AddDate(0, 0, 4)
	all := t.TempDir()
	allDir := segment.DayDir(all, day)
	for _, n := range []struct {
		node    string
		records int
	}{{"node-a", 900}, {"node-b", 600}} {
		own := t.TempDir()
		// Both nodes number their WAL from 1: only the node id tells their files apart.
		writeNodePart(t, own, n.node, day, 1, genDay(r, day, n.records, newExpect()), 100, false)
		res, err := StorePartial(context.Background(), segment.DayDir(own, day), n.node, cfg)
		if err != nil || !res.Stored {
			t.Fatalf("partial of %s: stored %v, %v", n.node, res.Stored, err)
		}
		copyDir(t, segment.DayDir(own, day), allDir)
	}
	late := writeNodePart(t, all, "node-a", day, 500, genDay(r, day, 70, newExpect()), 50, false)

	src := &countingSource{LocalSource: LocalSource{DataDir: all}, opened: map[string]int{}}
	run := func(rescan bool) *MonthResult {
		t.Helper()
		res, err := RunMonth(context.Background(), MonthOptions{Source: src, OutDir: t.TempDir(), Month: october, Config: cfg, Rescan: rescan})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := run(false)
	if res.Records != 1570 || res.DaysScanned != 1 {
		t.Fatalf("%d records, %d days scanned; want 1570 and 1", res.Records, res.DaysScanned)
	}
	if len(src.opened) != 1 || src.opened[filepath.Base(late)] == 0 {
		t.Fatalf("files opened: %v; want only the late part", src.opened)
	}
	if full := run(true); full.Records != res.Records {
		t.Fatalf("a rescan counts %d, the partials and the late part %d", full.Records, res.Records)
	}

	// Without the late part the day comes from the two partials alone.
	os.Remove(late)
	src.opened = map[string]int{}
	if res := run(false); res.Records != 1500 || res.DaysFromPartials != 1 || len(src.opened) != 0 {
		t.Fatalf("%d records, %d days from partials, opened %v", res.Records, res.DaysFromPartials, src.opened)
	}
	// node-b's file is gone: its partial no longer stands for anything.
	bFiles, _ := filepath.Glob(filepath.Join(allDir, "node-b-*.ndjson.zst"))
	for _, f := range bFiles {
		os.Remove(f)
	}
	if res := run(false); res.Records != 900 || res.DaysFromPartials != 1 {
		t.Fatalf("after node-b's files went: %d records, %d days from partials", res.Records, res.DaysFromPartials)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
