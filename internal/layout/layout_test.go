package layout

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const mod = "github.com/ingestd/ingestd/"

// rules: a package (or a prefix ending in "/") and what may not be among
// its dependencies, direct or not.
var rules = []struct {
	pkg       string
	forbidden []string
	why       string
}{
	{"record", []string{"github.com/valyala/fasthttp", mod + "ingest", mod + "segment", mod + "report"},
		"the record contract is read by verify, cat, report and bench without the daemon"},
	{"ingest/adapter", []string{"github.com/valyala/fasthttp", mod + "ingest", mod + "ingest/wal"},
		"the types between the core and the adapters are protocol- and storage-free"},
	{"ingest/adapter/", []string{"github.com/valyala/fasthttp", mod + "ingest", mod + "ingest/wal", mod + "ingest/store", mod + "ingest/httpapi"},
		"an adapter translates an envelope and an answer; it never sees HTTP, the WAL or the store"},
	{"ingest", []string{"github.com/valyala/fasthttp", mod + "ingest/httpapi", mod + "ingest/syslogd", mod + "ingest/adapter/syslog", mod + "ingest/adapter/otlp", mod + "ingest/adapter/es", mod + "ingest/adapter/loki", mod + "ingest/adapter/native"},
		"the intake core knows no protocol"},
	{"ingest/wal", []string{mod + "ingest", mod + "record", mod + "ingest/store"}, "the WAL carries bytes and typed metas of its user"},
	{"ingest/store", []string{"github.com/valyala/fasthttp", mod + "ingest", mod + "ingest/wal", mod + "ingest/httpapi"},
		"the day store needs of the WAL only its Releaser interface"},
	{"report", []string{"github.com/valyala/fasthttp", mod + "ingest"}, "reports read files, not the daemon"},
	{"explore", []string{"github.com/valyala/fasthttp", mod + "ingest", mod + "ingest/httpapi"}, "the read API reads files through report; the daemon's HTTP calls it"},
	{"segment", []string{mod + "ingest", mod + "record", mod + "report"}, "the segment format is the bottom layer"},
}

type pkg struct {
	ImportPath string
	Deps       []string
}

func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps=false", "-json", mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []pkg
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	checked := map[string]bool{}
	for _, r := range rules {
		for _, p := range pkgs {
			rel := strings.TrimPrefix(p.ImportPath, mod)
			if rel != r.pkg && !(strings.HasSuffix(r.pkg, "/") && strings.HasPrefix(rel, r.pkg)) {
				continue
			}
			checked[r.pkg] = true
			for _, d := range p.Deps {
				for _, f := range r.forbidden {
					if d == f {
						t.Errorf("%s depends on %s: %s", p.ImportPath, d, r.why)
					}
				}
			}
		}
	}
	for _, r := range rules {
		if !checked[r.pkg] {
			t.Errorf("no package matches rule %q", r.pkg)
		}
	}
}

// Every package says what it is for: go doc prints a package comment.
func TestEveryPackageHasADocComment(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}\t{{.Doc}}", mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		n++
		path, doc, _ := strings.Cut(l, "\t")
		if strings.TrimSpace(doc) == "" {
			t.Errorf("%s has no package comment (add a doc.go)", path)
		}
	}
	if n < 10 {
		t.Fatalf("go list found %d packages", n)
	}
}

// No Go file reaches 800 lines: split it by concern before it does.
func TestNoFileReaches800Lines(t *testing.T) {
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := strings.TrimSpace(string(root))
	n := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".") && p != dir) {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		n++
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if lines := bytes.Count(b, []byte("\n")); lines >= 800 {
			rel, _ := filepath.Rel(dir, p)
			t.Errorf("%s has %d lines; split it before 800", rel, lines)
		}
		return nil
	})
	if n < 50 {
		t.Fatalf("found %d Go files", n)
	}
}

// Paths are routed only by the protocol table (ingest/httpapi/protocols.go):
// a path literal compared, switched on, matched by prefix or used as a map
// key anywhere else in the HTTP server is a route outside the table.
func TestRoutesOnlyInTheProtocolTable(t *testing.T) {
	root, err := exec.Command("go", "list", "-f", "{{.Dir}}", mod+"ingest/httpapi").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := strings.TrimSpace(string(root))
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi fs.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go") && fi.Name() != "protocols.go"
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	isPath := func(e ast.Expr) bool {
		l, ok := e.(*ast.BasicLit)
		return ok && l.Kind == token.STRING && strings.HasPrefix(l.Value, `"/`)
	}
	files := 0
	for _, p := range pkgs {
		for _, f := range p.Files {
			files++
			ast.Inspect(f, func(n ast.Node) bool {
				flag := func(e ast.Expr, how string) {
					if isPath(e) {
						t.Errorf("%s: %s %s outside the protocol table (add a row to protocols.go)", fset.Position(e.Pos()), how, e.(*ast.BasicLit).Value)
					}
				}
				switch n := n.(type) {
				case *ast.BinaryExpr:
					if n.Op == token.EQL || n.Op == token.NEQ {
						flag(n.X, "compares the path")
						flag(n.Y, "compares the path")
					}
				case *ast.CaseClause:
					for _, e := range n.List {
						flag(e, "switches on the path")
					}
				case *ast.KeyValueExpr:
					flag(n.Key, "keys a map by the path")
				case *ast.CallExpr:
					if sel, ok := n.Fun.(*ast.SelectorExpr); ok && (sel.Sel.Name == "HasPrefix" || sel.Sel.Name == "HasSuffix") {
						for _, a := range n.Args {
							flag(a, "matches the path by "+sel.Sel.Name)
						}
					}
				}
				return true
			})
		}
	}
	if files < 3 {
		t.Fatalf("parsed %d files of ingest/httpapi", files)
	}
}
