package report

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/array"
)

// A dictionary column gives back every value it was given, in order, with
// one dictionary entry per distinct value, across batches (resets) and
// whatever the recent-value slots hold: values that share their last bytes,
// values longer and shorter than 8 bytes, the empty string, nulls.
func TestDictColMatchesInput(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	var pool []string
	for i := 0; i < 600; i++ {
		switch i % 4 {
		case 0:
			pool = append(pool, fmt.Sprintf("node-%03d", i))
		case 1:
			pool = append(pool, fmt.Sprintf("%d-same-tail", i)) // equal last 8 bytes
		case 2:
			pool = append(pool, fmt.Sprint(i%7))
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
