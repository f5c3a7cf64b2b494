// Package explore holds the end-to-end tests of the read API and the
// explorer page: answers checked against ingestd query, DuckDB and the
// ground truth, the limits, roles, the live tail, and the page driven in
// headless Chromium.
package explore
