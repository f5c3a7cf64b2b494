//go:build !failpoints

package failpoint

// Enabled reports whether this build can crash at failpoints.
const Enabled = false

// Hit marks a crash point; without the failpoints build tag it does nothing.
func Hit(name string) {}
