package report

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// A dictionary column gives back every value it was given, in order, with
// one dictionary entry per distinct value, across batches (resets) and
// whatever the recent-value slots hold: values that share their last bytes,
// values of 8 bytes and more, of 4 to 7 and of fewer, the empty string,
// nulls.
func TestDictColMatchesInput(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	var pool []string
	for i := 0; i < 600; i++ {
		switch i % 5 {
		case 0:
			pool = append(pool, fmt.Sprintf("node-%03d", i))
		case 1:
			pool = append(pool, fmt.Sprintf("%d-same-tail", i)) // equal last 8 bytes
		case 2:
			pool = append(pool, fmt.Sprint(i%7))
		case 3:
			pool = append(pool, fmt.Sprintf("sv-%d", i%1000)) // 4 to 6 bytes
		default:
			pool = append(pool, "")
		}
	}
	c := &dictCol{index: map[string]int32{}}
	for batch := 0; batch < 5; batch++ {
		var want []*string
		for i := 0; i < 5000; i++ {
			if r.Intn(10) == 0 {
				c.addNull()
				want = append(want, nil)
				continue
			}
			v := pool[r.Intn(len(pool)>>(batch%3))] // some batches see fewer values
			c.add([]byte(v))
			want = append(want, &v)
		}
		d := c.array(true).(*array.Dictionary)
		dict := d.Dictionary().(*array.String)
		seen := map[string]bool{}
		for i := 0; i < dict.Len(); i++ {
			if seen[dict.Value(i)] {
				t.Fatalf("batch %d: %q twice in the dictionary", batch, dict.Value(i))
			}
			seen[dict.Value(i)] = true
		}
		for i, w := range want {
			switch {
			case w == nil && d.IsValid(i):
				t.Fatalf("batch %d row %d: valid, want null", batch, i)
			case w != nil && (!d.IsValid(i) || dict.Value(d.GetValueIndex(i)) != *w):
				t.Fatalf("batch %d row %d: %q, want %q", batch, i, dict.Value(d.GetValueIndex(i)), *w)
			}
		}
		d.Release()
		c.reset()
	}
}

// A float column's validity matches what it was given, through compaction
// with keep, values added after it (a null among them must clear the stale
// bit keep left past the end) and resets; the Arrow array has no bitmap
// exactly when there is no null.
func TestBitmapMatchesInput(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	var c fixedCol[float64]
	for round := 0; round < 300; round++ {
		n := r.Intn(40)
		firstNull := r.Intn(n + 2) // past the end: no null at all
		var want []bool
		for i := 0; i < n; i++ {
			if i >= firstNull && r.Intn(3) == 0 || i == firstNull {
				c.addNull()
				want = append(want, false)
			} else {
				c.add(float64(i))
				want = append(want, true)
			}
		}
		if r.Intn(2) == 0 { // a filter keeps some rows, then more rows come
			sel := make([]bool, n)
			var kept []bool
			for i := range sel {
				if sel[i] = r.Intn(3) != 0; sel[i] {
					kept = append(kept, want[i])
				}
			}
			c.keep(sel)
			want = kept
			for i := r.Intn(12); i > 0; i-- {
				v := r.Intn(4) != 0
				if v {
					c.add(1)
				} else {
					c.addNull()
				}
				want = append(want, v)
			}
		}
		nulls := 0
		for i, v := range want {
			if c.valid.at(i) != v {
				t.Fatalf("round %d: value %d valid=%v, want %v", round, i, c.valid.at(i), v)
			}
			if !v {
				nulls++
			}
		}
		arr := c.array(arrowFloat64, false)
		if arr.Len() != len(want) || arr.NullN() != nulls || (arr.Data().Buffers()[0] == nil) != (nulls == 0) {
			t.Fatalf("round %d: array of %d values, %d nulls, bitmap %v; want %d, %d", round, arr.Len(), arr.NullN(), arr.Data().Buffers()[0] != nil, len(want), nulls)
		}
		for i, v := range want {
			if arr.IsValid(i) != v {
				t.Fatalf("round %d: array value %d valid=%v, want %v", round, i, arr.IsValid(i), v)
			}
		}
		arr.Release()
		c.reset()
	}
}

var arrowFloat64 = arrow.PrimitiveTypes.Float64

// A bitmap keeps no bits until its first null; the bits it then writes
// for the values before (here 9 valid, after a keep of 12) are all set, and
// a keep that drops every null leaves it a count again.
func TestBitmapFirstNullAfterKeep(t *testing.T) {
	var m bitmap
	for i := 0; i < 12; i++ {
		m.add(true)
	}
	m.keep([]bool{true, false, true, true, false, true, true, true, false, true, true, true})
	m.add(false)
	m.add(true)
	if m.n != 11 || m.nulls != 1 || len(m.b) != 2 {
		t.Fatalf("n=%d nulls=%d bytes=%d, want 11, 1, 2", m.n, m.nulls, len(m.b))
	}
	for i := 0; i < 11; i++ {
		if m.at(i) != (i != 9) {
			t.Fatalf("value %d valid=%v", i, m.at(i))
		}
	}
	sel := make([]bool, 11)
	sel[0], sel[10] = true, true
	m.keep(sel)
	m.add(false)
	if m.n != 3 || m.nulls != 1 || !m.at(0) || !m.at(1) || m.at(2) {
		t.Fatalf("after dropping the null: n=%d nulls=%d bits %v %v %v", m.n, m.nulls, m.at(0), m.at(1), m.at(2))
	}
}
