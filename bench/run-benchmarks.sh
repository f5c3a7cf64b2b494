#!/usr/bin/env bash
# Reproduces the figures in docs/BENCHMARKS.md. Usage: bench/run-benchmarks.sh [OUTDIR]
# Loopback only; the daemon and the load generator share this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/ingestd-bench}
DUR=${DUR:-30s}
RUNS=${RUNS:-3}
mkdir -p "$OUT"
go build -o "$OUT/ingestd" ./cmd/ingestd
go build -o "$OUT/ingest-bench" ./cmd/ingest-bench
PORT=18190

start() { # datadir configfile
  "$OUT/ingestd" serve --data-dir "$1" --config "$2" --listen 127.0.0.1:$PORT 2>>"$OUT/daemon.log" &
  PID=$!
  for _ in $(seq 100); do curl -sf 127.0.0.1:$PORT/readyz >/dev/null && return; sleep 0.1; done
  echo "daemon not ready" >&2; exit 1
}
stop() { kill -TERM "$PID"; wait "$PID"; }

for fsync in always never; do printf 'wal:\n  fsync: %s\n' "$fsync" > "$OUT/$fsync.yaml"; done
if [ -z "${SKIP_BASE:-}" ]; then # SKIP_BASE=1: only the per-shape runs below
for fsync in always never; do
  for run in $(seq "$RUNS"); do
    D="$OUT/data-$fsync-$run"; rm -rf "$D"
    start "$D" "$OUT/$fsync.yaml"
    "$OUT/ingest-bench" --url http://127.0.0.1:$PORT --duration "$DUR" --warmup 5s --conns 8 --pid "$PID" \
      --data-dir "$D" --ack-log "$OUT/acks-$fsync-$run.log" --out "$OUT/max-$fsync-$run.json" --quiet > "$OUT/max-$fsync-$run.txt"
    stop
    "$OUT/ingest-bench" --verify "$D" --ack-log "$OUT/acks-$fsync-$run.log" --out "$OUT/verify-$fsync-$run.json" > /dev/null
    rm -rf "$D"
  done
done

# Half of the median maximum (fsync: always), open loop.
HALF=$(python3 -c "import json,statistics;print(int(statistics.median(json.load(open('$OUT/max-always-%d.json'%i))['records_per_s'] for i in range(1,$RUNS+1))/2))")
for run in $(seq "$RUNS"); do
  D="$OUT/data-half-$run"; rm -rf "$D"
  start "$D" "$OUT/always.yaml"
  "$OUT/ingest-bench" --url http://127.0.0.1:$PORT --rate "$HALF" --duration "$DUR" --warmup 5s --conns 32 --pid "$PID" \
    --out "$OUT/half-$run.json" --quiet > "$OUT/half-$run.txt"
  stop; rm -rf "$D"
done

# Restart after kill -9 with ≈ 1 GiB in the WAL: nothing reaches a segment
# (large blocks, long block age, records spread over a year of days).
cat > "$OUT/restart.yaml" <<YAML
wal:
  compress: false
  file_size: 256MiB
segments:
  block_size: 32MiB
  block_age: 1h
buffers:
  max_bytes: 2GiB
  memory_limit: 0
YAML
D="$OUT/data-restart"; rm -rf "$D"
start "$D" "$OUT/restart.yaml"
"$OUT/ingest-bench" --url http://127.0.0.1:$PORT --requests 4000 --days 365 --conns 8 --warmup 0s --quiet > /dev/null
kill -9 "$PID"; wait "$PID" || true
WAL=$(du -sb "$D/wal" | cut -f1)
T0=$(date +%s.%N)
start "$D" "$OUT/restart.yaml"
T1=$(date +%s.%N)
stop
python3 -c "print('{\"wal_bytes\": %d, \"ready_seconds\": %.2f}' % ($WAL, $T1-$T0))" > "$OUT/restart.json"
rm -rf "$D"
fi

# Every shape, both fsync modes (closed loop, verified).
if [ -n "${SHAPES:-}" ]; then
  for shape in logs events metrics wide mixed; do
    for fsync in always never; do
      for run in $(seq "$RUNS"); do
        D="$OUT/data-$shape-$fsync-$run"; rm -rf "$D"
        start "$D" "$OUT/$fsync.yaml"
        "$OUT/ingest-bench" --url http://127.0.0.1:$PORT --shape "$shape" --duration "$DUR" --warmup 3s --conns 8 --pid "$PID" \
          --data-dir "$D" --ack-log "$OUT/acks-$shape-$fsync-$run.log" --out "$OUT/shape-$shape-$fsync-$run.json" --quiet > /dev/null
        stop
        "$OUT/ingest-bench" --verify "$D" --ack-log "$OUT/acks-$shape-$fsync-$run.log" --out "$OUT/verify-$shape-$fsync-$run.json" > /dev/null
        rm -rf "$D" "$OUT/acks-$shape-$fsync-$run.log"
      done
    done
  done
fi
echo "results in $OUT"
