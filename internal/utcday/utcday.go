// Package utcday numbers UTC days: day 0 is 1970-01-01, and an instant
// before 1970 falls on its own (negative) day. Every part of ingestd that
// puts a record in a day (intake, the segment layout, the store, reports)
// counts days here, so that they all agree on the boundary.
package utcday

import "time"

const nsPerDay = int64(24 * time.Hour)

// Of returns the UTC day number of an instant in Unix nanoseconds (floor
// division).
func Of(unixNano int64) int64 {
	d := unixNano / nsPerDay
	if unixNano < 0 && unixNano%nsPerDay != 0 {
		d--
	}
	return d
}

// OfSeconds returns the UTC day number of an instant in Unix seconds.
func OfSeconds(unix int64) int64 {
	d := unix / 86400
	if unix < 0 && unix%86400 != 0 {
		d--
	}
	return d
}

// Start returns the instant UTC day d begins.
func Start(d int64) time.Time { return time.Unix(d*86400, 0).UTC() }

// Name returns day d as YYYY-MM-DD.
func Name(d int64) string { return Start(d).Format(time.DateOnly) }
