// Package gap is a fixture for the scanner: three durable calls without a
// failpoint (a rename, a sync, a create) and two with one.
package gap

import (
	"os"

	"github.com/ingestd/ingestd/internal/failpoint"
)

func f(a, b string, fh *os.File) {
	failpoint.Hit("gap.before-remove")
	os.Remove(a)
	os.Rename(a, b) // gap: the point above was used by Remove
	fh.Sync()       // gap
	failpoint.Hit("gap.before-write")
	fh.Write(nil)
	os.OpenFile(a, os.O_CREATE|os.O_WRONLY, 0o600) // gap
	os.OpenFile(a, os.O_RDONLY, 0)                 // not durable
}
