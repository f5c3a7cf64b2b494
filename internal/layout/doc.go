// Package layout holds tests of the code's shape: the import rules of
// docs/ARCHITECTURE.md (dependencies point one way; adapters, the record
// contract and the report engine never pull in the HTTP server, the WAL or
// the store), a package comment on every package, and no file of 800
// lines or more.
package layout
