// Package scan lists the failpoints in the source and the durable calls
// that have none, for the tests that hold every durable write to a point.
// It type-checks the packages (golang.org/x/tools/go/packages), so it is
// for tests and tools, never imported by the daemon.
package scan

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"sort"
	"strings"

	"golang.org/x/tools/go/packages"
)

// Point is a failpoint.Hit call.
type Point struct {
	Name string // the literal passed to Hit
	Pos  string // file:line
}

// Gap is a durable call with no failpoint between it and the previous
// durable call (or the start) of its function.
type Gap struct {
	Call string // e.g. os.Rename, (os.File).Sync
	Pos  string // file:line
	File string // absolute path
	// StmtLine is the first line of the statement, directly in a block,
	// that holds the call: where a point for it goes.
	StmtLine int
	Func     string // the enclosing function's name ("" in a function literal)
	Pkg      string // the package's name
}

const failpointPkg = "github.com/ingestd/ingestd/internal/failpoint"

// durableFuncs are package-level functions that change what is on disk.
var durableFuncs = map[string]bool{
	"os.Rename": true, "os.Remove": true, "os.RemoveAll": true, "os.Truncate": true,
	"os.WriteFile": true, "os.Mkdir": true, "os.MkdirAll": true, "os.Create": true,
	"syscall.Fdatasync": true, "syscall.Fsync": true,
	"golang.org/x/sys/unix.Fdatasync": true, "golang.org/x/sys/unix.Fsync": true,
	"github.com/ingestd/ingestd/internal/fsutil.SyncDir":          true,
	"github.com/ingestd/ingestd/internal/fsutil.RenameDurable":    true,
	"github.com/ingestd/ingestd/internal/fsutil.WriteFileDurable": true,
	"github.com/ingestd/ingestd/internal/fsutil.MkdirDurable":     true,
	"github.com/ingestd/ingestd/internal/fsutil.CopyDurable":      true,
	"github.com/ingestd/ingestd/internal/fsutil.Fdatasync":        true,
}

// fileTypes are the file types whose writing methods are durable calls:
// *os.File and the seams that wrap it.
var fileTypes = map[string]bool{"os.File": true, "github.com/ingestd/ingestd/segment.File": true}

var fileMethods = map[string]bool{"Write": true, "WriteAt": true, "WriteString": true, "Sync": true, "Truncate": true}

// storeTypes are the object-store clients whose writing methods are durable
// calls too: a PUT or DELETE is a step the crash sweeps must be able to
// stop the daemon at, like a write to the disk.
var storeTypes = map[string]bool{"github.com/minio/minio-go/v7.Client": true}

var storeMethods = map[string]bool{"PutObject": true, "FPutObject": true, "RemoveObject": true, "RemoveObjects": true,
	"CopyObject": true, "ComposeObject": true, "PutObjectFanOut": true}

// Scan type-checks the packages matched by patterns (run in dir) and
// returns every failpoint and every durable call that lacks one, sorted by
// position. os.OpenFile counts as durable when its flags mention O_CREATE;
// so do the object store's PUTs and DELETEs (storeMethods).
func Scan(dir string, patterns ...string) ([]Point, []Gap, error) {
	cfg := &packages.Config{Dir: dir, Mode: packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo}
	pkgs, err := packages.Load(cfg, patterns...)
	if err != nil {
		return nil, nil, fmt.Errorf("scan: load: %w", err)
	}
	var points []Point
	var gaps []Gap
	for _, p := range pkgs {
		if len(p.Errors) > 0 {
			return nil, nil, fmt.Errorf("scan: %s: %v", p.PkgPath, p.Errors[0])
		}
		for _, f := range p.Syntax {
			s := &scanner{fset: p.Fset, info: p.TypesInfo, pkg: p.Name}
			ast.Inspect(f, func(n ast.Node) bool {
				switch fn := n.(type) {
				case *ast.FuncDecl:
					if fn.Body != nil {
						s.body(fn.Body, fn.Name.Name)
					}
				case *ast.FuncLit:
					s.body(fn.Body, "")
				}
				return true
			})
			points = append(points, s.points...)
			gaps = append(gaps, s.gaps...)
		}
	}
	sort.Slice(points, func(i, j int) bool { return points[i].Name < points[j].Name })
	sort.Slice(gaps, func(i, j int) bool { return gaps[i].Pos < gaps[j].Pos })
	return points, gaps, nil
}

