// Package filter is the small filter language of reports and queries: a
// boolean expression over the fields of a record, compiled once and
// evaluated over the Arrow columns of a record batch.
//
//	level == "error" and status >= 500
//	exists(user.id) and not service in ("api", "web")
//	path =~ "^/api/" or `k8s.pod`.name != "x"
//
// A path names a field, dots reaching into objects (user.id); a segment
// that is not a plain name is written in backquotes. Comparisons are typed:
// a string literal matches string values (==, !=, <, <=, >, >= compare
// bytes), a number literal numbers (compared as float64), true, false and
// null only themselves (== and != only). A comparison with a field that is
// missing, or of another type, is false, != included: "a != 1" holds when a
// is present and not the number 1, while "not a == 1" also holds when a is
// missing. exists(p) holds when p is present, whatever its value (null
// too). p in (v, …) is p == v or …; p =~ "re" holds when p is a string that
// the regular expression (Go's RE2 syntax) matches. Precedence, lowest
// first: or, and, not; && || ! are accepted for and, or, not.
//
// Parse errors name the byte position. String() prints an expression in
// its canonical form, which parses back to the same expression.
package filter

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/ingestd/ingestd/internal/jsonx"
)

// Expr is a parsed filter expression.
type Expr interface {
	// String prints the expression in its canonical form.
	String() string
	prec() int // or 1, and 2, not 3, leaf 4
}

// Op is a comparison operator.
type Op string

// Comparison operators.
const (
	Eq Op = "=="
	Ne Op = "!="
	Lt Op = "<"
	Le Op = "<="
	Gt Op = ">"
	Ge Op = ">="
)

// Kind is a literal's JSON type.
type Kind uint8

// Literal kinds.
const (
	String Kind = iota
	Number
	Bool
	Null
)

// Lit is a literal value.
type Lit struct {
	Kind Kind
	Text string  // canonical text: the JSON string, the number as written, true, false, null
	Str  string  // the string's value (String)
	Num  float64 // the number's value (Number)
	True bool    // Bool
}

// Path is a field path: its segments, outermost first.
type Path []string

// And, Or, Not, Cmp, In, Match and Exists are the expression's nodes.
type (
	And struct{ L, R Expr }
	Or  struct{ L, R Expr }
	Not struct{ X Expr }
	Cmp struct {
		Path Path
		Op   Op
		Val  Lit
	}
	In struct {
		Path Path
		Vals []Lit
	}
	Match struct {
		Path Path
		Re   *regexp.Regexp
		Src  Lit // the pattern as a string literal
	}
	Exists struct{ Path Path }
)

func (And) prec() int    { return 2 }
func (Or) prec() int     { return 1 }
func (Not) prec() int    { return 3 }
func (Cmp) prec() int    { return 4 }
func (In) prec() int     { return 4 }
func (Match) prec() int  { return 4 }
func (Exists) prec() int { return 4 }

func wrap(e Expr, min int) string {
	if e.prec() < min {
		return "(" + e.String() + ")"
	}
	return e.String()
}

func (e And) String() string { return wrap(e.L, 2) + " and " + wrap(e.R, 3) }
func (e Or) String() string  { return wrap(e.L, 1) + " or " + wrap(e.R, 2) }
func (e Not) String() string { return "not " + wrap(e.X, 3) }
func (e Cmp) String() string { return e.Path.String() + " " + string(e.Op) + " " + e.Val.Text }
func (e Match) String() string {
	return e.Path.String() + " =~ " + e.Src.Text
}
func (e Exists) String() string { return "exists(" + e.Path.String() + ")" }
func (e In) String() string {
	var b strings.Builder
	b.WriteString(e.Path.String() + " in (")
	for i, v := range e.Vals {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(v.Text)
	}
	return b.String() + ")"
}

// String prints the path: plain segments joined by dots, others in
// backquotes.
func (p Path) String() string {
	var b strings.Builder
	for i, s := range p {
		if i > 0 {
			b.WriteByte('.')
		}
		if plainName(s) {
			b.WriteString(s)
		} else {
			b.WriteString("`" + s + "`")
		}
	}
	return b.String()
}

// Key is the path as the report's field paths write it: segments joined by
// dots.
func (p Path) Key() string { return strings.Join(p, ".") }

var keywords = map[string]bool{"and": true, "or": true, "not": true, "in": true, "exists": true, "true": true, "false": true, "null": true}

func plainName(s string) bool {
	if s == "" || keywords[s] {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !nameByte(s[i], i == 0) {
			return false
		}
	}
	return true
}

func nameByte(c byte, first bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == '@', c == '$':
		return true
	case c >= '0' && c <= '9', c == '-':
		return !first
	}
	return false
}

// Error is a parse error at a byte position of the source.
type Error struct {
	Pos int // 0-based byte offset
	Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("filter: at %d: %s", e.Pos+1, e.Msg) }

// MaxDepth bounds the nesting of an expression (parentheses and nots).
const MaxDepth = 64

