#!/usr/bin/env bash
# Throughput per protocol on the same records, runs interleaved in one
# sitting: the native NDJSON API (POST /v1/ingest), OTLP/HTTP protobuf
# (POST /v1/logs, each record's fields as attributes), the same protobuf
# over OTLP/gRPC (otlp.listen_grpc) and the same records as Fluent forward
# messages with a chunk ack each (fluent.listen). Usage:
#   bench/protocols.sh [RUNS] [SHAPE] [CONNS]
# Closed loop, fsync always, 15 s after a 3 s warm-up, every run verified
# (zero lost, zero duplicated); prints the median records/s, p99 and records
# per daemon CPU-second of each protocol, and each OTLP transport's share of
# native. PROTOCOLS="native otlp" runs a subset.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}; SHAPE=${2:-logs}; CONNS=${3:-8}
OUT=$(mktemp -d /tmp/ingestd-protocols.XXXX)
go build -o "$OUT/ingestd" ./cmd/ingestd
go build -o "$OUT/ingest-bench" ./cmd/ingest-bench
PORT=18291; GRPC=18292; FLUENT=18293
PROTOCOLS=${PROTOCOLS:-native otlp otlp-grpc fluent}
printf 'otlp:\n  listen_grpc: 127.0.0.1:%s\nfluent:\n  listen: 127.0.0.1:%s\n' $GRPC $FLUENT > "$OUT/ingestd.yaml"
for run in $(seq "$RUNS"); do
  for p in $PROTOCOLS; do
    D=$OUT/data-$p-$run
    "$OUT/ingestd" serve --data-dir "$D" --listen 127.0.0.1:$PORT --config "$OUT/ingestd.yaml" 2>>"$OUT/daemon.log" &
    PID=$!
    for _ in $(seq 100); do curl -sf 127.0.0.1:$PORT/readyz >/dev/null && break; sleep 0.05; done
    URL=http://127.0.0.1:$PORT
    [ "$p" = otlp-grpc ] && URL=127.0.0.1:$GRPC
    [ "$p" = fluent ] && URL=127.0.0.1:$FLUENT
    "$OUT/ingest-bench" --url "$URL" --ready-url http://127.0.0.1:$PORT --protocol $p --shape "$SHAPE" --duration 15s --warmup 3s \
      --conns "$CONNS" --pid $PID --quiet --ack-log "$OUT/$p-$run.ack" --out "$OUT/$p-$run.json" > /dev/null
    kill -TERM $PID; wait $PID
    "$OUT/ingest-bench" --verify "$D" --ack-log "$OUT/$p-$run.ack" | tail -1
    rm -rf "$D" "$OUT/$p-$run.ack"
  done
done
python3 - "$OUT" "$RUNS" "$PROTOCOLS" <<'PY'
import json, statistics, sys
out, runs, protocols = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
med, cpu = {}, {}
for p in protocols:
    rs = [json.load(open(f"{out}/{p}-{i}.json")) for i in range(1, runs + 1)]
    rps = [r["records_per_s"] for r in rs]
    med[p] = statistics.median(rps)
    cpu[p] = statistics.median(r['records_per_s'] / r['daemon_cpu_cores'] for r in rs)
    print(f"{p:9} records/s {[round(x) for x in rps]} median {round(med[p])}"
          f"  p99 ms median {statistics.median(r['latency_ms']['p99'] for r in rs):.1f}"
          f"  records per daemon CPU-second median {round(cpu[p])}")
for p in protocols:
    if p != "native" and "native" in med:
        print(f"{p} / native: {med[p] / med['native']:.2f} records/s, {cpu[p] / cpu['native']:.2f} per daemon CPU-second")
PY
echo "results in $OUT"