type scanner struct {
	pkg    string
	fset   *token.FileSet
	info   *types.Info
	points []Point
	gaps   []Gap
}

// body checks one function body; nested function literals are their own
// bodies, checked when Inspect reaches them.
func (s *scanner) body(b *ast.BlockStmt, fn string) {
	covered := false
	var stack []ast.Node // from b down to the node being visited
	ast.Inspect(b, func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return true
		}
		if _, ok := n.(*ast.FuncLit); ok {
			return false
		}
		stack = append(stack, n)
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		if name, ok := s.hit(call); ok {
			s.points = append(s.points, Point{Name: name, Pos: s.pos(call)})
			covered = true
			return true
		}
		if what := s.durable(call); what != "" {
			if !covered {
				line := s.fset.Position(call.Pos()).Line
				for i := len(stack) - 1; i >= 1; i-- {
					if _, ok := stack[i].(ast.Stmt); !ok {
						continue
					}
					switch stack[i-1].(type) {
					case *ast.BlockStmt, *ast.CaseClause, *ast.CommClause:
						line = s.fset.Position(stack[i].Pos()).Line
						i = 0
					}
				}
				s.gaps = append(s.gaps, Gap{Call: what, Pos: s.pos(call), File: s.fset.Position(call.Pos()).Filename, StmtLine: line, Func: fn, Pkg: s.pkg})
			}
			covered = false
		}
		return true
	})
}

func (s *scanner) pos(n ast.Node) string {
	p := s.fset.Position(n.Pos())
	return fmt.Sprintf("%s:%d", p.Filename, p.Line)
}

func (s *scanner) callee(call *ast.CallExpr) *types.Func {
	var id *ast.Ident
	switch f := call.Fun.(type) {
	case *ast.Ident:
		id = f
	case *ast.SelectorExpr:
		id = f.Sel
	default:
		return nil
	}
	fn, _ := s.info.Uses[id].(*types.Func)
	return fn
}

// hit returns the name of a failpoint.Hit call.
func (s *scanner) hit(call *ast.CallExpr) (string, bool) {
	fn := s.callee(call)
	if fn == nil || fn.Pkg() == nil || fn.Pkg().Path() != failpointPkg || fn.Name() != "Hit" || len(call.Args) != 1 {
		return "", false
	}
	tv := s.info.Types[call.Args[0]]
	if tv.Value == nil || tv.Value.Kind() != constant.String {
		return "(not a constant)", true
	}
	return constant.StringVal(tv.Value), true
}

// durable names a call that changes what is on disk, or returns "".
func (s *scanner) durable(call *ast.CallExpr) string {
	fn := s.callee(call)
	if fn == nil || fn.Pkg() == nil {
		return ""
	}
	sig := fn.Type().(*types.Signature)
	if sig.Recv() == nil {
		full := fn.Pkg().Path() + "." + fn.Name()
		if full == "os.OpenFile" && len(call.Args) > 1 && strings.Contains(types.ExprString(call.Args[1]), "O_CREATE") {
			return full
		}
		if durableFuncs[full] {
			return full
		}
		return ""
	}
	if !fileMethods[fn.Name()] && !storeMethods[fn.Name()] {
		return ""
	}
	// The receiver's static type at the call, not the method's declaring
	// type: an interface seam (segment.File) counts as well as *os.File.
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	t := s.info.TypeOf(sel.X)
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	named, ok := t.(*types.Named)
	if !ok || named.Obj().Pkg() == nil {
		return ""
	}
	tn := named.Obj().Pkg().Path() + "." + named.Obj().Name()
	if fileTypes[tn] && fileMethods[fn.Name()] || storeTypes[tn] && storeMethods[fn.Name()] {
		return "(" + tn + ")." + fn.Name()
	}
	return ""
}
