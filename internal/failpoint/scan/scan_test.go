package scan

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// DurablePackages are the packages whose writes the crash tests rely on.
var durablePackages = []string{"./ingest/...", "./segment/...", "./report/...", "./internal/fsutil"}

func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestEveryDurableCallHasAFailpoint fails when a write, fsync, rename,
// unlink, truncate or create on a durable path has no failpoint.Hit
// before it in its function.
func TestEveryDurableCallHasAFailpoint(t *testing.T) {
	points, gaps, err := Scan(root(t), durablePackages...)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gaps {
		t.Errorf("%s: %s has no failpoint.Hit before it", g.Pos, g.Call)
	}
	seen := map[string]string{}
	for _, p := range points {
		if p.Name == "(not a constant)" {
			t.Errorf("%s: failpoint name must be a string constant", p.Pos)
		}
		if prev, dup := seen[p.Name]; dup {
			t.Errorf("failpoint %s named twice: %s and %s", p.Name, prev, p.Pos)
		}
		seen[p.Name] = p.Pos
	}
	t.Logf("%d failpoints, %d durable calls without one", len(points), len(gaps))
}

// TestScanFindsGaps: the scanner sees a durable call without a point.
func TestScanFindsGaps(t *testing.T) {
	_, gaps, err := Scan(root(t), "./internal/failpoint/scan/testdata/gap")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range gaps {
		got = append(got, g.Call)
	}
	want := "os.Rename (os.File).Sync os.OpenFile (github.com/minio/minio-go/v7.Client).PutObject (github.com/minio/minio-go/v7.Client).RemoveObject"
	if strings.Join(got, " ") != want {
		t.Errorf("gaps %v, want %s", got, want)
	}
}

var fix = flag.Bool("fix", false, "insert a failpoint.Hit before every durable call that lacks one (then review the names)")

// TestFix, with -fix, writes the missing points: failpoint.Hit("pkg.Func.op")
// on its own line before the statement that holds the call.
func TestFix(t *testing.T) {
	if !*fix {
		t.Skip("run with -fix to insert missing failpoints")
	}
	_, gaps, err := Scan(root(t), durablePackages...)
	if err != nil {
		t.Fatal(err)
	}
	byFile := map[string][]Gap{}
	for _, g := range gaps {
		byFile[g.File] = append(byFile[g.File], g)
	}
	used := map[string]int{}
	points, _, _ := Scan(root(t), durablePackages...)
	for _, p := range points {
		used[p.Name]++
	}
	for file, gs := range byFile {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		insert := map[int][]string{}
		for _, g := range gs {
			fn := g.Func
			if fn == "" {
				fn = "func"
			}
			op := strings.ToLower(g.Call[strings.LastIndexAny(g.Call, ".")+1:])
			name := g.Pkg + "." + fn + "." + op
			if used[name]++; used[name] > 1 {
				name = fmt.Sprintf("%s.%d", name, used[name])
			}
			l := lines[g.StmtLine-1]
			indent := l[:len(l)-len(strings.TrimLeft(l, "\t"))]
			insert[g.StmtLine-1] = append(insert[g.StmtLine-1], fmt.Sprintf("%sfailpoint.Hit(%q)", indent, name))
		}
		var out []string
		for i, l := range lines {
			out = append(out, insert[i]...)
			out = append(out, l)
		}
		src := strings.Join(out, "\n")
		if !strings.Contains(src, `"github.com/ingestd/ingestd/internal/failpoint"`) {
			src = strings.Replace(src, "import (\n", "import (\n\t\"github.com/ingestd/ingestd/internal/failpoint\"\n", 1)
		}
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d points", file, len(gs))
	}
}
