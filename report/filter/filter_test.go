package filter

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

func TestParsePrint(t *testing.T) {
	for src, want := range map[string]string{
		`level == "error" and status >= 500`:            `level == "error" and status >= 500`,
		`exists(user.id)`:                               `exists(user.id)`,
		`service in ("api","web")`:                      `service in ("api", "web")`,
		`path =~ "^/api/"`:                              `path =~ "^/api/"`,
		`a == 1 || b == 2 && !c == 3`:                   `a == 1 or b == 2 and not c == 3`,
		`(a == 1 or b == 2) and c == 3`:                 `(a == 1 or b == 2) and c == 3`,
		`not (a == 1 and b == 2)`:                       `not (a == 1 and b == 2)`,
		`a == 1 and (b == 2 and c == 3)`:                `a == 1 and (b == 2 and c == 3)`,
		"`k8s.pod`.name != \"x\" and `in` == null":      "`k8s.pod`.name != \"x\" and `in` == null",
		`x == "tab\there \u00e9 \"q\""`:                 `x == "tab\u0009here é \"q\""`,
		`d <= -1.50e3`:                                  `d <= -1.50e3`,
		`@timestamp >= "2026-11-01" and ok == true`:     `@timestamp >= "2026-11-01" and ok == true`,
		`  not  not  a==false  `:                        `not not a == false`,
		`user.country in ("DE") or user.plan != "free"`: `user.country in ("DE") or user.plan != "free"`,
	} {
		e, err := Parse(src)
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if got := e.String(); got != want {
			t.Errorf("%s: printed %s, want %s", src, got, want)
		}
		again, err := Parse(e.String())
		if err != nil || again.String() != e.String() {
			t.Errorf("%s: reparse of %s: %v %v", src, e, again, err)
		}
	}
}

func TestParseErrorsNamePosition(t *testing.T) {
	for src, want := range map[string]string{
		``:                      "at 1: expected a field path, found end of the expression",
		`level = "x"`:           `at 7: unexpected character "="`,
		`level == `:             "at 10: expected a value",
		`level == "x" and`:      "at 17: expected a field path",
		`a == 1 b == 2`:         `at 8: unexpected "b"`,
		`(a == 1`:               `at 8: expected ")"`,
		`a =~ "("`:              "at 6: bad regular expression",
		`a =~ 1`:                "at 6: =~ takes a regular expression",
		`a > true`:              "at 5: > does not order true",
		`a == "unterminated`:    "at 6: unterminated string",
		`a == 01`:               `at 6: bad number "01"`,
		`a in ()`:               "at 7: expected a value",
		"`` == 1":               "at 1: empty `quoted` name",
		`exists(a`:              `at 9: expected ")"`,
		`a`:                     "at 2: expected a comparison",
		strings.Repeat("(", 70): "nested deeper than 64",
		strings.Repeat("!", 70): "nested deeper than 64",
	} {
		_, err := Parse(src)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", src, err, want)
		}
	}
}

func TestLeafSemantics(t *testing.T) {
	cases := []struct {
		expr, value string
		want        bool
	}{
		{`a == "x"`, `"x"`, true}, {`a == "x"`, `"y"`, false}, {`a == "x"`, `1`, false},
		{`a != "x"`, `1`, true}, {`a != "x"`, `"x"`, false}, {`a < "b"`, `"a"`, true}, {`a < "b"`, `1`, false},
		{`a == "é\n"`, `"\u00e9\n"`, true}, {`a >= 500`, `500`, true}, {`a >= 500`, `499.9`, false},
		{`a == 1.5`, `1.50`, true}, {`a == 1`, `"1"`, false}, {`a != 1`, `"1"`, true}, {`a > 1`, `true`, false},
		{`a == true`, `true`, true}, {`a == true`, `"true"`, false}, {`a != null`, `null`, false}, {`a == null`, `null`, true},
		{`a in ("x", 2)`, `2`, true}, {`a in ("x", 2)`, `"x"`, true}, {`a in ("x", 2)`, `"2"`, false},
		{`a =~ "^/api/"`, `"/api/v2"`, true}, {`a =~ "^/api/"`, `"/web"`, false}, {`a =~ "1"`, `1`, false},
		{`exists(a)`, `null`, true}, {`exists(a)`, `{}`, true}, {`a == 1`, `1e400`, false},
	}
	for _, c := range cases {
		e, err := Parse(c.expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := Leaf(e, []byte(c.value)); got != c.want {
			t.Errorf("%s with a = %s: %v, want %v", c.expr, c.value, got, c.want)
		}
	}
}

// dictColumn builds a dictionary column of JSON tokens ("" = absent).
func dictColumn(t *testing.T, vals []string) *array.Dictionary {
	b := array.NewDictionaryBuilder(memory.DefaultAllocator, &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}).(*array.BinaryDictionaryBuilder)
	defer b.Release()
	for _, v := range vals {
		if v == "" {
			b.AppendNull()
		} else if err := b.AppendString(v); err != nil {
			t.Fatal(err)
		}
	}
	return b.NewArray().(*array.Dictionary)
}

