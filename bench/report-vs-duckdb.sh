#!/usr/bin/env bash
# The report scan against DuckDB on the same files and the same question,
# runs alternating, as docs/BENCHMARKS.md ("Report scan against DuckDB") quotes
# them: wall time, CPU seconds (user + system), records per CPU-second and peak
# RSS, each run, then medians.
#
# Data: October 2026 from bench/gendays (31 compacted days of varied log
# records; PER_DAY records a day, 300000 by default: 9.3 M records).
# The question, for both: records per day and per hour; top values of
# level, service, host and status; count/min/max/mean/p50/p90/p99 of
# duration_ms and bytes; distinct host and user.id; and, with BREAKDOWN=1, the
# p99 of duration_ms and the error rate per service. ingestd also builds its
# field inventory, which DuckDB is not asked for. AUTO=1 runs ingestd's
# zero-config report instead (it chooses its own fields: the cost of choosing).
#
# Needs DuckDB's Node.js API (npm install --prefix .ci/duckdb @duckdb/node-api,
# as .ci/run does). Usage: bench/report-vs-duckdb.sh [OUTDIR]; RUNS=3.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/ingestd-report-vs-duckdb}
RUNS=${RUNS:-3}
PER_DAY=${PER_DAY:-300000}
THREADS=${THREADS:-$(nproc)}
mkdir -p "$OUT"
go build -o "$OUT/ingestd" ./cmd/ingestd
[ -d "$OUT/october" ] || go run ./bench/gendays "$OUT/october" "$PER_DAY"
records=$((31 * PER_DAY))

cat >"$OUT/report.yaml" <<'EOF'
report:
  schedule: "off"
  dimensions: [level, service, host, status]
  metrics: [duration_ms, bytes]
  distinct: [host, user.id]
EOF
if [ "${AUTO:-0}" = 1 ]; then # zero-config: ingestd chooses its fields (DuckDB's question stays)
  printf 'report:\n  schedule: "off"\n' >"$OUT/report.yaml"
fi
if [ "${BREAKDOWN:-0}" = 1 ]; then
  cat >>"$OUT/report.yaml" <<'EOF'
  breakdowns:
    - {name: services, by: [service], stats: [count, p99(duration_ms), "rate(status >= 500)"]}
EOF
fi

# One read of the files into a temporary table, then the counts by each
# field (GROUPING SETS), the metrics and distinct counts, and the breakdown
# over that table: DuckDB reads the JSON once and does no more than asked.
cat >"$OUT/question.sql" <<EOF
create temp table t as select "timestamp", level, service, host, status, duration_ms, bytes, "user".id as user_id
  from read_json('$OUT/october/segments/dt=2026-10-*/*.ndjson.zst', format='newline_delimited',
    columns={"timestamp": 'TIMESTAMP', level: 'VARCHAR', service: 'VARCHAR', host: 'VARCHAR', status: 'BIGINT',
             duration_ms: 'DOUBLE', bytes: 'BIGINT', "user": 'STRUCT(id VARCHAR)'});
select level, service, host, status, date_trunc('hour', "timestamp") as hour, count(*) as n
  from t group by grouping sets ((level), (service), (host), (status), (hour), ());
select min(duration_ms), max(duration_ms), avg(duration_ms), approx_quantile(duration_ms, [0.5, 0.9, 0.99]),
  min(bytes), max(bytes), avg(bytes), approx_quantile(bytes, [0.5, 0.9, 0.99]),
  approx_count_distinct(host), approx_count_distinct(user_id) from t;
EOF
if [ "${BREAKDOWN:-0}" = 1 ]; then
  echo "select service, count(*), approx_quantile(duration_ms, 0.99), avg(case when status >= 500 then 1 else 0 end) from t group by service;" >>"$OUT/question.sql"
fi
cat >"$OUT/duckdb.mjs" <<EOF
import { DuckDBInstance } from '@duckdb/node-api';
import { readFileSync } from 'node:fs';
const inst = await DuckDBInstance.create(':memory:', { threads: '$THREADS' });
const con = await inst.connect();
for (const q of readFileSync('$OUT/question.sql', 'utf8').split(';').filter(q => q.trim())) {
  const r = await con.runAndReadAll(q);
  console.log(r.getRows().length + ' rows');
}
EOF
cp "$OUT/duckdb.mjs" .ci/duckdb/bench-question.mjs
trap 'rm -f .ci/duckdb/bench-question.mjs' EXIT

measure() { # name command...: one line of wall, CPU, RSS
  local name=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$OUT/time" "$@" >"$OUT/$name.out" 2>&1
  read -r wall user sys rss <"$OUT/time"
  cpu=$(echo "$user + $sys" | bc)
  printf '%-8s wall %6.2f s  cpu %6.2f s  %5.2f M records/CPU-s  rss %5d MB\n' "$name" "$wall" "$cpu" \
    "$(echo "$records / $cpu / 1000000" | bc -l)" $((rss / 1024)) | tee -a "$OUT/runs.txt"
}
: >"$OUT/runs.txt"
for run in $(seq "$RUNS"); do
  rm -rf "$OUT/reports"
  measure ingestd "$OUT/ingestd" report --config "$OUT/report.yaml" --data-dir "$OUT/october" --out "$OUT/reports" \
    --month 2026-10 --rescan --no-partials --workers "$THREADS"
  measure duckdb node .ci/duckdb/bench-question.mjs
done
echo "== medians of $RUNS ($records records, $THREADS threads)"
for name in ingestd duckdb; do
  for col in 3 6 8 12; do
    grep "^$name " "$OUT/runs.txt" | awk -v c=$col '{print $c}' | sort -n | awk '{a[NR]=$1} END {printf "%s ", a[int((NR+1)/2)]}'
  done | awk -v n=$name '{printf "%-8s wall %s s  cpu %s s  %s M records/CPU-s  rss %s MB\n", n, $1, $2, $3, $4}'
done
