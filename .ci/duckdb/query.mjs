// Runs one SQL query with DuckDB (npm @duckdb/node-api, installed by .ci/run into
// .ci/duckdb/node_modules) and prints the rows as JSON. Used by the tests.
import { DuckDBInstance } from '@duckdb/node-api';
const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
const r = await con.runAndReadAll(process.argv[2]);
console.log(JSON.stringify(r.getRows(), (k, v) => typeof v === 'bigint' ? v.toString() : v));
