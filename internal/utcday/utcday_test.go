package utcday

import (
	"testing"
	"time"
)

// Day numbers agree with time's calendar on both sides of 1970 and at
// every boundary.
func TestDayNumbers(t *testing.T) {
	for _, s := range []string{"1969-12-31T23:59:59.999999999Z", "1970-01-01T00:00:00Z", "1970-01-01T23:59:59Z", "2026-11-03T00:00:00Z", "2026-11-03T23:59:59.999Z", "1900-03-01T12:00:00Z"} {
		at, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		d := Of(at.UnixNano())
		if Name(d) != s[:10] || OfSeconds(at.Unix()) != d {
			t.Errorf("%s: day %d named %s, by seconds %d", s, d, Name(d), OfSeconds(at.Unix()))
		}
		if st := Start(d); st.After(at) || !st.AddDate(0, 0, 1).After(at) {
			t.Errorf("%s: day %d starts %s", s, d, st)
		}
	}
}

// Floor division: instants before 1970 fall on their own day.
func TestFloor(t *testing.T) {
	day := int64(24 * time.Hour)
	for ns, want := range map[int64]int64{0: 0, 1: 0, day - 1: 0, day: 1, -1: -1, -day: -1, -day - 1: -2,
		time.Date(2026, 12, 3, 23, 59, 59, 999999999, time.UTC).UnixNano(): 20790} {
		if got := Of(ns); got != want {
			t.Errorf("Of(%d) = %d, want %d", ns, got, want)
		}
	}
}
