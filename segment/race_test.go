//go:build race

package segment

// raceEnabled: the race detector makes sync.Pool drop a random quarter of
// what it is given, so pool-size bounds do not hold under it.
const raceEnabled = true
