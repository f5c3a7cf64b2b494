package filter

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/ingestd/ingestd/internal/jsonx"
)

// Program is an expression compiled for record batches. It keeps scratch
// buffers: give each goroutine its own (Compile is cheap).
type Program struct {
	expr  Expr
	paths []Path
	col   map[string]int // path key → index in Paths
	free  [][]bool       // row buffers
	ent   []bool         // per dictionary entry
}

// Compile prepares e for Eval.
func Compile(e Expr) *Program {
	p := &Program{expr: e, paths: Paths(e), col: map[string]int{}}
	for i, path := range p.paths {
		p.col[path.Key()] = i
	}
	return p
}

// Paths lists the columns Eval reads, in the order it takes them.
func (p *Program) Paths() []Path { return p.paths }

// Eval sets sel[i] for the rows 0..n-1 of a batch. cols[k] is the batch's
// column of Paths()[k]: a dictionary of the field's JSON values as the
// record has them (strings quoted, objects and arrays as {} and []), null
// in rows where the field is absent; nil when no row has it. Each
// predicate is decided once per dictionary entry, then mapped to the rows.
func (p *Program) Eval(cols []*array.Dictionary, n int, sel []bool) {
	res := p.eval(p.expr, cols, n)
	copy(sel[:n], res)
	p.put(res)
}

func (p *Program) get(n int) []bool {
	if k := len(p.free); k > 0 {
		b := p.free[k-1]
		p.free = p.free[:k-1]
		if cap(b) >= n {
			return b[:n]
		}
	}
	return make([]bool, n)
}

func (p *Program) put(b []bool) { p.free = append(p.free, b) }

func (p *Program) eval(e Expr, cols []*array.Dictionary, n int) []bool {
	switch e := e.(type) {
	case And:
		l, r := p.eval(e.L, cols, n), p.eval(e.R, cols, n)
		for i := range l {
			l[i] = l[i] && r[i]
		}
		p.put(r)
		return l
	case Or:
		l, r := p.eval(e.L, cols, n), p.eval(e.R, cols, n)
		for i := range l {
			l[i] = l[i] || r[i]
		}
		p.put(r)
		return l
	case Not:
		x := p.eval(e.X, cols, n)
		for i := range x {
			x[i] = !x[i]
		}
		return x
	}
	out := p.get(n)
	clear(out)
	col := cols[p.col[LeafPath(e).Key()]]
	if col == nil {
		return out
	}
	dict := col.Dictionary().(*array.String)
	if cap(p.ent) < dict.Len() {
		p.ent = make([]bool, dict.Len())
	}
	ent := p.ent[:dict.Len()]
	for k := range ent {
		ent[k] = Leaf(e, dict.ValueBytes()[dict.ValueOffset(k):dict.ValueOffset(k+1)])
	}
	idx := col.Indices().(*array.Int32)
	for i, k := range idx.Int32Values()[:n] {
		out[i] = idx.IsValid(i) && ent[k]
	}
	return out
}

// Leaf decides a leaf predicate (Cmp, In, Match or Exists) for a present
// field whose JSON value is v.
func Leaf(e Expr, v []byte) bool {
	switch e := e.(type) {
	case Exists:
		return true
	case Cmp:
		return compare(e.Op, e.Val, v)
	case In:
		for _, l := range e.Vals {
			if compare(Eq, l, v) {
				return true
			}
		}
		return false
	case Match:
		s, ok := stringValue(v)
		return ok && e.Re.Match(s)
	}
	return false
}

func compare(op Op, l Lit, v []byte) bool {
	switch l.Kind {
	case String:
		s, ok := stringValue(v)
		if !ok {
			return op == Ne
		}
		return order(op, bytes.Compare(s, []byte(l.Str)))
	case Number:
		if len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
			return op == Ne
		}
		f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(v), len(v)), 64)
		if err != nil {
			return op == Ne
		}
		switch {
		case f < l.Num:
			return order(op, -1)
		case f > l.Num:
			return order(op, 1)
		}
		return order(op, 0)
	}
	eq := string(v) == l.Text // true, false, null
	return (op == Eq) == eq
}

func order(op Op, c int) bool {
	switch op {
	case Eq:
		return c == 0
	case Ne:
		return c != 0
	case Lt:
		return c < 0
	case Le:
		return c <= 0
	case Gt:
		return c > 0
	}
	return c >= 0
}

// stringValue is a JSON string token's value.
func stringValue(v []byte) ([]byte, bool) {
	if len(v) < 2 || v[0] != '"' {
		return nil, false
	}
	if bytes.IndexByte(v, '\\') < 0 {
		return v[1 : len(v)-1], true
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return nil, false
	}
	return []byte(s), true
}

// quote writes s as a JSON string literal; unquote reads one.
func quote(s string) string { return string(jsonx.AppendString(nil, s)) }

func unquote(lit string) (string, bool) {
	var s string
	if json.Unmarshal([]byte(lit), &s) != nil {
		return "", false
	}
	return s, true
}