// Eval over Arrow columns equals the expression decided row by row, on
// random rows (absent fields, values of several types).
func TestEvalMatchesRowByRow(t *testing.T) {
	values := []string{"", `"error"`, `"info"`, `"warn"`, `500`, `200`, `404.5`, `true`, `null`, `{}`, `"/api/x"`, `"/web"`}
	exprs := []string{
		`level == "error" and status >= 500`, `not exists(level) or path =~ "^/api/"`, `level in ("info", "warn") or status != 200`,
		`not (level == "error" or level == "warn") and exists(status)`, `path < "/b" and status <= 404.5`, `level == null or status == true`,
		`missing == 1 or not missing == 1`,
	}
	rng := rand.New(rand.NewSource(1))
	const n = 500
	names := []string{"level", "status", "path", "missing"}
	rows := make([]map[string]string, n)
	for i := range rows {
		rows[i] = map[string]string{}
		for _, f := range names[:3] {
			rows[i][f] = values[rng.Intn(len(values))]
		}
	}
	for _, src := range exprs {
		e, err := Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		p := Compile(e)
		cols := make([]*array.Dictionary, len(p.Paths()))
		for k, path := range p.Paths() {
			var vals []string
			for _, r := range rows {
				vals = append(vals, r[path.Key()])
			}
			if path.Key() != "missing" {
				cols[k] = dictColumn(t, vals)
				defer cols[k].Release()
			}
		}
		sel := make([]bool, n)
		p.Eval(cols, n, sel)
		for i, r := range rows {
			if want := rowEval(e, r); sel[i] != want {
				t.Fatalf("%s, row %v: %v, want %v", src, r, sel[i], want)
			}
		}
	}
}

// rowEval is the reference: the expression decided on one row's values.
func rowEval(e Expr, r map[string]string) bool {
	switch e := e.(type) {
	case And:
		return rowEval(e.L, r) && rowEval(e.R, r)
	case Or:
		return rowEval(e.L, r) || rowEval(e.R, r)
	case Not:
		return !rowEval(e.X, r)
	}
	v, ok := r[LeafPath(e).Key()]
	return ok && v != "" && Leaf(e, []byte(v))
}

// FuzzParse: any source parses to an error or to an expression whose
// canonical form parses back to itself; never a panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`level == "error" and status >= 500`, `exists(user.id)`, `service in ("api","web")`,
		`path =~ "^/api/"`, "not (`a.b`.c != null or x < -1e3)", `a == "\u00e9\"" || !b == true && c <= 0.5`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Parse(src)
		if err != nil {
			if pe, ok := err.(*Error); !ok || pe.Pos < 0 || pe.Pos > len(src) {
				t.Fatalf("%q: error %v without a position in the source", src, err)
			}
			return
		}
		printed := e.String()
		again, err := Parse(printed)
		if err != nil {
			t.Fatalf("%q printed as %q, which does not parse: %v", src, printed, err)
		}
		if again.String() != printed {
			t.Fatalf("%q: printed %q, reprinted %q", src, printed, again.String())
		}
		_ = fmt.Sprint(Paths(e))
	})
}
