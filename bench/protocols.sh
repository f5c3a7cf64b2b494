#!/usr/bin/env bash
# Throughput per protocol on the same records, runs interleaved in one
# sitting: the native NDJSON API (POST /v1/ingest) and OTLP/HTTP protobuf
# (POST /v1/logs, each record's fields as attributes). Usage:
#   bench/protocols.sh [RUNS] [SHAPE] [CONNS]
# Closed loop, fsync always, 15 s after a 3 s warm-up, every run verified
# (zero lost, zero duplicated); prints the median records/s, p99 and records
# per daemon CPU-second of each protocol, and OTLP's share of native.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}; SHAPE=${2:-logs}; CONNS=${3:-8}
OUT=$(mktemp -d /tmp/ingestd-protocols.XXXX)
go build -o "$OUT/ingestd" ./cmd/ingestd
go build -o "$OUT/ingest-bench" ./cmd/ingest-bench
PORT=18291
for run in $(seq "$RUNS"); do
  for p in native otlp; do
    D=$OUT/data-$p-$run
    "$OUT/ingestd" serve --data-dir "$D" --listen 127.0.0.1:$PORT 2>>"$OUT/daemon.log" &
    PID=$!
    "$OUT/ingest-bench" --url http://127.0.0.1:$PORT --protocol $p --shape "$SHAPE" --duration 15s --warmup 3s \
      --conns "$CONNS" --pid $PID --quiet --ack-log "$OUT/$p-$run.ack" --out "$OUT/$p-$run.json" > /dev/null
    kill -TERM $PID; wait $PID
    "$OUT/ingest-bench" --verify "$D" --ack-log "$OUT/$p-$run.ack" | tail -1
    rm -rf "$D" "$OUT/$p-$run.ack"
  done
done
python3 - "$OUT" "$RUNS" <<'PY'
import json, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
med = {}
for p in ("native", "otlp"):
    rs = [json.load(open(f"{out}/{p}-{i}.json")) for i in range(1, runs + 1)]
    rps = [r["records_per_s"] for r in rs]
    med[p] = statistics.median(rps)
    print(f"{p:6} records/s {[round(x) for x in rps]} median {round(med[p])}"
          f"  p99 ms median {statistics.median(r['latency_ms']['p99'] for r in rs):.1f}"
          f"  records per daemon CPU-second median {round(statistics.median(r['records_per_s'] / r['daemon_cpu_cores'] for r in rs))}")
print(f"otlp / native: {med['otlp'] / med['native']:.2f}")
PY
echo "results in $OUT"
