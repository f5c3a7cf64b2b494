// Runs one SQL query with DuckDB (npm @duckdb/node-api, installed by .ci/run into
// .ci/duckdb/node_modules) and prints the rows as JSON, or with --list as the
// DuckDB CLI's `-noheader -list` does (one row a line, values joined by |).
// Used by the tests.
import { DuckDBInstance } from '@duckdb/node-api';
const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
const r = await con.runAndReadAll(process.argv[2]);
if (process.argv[3] === '--list') {
  for (const row of r.getRows()) console.log(row.map(v => String(v)).join('|'));
} else {
  console.log(JSON.stringify(r.getRows(), (k, v) => typeof v === 'bigint' ? v.toString() : v));
}
