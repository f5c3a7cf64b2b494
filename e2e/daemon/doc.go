// Package daemon holds the end-to-end tests of the daemon as a user meets it: the HTTP API and its errors, security (tokens, TLS, limits, file modes), the data dir lock, operations files, help texts and the README's examples, run as written.
package daemon
