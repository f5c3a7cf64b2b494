#!/usr/bin/env bash
# storage.ack in one sitting: the same binary with no storage, with ack local
# (continuous shipping every tail_interval) and with ack bucket, runs
# interleaved, against versitygw on loopback. Usage: bench/ack.sh [RUNS]
# Closed loop, fsync always, SHAPE (default unique), CONNS (8) connections, 15 s
# after a 3 s warm-up; prints the median records/s, p50/p99 and records per
# daemon CPU-second of each, and the WAL object PUTs per second of each mode.
#   DELAY=20ms   a fault proxy (bench/faultproxy) adds this to every PUT
#   RATE=N       open loop: N records/s offered, CONNS (16) connections at most
#   MODES="…"    the modes to run (default: none local bucket)
#   ACKCFG="…"   extra lines for the storage section of ack bucket
#                (e.g. "  ack_puts_in_flight: 8")
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
MODES=${MODES:-none local bucket}
OUT=$(mktemp -d /tmp/ingestd-ack.XXXX)
go build -o "$OUT/ingestd" ./cmd/ingestd
go build -o "$OUT/ingest-bench" ./cmd/ingest-bench
go build -o "$OUT/faultproxy" ./bench/faultproxy
VGW=$(command -v versitygw || echo "$(go env GOPATH)/bin/versitygw")
[ -x "$VGW" ] || { echo "versitygw missing: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0" >&2; exit 1; }
S3PORT=18390; PORT=18391
mkdir -p "$OUT/s3"
ROOT_ACCESS_KEY=benchkey ROOT_SECRET_KEY=benchsecret0123456789 "$VGW" --port 127.0.0.1:$S3PORT posix "$OUT/s3" 2>"$OUT/s3.log" &
VPID=$!
ENDPOINT=127.0.0.1:$S3PORT
PPID2=
if [ -n "${DELAY:-}" ]; then
  "$OUT/faultproxy" --listen 127.0.0.1:18392 --target 127.0.0.1:$S3PORT --delay "$DELAY" > "$OUT/proxy.addr" 2>"$OUT/proxy.log" &
  PPID2=$!
  ENDPOINT=127.0.0.1:18392
fi
trap 'kill $VPID ${PPID2:-} 2>/dev/null || true' EXIT
sleep 1
ready() { for _ in $(seq 600); do curl -sf 127.0.0.1:$PORT/readyz >/dev/null && return; sleep 0.05; done; echo "daemon not ready" >&2; exit 1; }
for run in $(seq "$RUNS"); do
  for m in $MODES; do
    D=$OUT/data-$m-$run
    B=b$m$run
    mkdir -p "$OUT/s3/$B"
    {
      echo "node_id: bench"
      if [ "$m" != none ]; then
        printf 'storage:\n  endpoint: %s\n  bucket: %s\n  access_key: benchkey\n  secret_key: benchsecret0123456789\n  ack: %s\n' "$ENDPOINT" "$B" "$m"
        [ "$m" = bucket ] && [ -n "${ACKCFG:-}" ] && printf '%s\n' "$ACKCFG"
      fi
    } > "$OUT/$m.yaml"
    "$OUT/ingestd" serve --data-dir "$D" --config "$OUT/$m.yaml" --listen 127.0.0.1:$PORT 2>>"$OUT/daemon-$m.log" &
    PID=$!; ready
    LOAD=(--duration 15s --warmup 3s --conns "${CONNS:-8}")
    [ -n "${RATE:-}" ] && LOAD=(--rate "$RATE" --duration 20s --warmup 3s --conns "${CONNS:-16}")
    "$OUT/ingest-bench" --url http://127.0.0.1:$PORT --shape "${SHAPE:-unique}" "${LOAD[@]}" --pid $PID --quiet --out "$OUT/$m-$run.json" > /dev/null
    curl -s 127.0.0.1:$PORT/metrics > "$OUT/$m-$run.metrics"
    kill -TERM $PID; wait $PID
    rm -rf "$D"
  done
done
python3 - "$OUT" "$RUNS" "$MODES" <<'PY'
import json, statistics, sys
out, runs, modes = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0
for m in modes:
    rs = [json.load(open(f"{out}/{m}-{i}.json")) for i in range(1, runs + 1)]
    puts = [metric(open(f"{out}/{m}-{i}.metrics").read(), "ingestd_ship_tail_objects_total") for i in range(1, runs + 1)]
    non200 = [sum(v for k, v in r["status"].items() if k != "200") for r in rs]
    rps = [r["records_per_s"] for r in rs]
    print(f"{m:6} records/s {[round(x) for x in rps]} median {round(statistics.median(rps))}"
          f"  p50 {statistics.median(r['latency_ms']['p50'] for r in rs):.1f} p99 {statistics.median(r['latency_ms']['p99'] for r in rs):.1f} ms"
          f"  records per daemon CPU-second {round(statistics.median(r['records_per_s'] / r['daemon_cpu_cores'] for r in rs))}"
          f"  WAL objects {[int(p) for p in puts]}  non-200 answers {non200}")
PY
echo "results in $OUT"