// Parse parses a filter expression.
func Parse(src string) (Expr, error) {
	p := &parser{src: src}
	p.next()
	e := p.or()
	if p.err == nil && p.tok.kind != tEOF {
		p.fail(p.tok.pos, "unexpected "+p.tok.describe())
	}
	if p.err != nil {
		return nil, p.err
	}
	return e, nil
}

// LeafPath is the path a leaf (Cmp, In, Match, Exists) reads; nil for
// And, Or and Not.
func LeafPath(e Expr) Path {
	switch e := e.(type) {
	case Cmp:
		return e.Path
	case In:
		return e.Path
	case Match:
		return e.Path
	case Exists:
		return e.Path
	}
	return nil
}

// Paths returns the paths e reads, by key, sorted and unique.
func Paths(e Expr) []Path {
	seen := map[string]Path{}
	var walk func(Expr)
	walk = func(e Expr) {
		switch e := e.(type) {
		case And:
			walk(e.L)
			walk(e.R)
		case Or:
			walk(e.L)
			walk(e.R)
		case Not:
			walk(e.X)
		default:
			p := LeafPath(e)
			seen[p.Key()] = p
		}
	}
	walk(e)
	out := make([]Path, 0, len(seen))
	for _, p := range seen {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

// Tokens.
type tokKind uint8

const (
	tEOF tokKind = iota
	tName
	tQuoted // `segment`
	tString
	tNumber
	tPunct // ( ) , .
	tOp    // == != < <= > >= =~ && || !
)

type token struct {
	kind tokKind
	pos  int
	text string
}

func (t token) describe() string {
	if t.kind == tEOF {
		return "end of the expression"
	}
	return strconv.Quote(t.text)
}

type parser struct {
	src   string
	i     int
	tok   token
	err   *Error
	depth int
}

func (p *parser) fail(pos int, msg string) {
	if p.err == nil {
		p.err = &Error{Pos: pos, Msg: msg}
	}
	p.tok = token{kind: tEOF, pos: len(p.src)}
}

// next reads the next token into p.tok.
func (p *parser) next() {
	if p.err != nil {
		return
	}
	s := p.src
	for p.i < len(s) && (s[p.i] == ' ' || s[p.i] == '\t' || s[p.i] == '\n' || s[p.i] == '\r') {
		p.i++
	}
	start := p.i
	if p.i >= len(s) {
		p.tok = token{kind: tEOF, pos: len(s)}
		return
	}
	c := s[p.i]
	switch {
	case nameByte(c, true):
		for p.i < len(s) && nameByte(s[p.i], false) {
			p.i++
		}
		p.tok = token{tName, start, s[start:p.i]}
	case c == '`':
		end := strings.IndexByte(s[p.i+1:], '`')
		if end < 0 {
			p.fail(start, "unterminated `quoted` name")
			return
		}
		p.i += end + 2
		if end == 0 {
			p.fail(start, "empty `quoted` name")
			return
		}
		p.tok = token{tQuoted, start, s[start+1 : p.i-1]}
	case c == '"':
		p.i++
		for p.i < len(s) && s[p.i] != '"' {
			if s[p.i] == '\\' {
				p.i++
			}
			p.i++
		}
		if p.i >= len(s) {
			p.fail(start, "unterminated string")
			return
		}
		p.i++
		p.tok = token{tString, start, s[start:p.i]}
	case c == '-' || (c >= '0' && c <= '9'):
		p.i++
		for p.i < len(s) && strings.IndexByte("0123456789.eE+-", s[p.i]) >= 0 {
			if (s[p.i] == '+' || s[p.i] == '-') && s[p.i-1] != 'e' && s[p.i-1] != 'E' {
				break
			}
			p.i++
		}
		p.tok = token{tNumber, start, s[start:p.i]}
	case strings.IndexByte("(),.", c) >= 0:
		p.i++
		p.tok = token{tPunct, start, s[start:p.i]}
	default:
		for _, op := range []string{"==", "!=", "<=", ">=", "=~", "&&", "||", "<", ">", "!"} {
			if strings.HasPrefix(s[p.i:], op) {
				p.i += len(op)
				p.tok = token{tOp, start, op}
				return
			}
		}
		p.fail(start, fmt.Sprintf("unexpected character %q", s[start:start+1]))
	}
}

func (p *parser) is(kind tokKind, text string) bool {
	return p.tok.kind == kind && p.tok.text == text
}

func (p *parser) word(w string) bool { return p.tok.kind == tName && p.tok.text == w }

func (p *parser) expect(kind tokKind, text string) {
	if !p.is(kind, text) {
		p.fail(p.tok.pos, "expected "+strconv.Quote(text)+", found "+p.tok.describe())
		return
	}
	p.next()
}

func (p *parser) enter(pos int) bool {
	if p.depth++; p.depth > MaxDepth {
		p.fail(pos, fmt.Sprintf("nested deeper than %d", MaxDepth))
		return false
	}
	return true
}

func (p *parser) or() Expr {
	l := p.and()
	for p.err == nil && (p.word("or") || p.is(tOp, "||")) {
		p.next()
		r := p.and()
		l = Or{l, r}
	}
	return l
}

func (p *parser) and() Expr {
	l := p.not()
	for p.err == nil && (p.word("and") || p.is(tOp, "&&")) {
		p.next()
		r := p.not()
		l = And{l, r}
	}
	return l
}

func (p *parser) not() Expr {
	if p.word("not") || p.is(tOp, "!") {
		pos := p.tok.pos
		if !p.enter(pos) {
			return nil
		}
		p.next()
		x := p.not()
		p.depth--
		return Not{x}
	}
	return p.primary()
}

func (p *parser) primary() Expr {
	if p.err != nil {
		return nil
	}
	pos := p.tok.pos
	switch {
	case p.is(tPunct, "("):
		if !p.enter(pos) {
			return nil
		}
		p.next()
		e := p.or()
		p.expect(tPunct, ")")
		p.depth--
		return e
	case p.word("exists"):
		p.next()
		p.expect(tPunct, "(")
		path := p.path()
		p.expect(tPunct, ")")
		return Exists{path}
	}
	path := p.path()
	if p.err != nil {
		return nil
	}
	switch {
	case p.word("in"):
		p.next()
		p.expect(tPunct, "(")
		var vals []Lit
		for p.err == nil {
			vals = append(vals, p.literal())
			if !p.is(tPunct, ",") {
				break
			}
			p.next()
		}
		p.expect(tPunct, ")")
		return In{path, vals}
	case p.is(tOp, "=~"):
		p.next()
		lpos := p.tok.pos
		lit := p.literal()
		if p.err != nil {
			return nil
		}
		if lit.Kind != String {
			p.fail(lpos, "=~ takes a regular expression as a string")
			return nil
		}
		re, err := regexp.Compile(lit.Str)
		if err != nil {
			p.fail(lpos, "bad regular expression: "+err.Error())
			return nil
		}
		return Match{path, re, lit}
	case p.tok.kind == tOp && p.tok.text != "!" && p.tok.text != "&&" && p.tok.text != "||":
		op := Op(p.tok.text)
		p.next()
		lpos := p.tok.pos
		lit := p.literal()
		if p.err == nil && (lit.Kind == Bool || lit.Kind == Null) && op != Eq && op != Ne {
			p.fail(lpos, string(op)+" does not order "+lit.Text+": use == or !=")
		}
		return Cmp{path, op, lit}
	}
	p.fail(p.tok.pos, "expected a comparison (== != < <= > >= =~ in) after "+path.String()+", found "+p.tok.describe())
	return nil
}

func (p *parser) path() Path {
	var out Path
	for {
		switch {
		case p.tok.kind == tName && !keywords[p.tok.text]:
			out = append(out, p.tok.text)
		case p.tok.kind == tQuoted:
			out = append(out, p.tok.text)
		default:
			p.fail(p.tok.pos, "expected a field path, found "+p.tok.describe())
			return nil
		}
		p.next()
		if !p.is(tPunct, ".") {
			return out
		}
		p.next()
	}
}

func (p *parser) literal() Lit {
	t := p.tok
	if p.err != nil {
		return Lit{}
	}
	switch {
	case t.kind == tString:
		s, ok := unquote(t.text)
		if !ok {
			p.fail(t.pos, "bad string literal "+t.text)
			return Lit{}
		}
		p.next()
		return Lit{Kind: String, Text: quote(s), Str: s}
	case t.kind == tNumber:
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil || !validNumber(t.text) || math.IsInf(f, 0) {
			p.fail(t.pos, "bad number "+strconv.Quote(t.text))
			return Lit{}
		}
		p.next()
		return Lit{Kind: Number, Text: t.text, Num: f}
	case t.kind == tName && (t.text == "true" || t.text == "false"):
		p.next()
		return Lit{Kind: Bool, Text: t.text, True: t.text == "true"}
	case t.kind == tName && t.text == "null":
		p.next()
		return Lit{Kind: Null, Text: "null"}
	}
	p.fail(t.pos, "expected a value (a string, a number, true, false or null), found "+t.describe())
	return Lit{}
}

// validNumber checks JSON's number grammar.
func validNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	start := i
	if n := digits(); n == 0 || (n > 1 && s[start] == '0') {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// ForValue is the filter that selects value v of the field path (dotted,
// as the report's field paths write it), given the JSON types the path has
// (report.TypeNames' names): a string literal; a number or boolean as
// written; or both forms when the path holds strings and numbers or
// booleans.
func ForValue(path, v string, types []string) string {
	p := Path(strings.Split(path, ".")).String()
	str := quote(v)
	literal := v == "true" || v == "false"
	if end, ok := jsonx.NumberEnd(v, 0); ok && end == len(v) {
		literal = true // a JSON number, as the filter reads one
	}
	hasString, hasOther := false, false
	for _, t := range types {
		switch t {
		case "string":
			hasString = true
		case "number", "bool":
			hasOther = true
		}
	}
	switch {
	case !literal || !hasOther:
		return p + " == " + str
	case !hasString:
		return p + " == " + v
	}
	return p + " in (" + str + ", " + v + ")"
}
