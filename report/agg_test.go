package report

import (
	"math"
	"math/rand"
	"testing"
)

// A quantile never lies outside [min, max]: the sketch's bucket midpoint
// can (a lone 1 read as 1.01, a p99 of 7.029 against a max of 7).
func TestQuantileWithinMinMax(t *testing.T) {
	f := func(name string, vals []float64) {
		t.Helper()
		m := newMetric()
		for _, v := range vals {
			m.Add(v)
		}
		for _, q := range []float64{0, 0.5, 0.9, 0.99, 1} {
			if got := m.Quantile(q); got < m.Min || got > m.Max || math.IsNaN(got) {
				t.Errorf("%s: q%g = %v outside [%v, %v]", name, q, got, m.Min, m.Max)
			}
		}
	}
	f("one value", []float64{1})
	f("ids up to 7", []float64{1, 2, 3, 4, 5, 6, 7, 7, 7, 7})
	f("negative", []float64{-3, -3, -3})
	r := rand.New(rand.NewSource(1))
	var vs []float64
	for range 1000 {
		vs = append(vs, math.Floor(r.ExpFloat64()*100))
	}
	f("random integers", vs)
}

// A distinct count never exceeds the values it can have counted: a field
// whose every value differs is estimated above the records about half the
// time.
func TestDistinctNotAboveRecords(t *testing.T) {
	over := 0
	for seed := range 20 {
		a := NewAgg(Config{Distinct: []string{"msg"}})
		r := rand.New(rand.NewSource(int64(seed)))
		n := 5000 + r.Intn(5000)
		for i := range n {
			a.Distinct["msg"].Insert([]byte{byte(i), byte(i >> 8), byte(i >> 16), byte(seed)})
		}
		a.Records = int64(n)
		a.Fields["msg"] = &FieldStat{Records: int64(n)}
		if a.Distinct["msg"].Estimate() > uint64(n) {
			over++
		}
		s := summarize("2026-10", a, Config{Distinct: []string{"msg"}})
		if s.Distinct["msg"] > uint64(n) {
			t.Fatalf("seed %d: distinct %d of %d records", seed, s.Distinct["msg"], n)
		}
	}
	if over == 0 {
		t.Fatal("no raw estimate was above the record count: the test shows nothing")
	}
}
