#!/usr/bin/env bash
# Reproduces the figures in docs/BENCHMARKS.md. Usage: bench/run-benchmarks.sh [OUTDIR]
# Loopback only; the daemon and the load generator share this machine.
# The maximum runs use BASE_SHAPES (default: unique, whose every value
# varies like real logs, and logs, 16 template bodies); each shape's bytes
# also go through `zstd -b1 -T1` in the same run, and the summary gives
# records/s, records per daemon CPU-second (from /proc) and the ratio to
# one core of zstd -1 on the same records. CONNS (default 8) is the
# connections of the closed-loop runs.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/ingestd-bench}
DUR=${DUR:-30s}
RUNS=${RUNS:-3}
CONNS=${CONNS:-8}
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
BASE_SHAPES=${BASE_SHAPES:-unique logs}
FIRST=${BASE_SHAPES%% *}
if [ -z "${SKIP_BASE:-}" ]; then # SKIP_BASE=1: only the per-shape runs below
for shape in $BASE_SHAPES; do
  "$OUT/ingest-bench" --shape "$shape" --sample-out "$OUT/sample-$shape.ndjson"
  if command -v zstd >/dev/null; then # one core of zstd -1 on the same bytes, this sitting
    zstd -b1 -i3 -T1 "$OUT/sample-$shape.ndjson" 2>&1 | tr '\r' '\n' | grep -o '[0-9.]* MB/s' | tail -2 | head -1 | cut -d' ' -f1 > "$OUT/zstd1-$shape.txt"
  fi
  for fsync in always never; do
    for run in $(seq "$RUNS"); do
      D="$OUT/data-$fsync-$run"; rm -rf "$D"
      start "$D" "$OUT/$fsync.yaml"
      "$OUT/ingest-bench" --url http://127.0.0.1:$PORT --shape "$shape" --duration "$DUR" --warmup 5s --conns "$CONNS" --pid "$PID" \
        --data-dir "$D" --ack-log "$OUT/acks-$fsync-$run.log" --out "$OUT/max-$shape-$fsync-$run.json" --quiet > "$OUT/max-$shape-$fsync-$run.txt"
      stop
      "$OUT/ingest-bench" --verify "$D" --ack-log "$OUT/acks-$fsync-$run.log" --out "$OUT/verify-$shape-$fsync-$run.json" > /dev/null
      rm -rf "$D"
    done
  done
done
python3 - "$OUT" "$RUNS" $BASE_SHAPES <<'PY'
import json, os, statistics, sys
out, runs, shapes = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
for shape in shapes:
    sample = f"{out}/sample-{shape}.ndjson"
    rec_bytes = os.path.getsize(sample) / sum(1 for _ in open(sample, "rb"))
    z = f"{out}/zstd1-{shape}.txt"
    zrps = float(open(z).read()) * 1e6 / rec_bytes if os.path.exists(z) and open(z).read().strip() else 0
    for fsync in ("always", "never"):
        rs = [json.load(open(f"{out}/max-{shape}-{fsync}-{i}.json")) for i in range(1, runs + 1)]
        rps = statistics.median(r["records_per_s"] for r in rs)
        per_cpu = statistics.median(r["records_per_s"] / r["daemon_cpu_cores"] for r in rs)
        ratio = f"{rps / zrps:.2f}× one core of zstd -1 ({zrps:,.0f} records/s)" if zrps else "zstd not installed"
        print(f"{shape:7} fsync {fsync:6} records/s median {rps:,.0f}; per daemon CPU-second {per_cpu:,.0f}; {ratio}")
PY

# Half of the median maximum (fsync: always, the first shape), open loop.
HALF=$(python3 -c "import json,statistics;print(int(statistics.median(json.load(open('$OUT/max-$FIRST-always-%d.json'%i))['records_per_s'] for i in range(1,$RUNS+1))/2))")
for run in $(seq "$RUNS"); do
  D="$OUT/data-half-$run"; rm -rf "$D"
  start "$D" "$OUT/always.yaml"
  "$OUT/ingest-bench" --url http://127.0.0.1:$PORT --shape "$FIRST" --rate "$HALF" --duration "$DUR" --warmup 5s --conns 32 --pid "$PID" \
    --out "$OUT/half-$run.json" --quiet > "$OUT/half-$run.txt"
  stop; rm -rf "$D"
done

# Restart after kill -9 with ≈ 1 GiB in the WAL: nothing reaches a segment
# (large blocks, long block age, records spread over a year of days).
D="$OUT/data-restart"; rm -rf "$D"
start "$D" bench/restart.yaml
"$OUT/ingest-bench" --url http://127.0.0.1:$PORT --requests 4000 --days 365 --conns 8 --warmup 0s --quiet > /dev/null
kill -9 "$PID"; wait "$PID" || true
WAL=$(du -sb "$D/wal" | cut -f1)
T0=$(date +%s.%N)
start "$D" bench/restart.yaml
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
        "$OUT/ingest-bench" --url http://127.0.0.1:$PORT --shape "$shape" --duration "$DUR" --warmup 3s --conns "$CONNS" --pid "$PID" \
          --data-dir "$D" --ack-log "$OUT/acks-$shape-$fsync-$run.log" --out "$OUT/shape-$shape-$fsync-$run.json" --quiet > /dev/null
        stop
        "$OUT/ingest-bench" --verify "$D" --ack-log "$OUT/acks-$shape-$fsync-$run.log" --out "$OUT/verify-$shape-$fsync-$run.json" > /dev/null
        rm -rf "$D" "$OUT/acks-$shape-$fsync-$run.log"
      done
    done
  done
fi
echo "results in $OUT"
