// Package reports holds the end-to-end tests of reports and queries: the report command and its schedules, breakdowns checked against DuckDB, ingestd query, and the reports served to read tokens (in Chromium).
package reports
