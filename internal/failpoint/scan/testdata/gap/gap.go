// Package gap is a fixture for the scanner: five durable calls without a
// failpoint (a rename, a sync, a create, an object PUT and DELETE) and three
// with one.
package gap

import (
	"context"
	"os"

	"github.com/minio/minio-go/v7"

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

func g(ctx context.Context, c *minio.Client) {
	c.PutObject(ctx, "b", "k", nil, 0, minio.PutObjectOptions{}) // gap
	c.StatObject(ctx, "b", "k", minio.StatObjectOptions{})       // not durable
	failpoint.Hit("gap.before-remove-object")
	c.RemoveObject(ctx, "b", "k", minio.RemoveObjectOptions{})
	c.RemoveObject(ctx, "b", "k2", minio.RemoveObjectOptions{}) // gap
}
