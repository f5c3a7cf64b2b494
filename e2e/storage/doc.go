// Package storage holds the end-to-end tests of what happens to finished days: shipping to an S3-compatible store (versitygw), several nodes in one bucket, the background scrub, and the golden data directories of every on-disk version.
package storage
