//go:build !linux

package segment

// lowerPriority is a no-op where threads cannot be reniced one by one.
func lowerPriority() {}
