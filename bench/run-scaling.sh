#!/usr/bin/env bash
# Reproduces the scale-out figures in docs/BENCHMARKS.md ("Shipping and reading
# the bucket"). Needs versitygw (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0).
# Usage: bench/run-scaling.sh [OUTDIR]. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/ingestd-scaling}
RUNS=${RUNS:-3}
VGW=$(command -v versitygw || echo "$(go env GOPATH)/bin/versitygw")
mkdir -p "$OUT"
go build -o "$OUT/ingestd" ./cmd/ingestd
go build -o "$OUT/ingest-bench" ./cmd/ingest-bench
export ROOT_ACCESS_KEY=k0123456789 ROOT_SECRET_KEY=s0123456789abcdef
store() { "$VGW" --port 127.0.0.1:17071 posix "$1" >>"$OUT/vgw.log" 2>&1 & VG=$!; sleep 1; }
conf() { # bucket-dir-independent storage section; $1 = extra YAML
  printf 'node_id: n1\nstorage:\n  endpoint: 127.0.0.1:17071\n  bucket: bench\n  access_key: k0123456789\n  secret_key: s0123456789abcdef\n  interval: 1s\n%b' "$1"
}

# October 2026: 31 compacted days, 15.5 M log records, ≈ 1 GB.
[ -d "$OUT/october" ] || go run ./bench/gendays "$OUT/october" 500000

if [ "${ONLY:-}" != outage ]; then # ONLY=outage: the last part alone
echo "== shipping 31 days to versitygw (from daemon start to the last confirmed object)"
for run in $(seq "$RUNS"); do
  rm -rf "$OUT/ship" && mkdir -p "$OUT/ship/s3/bench" && cp -r "$OUT/october" "$OUT/ship/data" && sync
  store "$OUT/ship/s3"
  conf '  delete_after: -1s\nreport:\n  schedule: "off"\n  partials: false\n' > "$OUT/ship.yaml"
  t0=$(date +%s.%N)
  "$OUT/ingestd" serve --config "$OUT/ship.yaml" --data-dir "$OUT/ship/data" --listen 127.0.0.1:18098 >"$OUT/ship.log" 2>&1 &
  D=$!
  until [ "$(grep -c msg=shipped "$OUT/ship.log")" -ge 31 ]; do sleep 0.1; done
  echo "run $run: $(du -sb "$OUT/ship/s3/bench" | cut -f1) bytes in $(echo "$(date +%s.%N) - $t0" | bc) s"
  kill -TERM $D; wait $D || true; kill $VG; wait $VG 2>/dev/null || true
done

echo "== the October report from local files and from the bucket (ranged reads), full scan"
store "$OUT/ship/s3"
conf '' > "$OUT/cli.yaml"
for run in $(seq "$RUNS"); do
  /usr/bin/time -f "local  %e s, peak RSS %M KB" "$OUT/ingestd" report --config "$OUT/cli.yaml" --data-dir "$OUT/october" \
    --month 2026-10 --out "$OUT/rep-local" --rescan --no-partials 2>&1 | grep -v '^time=' | tail -2
  /usr/bin/time -f "bucket %e s, peak RSS %M KB" "$OUT/ingestd" report --config "$OUT/cli.yaml" --source s3://bench \
    --month 2026-10 --out "$OUT/rep-bucket" --rescan 2>&1 | grep -v '^time=' | tail -2
done
kill $VG; wait $VG 2>/dev/null || true
fi

echo "== backlog during a store outage: 10 past days of 200 k records, one every ≈ 5 s; the store is down for days 3..8"
rm -rf "$OUT/outage" && mkdir -p "$OUT/outage/s3/bench"
store "$OUT/outage/s3"
conf '  delete_after: 0s\nsegments:\n  seal_grace: 0s\n  seal_idle: 2s\nreport:\n  schedule: "off"\n' > "$OUT/outage.yaml"
"$OUT/ingestd" serve --config "$OUT/outage.yaml" --data-dir "$OUT/outage/data" --listen 127.0.0.1:18096 >"$OUT/outage.log" 2>&1 &
D=$!
until curl -sf 127.0.0.1:18096/readyz >/dev/null; do sleep 0.1; done
T0=$(date +%s)
( while kill -0 $D 2>/dev/null; do
    m=$(curl -s 127.0.0.1:18096/metrics | grep -E '^ingestd_ship_(backlog_files|backlog_bytes|oldest_unshipped_age_seconds|upload_errors|uploaded_files) ' |
      awk '{printf "%s=%s ", substr($1,14), $2}' || true)
    echo "t=$(( $(date +%s) - T0 ))s $m"; sleep 1
  done ) > "$OUT/outage-metrics.log" &
for d in $(seq 10); do
  if [ "$d" = 3 ]; then kill $VG; wait $VG 2>/dev/null || true; echo "t=$(( $(date +%s) - T0 ))s store down"; fi
  if [ "$d" = 9 ]; then store "$OUT/outage/s3"; echo "t=$(( $(date +%s) - T0 ))s store up"; fi
  "$OUT/ingest-bench" --url http://127.0.0.1:18096 --until "2026-10-$(printf %02d $((d + 1)))" --days 1 --duration 2s \
    --rate 100000 --warmup 0s --conns 8 --quiet --seed "$d" | grep -E 'records/s|answers'
  sleep 3
done
sleep 30
kill -TERM $D; wait $D || true; kill $VG; wait $VG 2>/dev/null || true
echo "metrics every second: $OUT/outage-metrics.log"
